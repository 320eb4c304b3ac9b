#!/usr/bin/env bash
# Session 16, run 4: the landing candidate (working tree, "fin": the split blocks store every key group's
# top-4 list, no block merge; the tail's graph warp loads four lists per lane (16-byte loads), merges them
# as a tree and by a redux.sync tournament, takes lse2 from warp 0 (bar.arrive / bar.sync) and writes the
# node with four lanes; the reducers write output pairs): graph-cache GPU check, memcheck and racecheck over
# the quick cases, A/B against HEAD's build before session 16 (_old: 1dac501) through the addon
# (tools/decode-ab.mjs), and tools/decode-trace: glho (run 3), glv (glho with 16-byte list loads, built with
# the experiment switches) and fin (the landing candidate, no switches).
set -uo pipefail
source .gpu-bundle/device-env.sh
W=/tmp/run; mkdir -p $W/gc
SECONDS=0
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee $W/nvidia-smi.csv
echo "== graph-cache check"; timeout 150 node $G/dist/gpu/check.js "$W/gc/graph-cache-gpu-check.json" > "$W/gc/check.log" 2>&1; echo "check rc=$?"; grep -v "^ok" "$W/gc/check.log" | tail -4; echo "t=$SECONDS s"
for tool in memcheck racecheck; do
  timeout 170 compute-sanitizer --tool $tool --error-exitcode 9 node $G/dist/gpu/check.js "$W/gc/sanitize-$tool.json" --quick > "$W/gc/sanitize-$tool.log" 2>&1
  rc=$?; echo "graph-cache $tool rc=$rc"; grep -E "ERROR SUMMARY|RACECHECK SUMMARY|passed" "$W/gc/sanitize-$tool.log" | tail -2
  if [ $tool = racecheck ] && [ $rc = 0 ]; then rm -f "$W/gc/sanitize-racecheck.log"; fi
done; echo "t=$SECONDS s"
export AB_CASES='[{"batch":1,"length":4096,"writeGraph":0},{"batch":1,"length":4096,"writeGraph":1},{"batch":1,"length":16384,"writeGraph":0},{"batch":1,"length":16384,"writeGraph":1},{"batch":1,"length":32768,"writeGraph":1},{"batch":8,"length":4096,"writeGraph":0},{"batch":8,"length":4096,"writeGraph":1},{"batch":32,"length":4096,"writeGraph":0},{"batch":32,"length":4096,"writeGraph":1},{"batch":1,"length":4096,"writeGraph":0,"numKvHeads":8},{"batch":1,"length":4096,"writeGraph":1,"numKvHeads":8},{"batch":32,"length":896,"writeGraph":0,"numKvHeads":8,"grouped":1},{"batch":32,"length":896,"writeGraph":1,"numKvHeads":8,"grouped":1}]'
AB_ROUNDS=7 AB_OUT="$W/ab-run4.json" timeout 240 node tools/decode-ab.mjs old=$B/packages/_old/graph-cache/dist new=$G/dist 2>&1 | tail -26; echo "t=$SECONDS s"
V="glho glv fin"
for v in $V; do
  mkdir -p /tmp/dt/$v
  for b in decode_time decode_trace; do xz -dc .gpu-carry/dt/$v/$b.xz > /tmp/dt/$v/$b && chmod +x /tmp/dt/$v/$b; done
  timeout 60 /tmp/dt/$v/decode_trace 1 4096 0 32 5 100 > $W/trace-$v-1x4096.json || echo "trace $v failed"
done
for shape in "1 4096" "1 16384" "8 4096" "32 4096"; do tag=$(echo $shape | tr ' ' x); n=3; [ "$shape" = "32 4096" ] && n=2; for r in $(seq $n); do for v in $V; do
  timeout 60 /tmp/dt/$v/decode_time $shape 0 32 15 200 > $W/time-$v-$tag-r$r.json; echo "$v $tag r$r $(cut -c60-200 $W/time-$v-$tag-r$r.json)"
done; done; done
echo "t=$SECONDS s"
tar cJf $O/run4.tar.xz -C /tmp run
