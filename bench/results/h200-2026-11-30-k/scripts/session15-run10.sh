#!/usr/bin/env bash
# Session 15, run 10: the graph node written by four lanes of the graph warp (working tree, "nw": fb8f770 with write_top4_node_warp, one entry per lane, bit-identical): graph-cache GPU check, memcheck
# and racecheck over the quick cases, A/B against HEAD's build (_old: 40d6b1e) through the addon
# (tools/decode-ab.mjs; per-head Llama and Mistral heads, the grouped kernel), and attribution builds of
# tools/decode-trace: nw against tm (fb8f770), batch 1 x 4k, 1 x 16k and 8 x 4k.
set -uo pipefail
source .gpu-bundle/device-env.sh
W=/tmp/run; mkdir -p $W/gc
SECONDS=0
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee $W/nvidia-smi.csv
echo "== graph-cache check"; timeout 150 node $G/dist/gpu/check.js "$W/gc/graph-cache-gpu-check.json" > "$W/gc/check.log" 2>&1; grep -v "^ok" "$W/gc/check.log" | tail -3; echo "t=$SECONDS s"
for tool in memcheck racecheck; do
  timeout 170 compute-sanitizer --tool $tool --error-exitcode 9 node $G/dist/gpu/check.js "$W/gc/sanitize-$tool.json" --quick > "$W/gc/sanitize-$tool.log" 2>&1
  echo "graph-cache $tool rc=$?"; grep -E "ERROR SUMMARY|RACECHECK SUMMARY|passed" "$W/gc/sanitize-$tool.log" | tail -2
done; echo "t=$SECONDS s"
export AB_CASES='[{"batch":1,"length":4096,"writeGraph":0},{"batch":1,"length":4096,"writeGraph":1},{"batch":1,"length":16384,"writeGraph":1},{"batch":1,"length":32768,"writeGraph":1},{"batch":8,"length":4096,"writeGraph":1},{"batch":32,"length":4096,"writeGraph":1},{"batch":1,"length":4096,"writeGraph":0,"numKvHeads":8},{"batch":1,"length":4096,"writeGraph":1,"numKvHeads":8},{"batch":32,"length":896,"writeGraph":0,"numKvHeads":8,"grouped":1},{"batch":32,"length":896,"writeGraph":1,"numKvHeads":8,"grouped":1}]'
AB_ROUNDS=7 AB_OUT="$W/ab-run10.json" timeout 200 node tools/decode-ab.mjs old=$B/packages/_old/graph-cache/dist new=$G/dist 2>&1 | tail -14; echo "t=$SECONDS s"
V="tm nw"
for v in $V; do
  mkdir -p /tmp/dt/$v
  for b in decode_time decode_trace; do xz -dc .gpu-carry/dt/$v/$b.xz > /tmp/dt/$v/$b && chmod +x /tmp/dt/$v/$b; done
  timeout 60 /tmp/dt/$v/decode_trace 1 4096 0 32 5 100 > $W/trace-$v-1x4096.json || echo "trace $v failed"
done
for shape in "1 4096" "1 16384" "8 4096"; do tag=$(echo $shape | tr ' ' x); for r in 1 2 3; do for v in $V; do
  timeout 60 /tmp/dt/$v/decode_time $shape 0 32 15 200 > $W/time-$v-$tag-r$r.json; echo "$v $tag r$r $(cut -c60-200 $W/time-$v-$tag-r$r.json)"
done; done; done
echo "t=$SECONDS s"
tar cJf $O/run10.tar.xz -C /tmp run
