#!/usr/bin/env bash
# Session 16, run 5: the landed form (working tree, "fine": run 4's fin with lse2 computed by the graph warp
# itself in the reducers' order, since racecheck flagged fin's shared-memory hand-off): graph-cache GPU check,
# memcheck and racecheck over the quick cases, A/B against the build before session 16 (_old: 1dac501)
# through the addon, the package's decode benchmark at every MHA shape (KVWALK_BENCH_ONLY=decode-shapes:
# bandwidth against a device-to-device memcpy measured in the same run), and tools/decode-trace: fin (run 4)
# against fine.
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
AB_ROUNDS=7 AB_OUT="$W/ab-run5.json" timeout 240 node tools/decode-ab.mjs old=$B/packages/_old/graph-cache/dist new=$G/dist 2>&1 | tail -26; echo "t=$SECONDS s"
echo "== decode bench (decode-shapes)"; KVWALK_BENCH_ONLY=decode-shapes KVWALK_BENCH_OUT=$W timeout 240 node $G/dist/bench/index.js > $W/bench.log 2>&1; echo "bench rc=$?"; grep -E "memcpy|b=" $W/bench.log | cut -c1-400 | head -24; echo "t=$SECONDS s"
V="fin fine"
for v in $V; do
  mkdir -p /tmp/dt/$v
  for b in decode_time decode_trace; do xz -dc .gpu-carry/dt/$v/$b.xz > /tmp/dt/$v/$b && chmod +x /tmp/dt/$v/$b; done
  timeout 60 /tmp/dt/$v/decode_trace 1 4096 0 32 5 100 > $W/trace-$v-1x4096.json || echo "trace $v failed"
done
for shape in "1 4096" "1 16384" "8 4096"; do tag=$(echo $shape | tr ' ' x); for r in 1 2 3; do for v in $V; do
  timeout 60 /tmp/dt/$v/decode_time $shape 0 32 15 200 > $W/time-$v-$tag-r$r.json; echo "$v $tag r$r $(cut -c60-200 $W/time-$v-$tag-r$r.json)"
done; done; done
echo "t=$SECONDS s"
tar cJf $O/run5.tar.xz -C /tmp run
