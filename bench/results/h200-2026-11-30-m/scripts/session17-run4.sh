#!/usr/bin/env bash
# Session 17, run 4: issue 5's validation at the closing commit, in one place: graph-cache GPU check (all cases)
# and compute-sanitizer memcheck + racecheck over its quick cases; walker-cuda racecheck (quick; its check and
# memcheck ran in run 1 at the same kernels) and the walker benchmark (7B refresh). Bundle: tools/gpu-bundle.mjs
# graph-cache walker-cuda, tools/device-env.sh; this script as .gpu-bundle/run4.sh.
set -uo pipefail
source .gpu-bundle/device-env.sh
W=/tmp/run; mkdir -p $W/gc $W/walker
SECONDS=0
trap 'tar cJf $O/run4.tar.xz -C /tmp run' EXIT
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader | tee $W/nvidia-smi.csv
echo "== graph-cache check"; timeout 150 node $G/dist/gpu/check.js "$W/gc/graph-cache-gpu-check.json" > "$W/gc/check.log" 2>&1; echo "check rc=$?"; grep -v "^ok" "$W/gc/check.log" | tail -4; echo "t=$SECONDS s"
for tool in memcheck racecheck; do
  timeout 170 compute-sanitizer --tool $tool --error-exitcode 9 node $G/dist/gpu/check.js "$W/gc/sanitize-$tool.json" --quick > "$W/gc/sanitize-$tool.log" 2>&1
  echo "graph-cache $tool rc=$?"; grep -E "ERROR SUMMARY|RACECHECK SUMMARY|passed" "$W/gc/sanitize-$tool.log" | tail -2; echo "t=$SECONDS s"
done
WC=$B/packages/walker-cuda
echo "== walker-cuda racecheck (quick)"; timeout 150 compute-sanitizer --tool racecheck --error-exitcode 9 node $WC/dist/gpu/check.js $W/walker/racecheck.json --quick > $W/walker/racecheck.log 2>&1; echo "rc=$?"; grep -E "RACECHECK SUMMARY|ERROR SUMMARY|cases passed" $W/walker/racecheck.log | tail -2; echo "t=$SECONDS s"
echo "== walker-cuda bench"; (cd $WC && KVWALK_BENCH_OUT=$W/walker timeout $((540 - SECONDS)) node dist/bench/index.js > $W/walker/bench.log 2>&1); echo "rc=$?"; grep -iE "refresh|7B|bound" $W/walker/bench.log | cut -c1-300 | tail -8; echo "t=$SECONDS s"
