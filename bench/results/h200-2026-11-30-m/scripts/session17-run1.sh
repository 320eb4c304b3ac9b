#!/usr/bin/env bash
# Session 17, run 1: issue 5's last figure. (1) tools/decode-ab.mjs with AB_INTERLEAVE=1: the landed kernel with
# and without the graph write in alternation, every round running every case (batch 1 x 4k, 1 x 16k, 8 x 4k;
# 15 rounds of 200 PDL launches); (2) the graph-cache decode bench after session 16's sampling fix, short
# protocol (KVWALK_BENCH_ONLY=decode) then the full bench (every shape, GQA, split sweep, layout probe,
# compaction, writer); (3) walker-cuda's GPU check and memcheck (quick) after the binding's causal-sweep
# allocation change and the cached opt-in shared-memory query; (4) the engine's GPU check (runtime compiles
# walker.cu). Bundle: tools/gpu-bundle.mjs --skip-dep onnxruntime-node --with-data models/fixture-lm runtime
# graph-cache walker-cuda; tools/engine-device-run.sh as .gpu-bundle/engine-run.sh; this script as
# .gpu-bundle/run1.sh.
set -uo pipefail
source .gpu-bundle/device-env.sh
W=/tmp/run; mkdir -p $W
SECONDS=0
trap 'tar cJf $O/run1.tar.xz -C /tmp run' EXIT
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader | tee $W/nvidia-smi.csv
echo "== decode A/B, interleaved"
AB_INTERLEAVE=1 AB_ROUNDS=15 AB_OUT=$W/ab-interleave.json AB_CASES='[{"batch":1,"length":4096,"writeGraph":0},{"batch":1,"length":4096,"writeGraph":1},{"batch":1,"length":16384,"writeGraph":0},{"batch":1,"length":16384,"writeGraph":1},{"batch":8,"length":4096,"writeGraph":0},{"batch":8,"length":4096,"writeGraph":1}]' timeout 90 node tools/decode-ab.mjs landed=$G/dist 2>&1 | tee $W/ab-interleave.log
echo "second pass, same cases"
AB_INTERLEAVE=1 AB_ROUNDS=15 AB_OUT=$W/ab-interleave-2.json AB_CASES='[{"batch":1,"length":4096,"writeGraph":1},{"batch":1,"length":4096,"writeGraph":0},{"batch":1,"length":16384,"writeGraph":1},{"batch":1,"length":16384,"writeGraph":0},{"batch":8,"length":4096,"writeGraph":1},{"batch":8,"length":4096,"writeGraph":0}]' timeout 90 node tools/decode-ab.mjs landed=$G/dist 2>&1 | tee $W/ab-interleave-2.log
echo "t=$SECONDS s"
echo "== decode bench (decode)"; mkdir -p $W/bench-decode; KVWALK_BENCH_ONLY=decode KVWALK_BENCH_OUT=$W/bench-decode timeout 120 node $G/dist/bench/index.js > $W/bench-decode.log 2>&1; echo "rc=$?"; grep -vE "^\[" $W/bench-decode.log | cut -c1-700 | tail -6; echo "t=$SECONDS s"
echo "== graph-cache bench (full)"; mkdir -p $W/bench-full; KVWALK_BENCH_OUT=$W/bench-full timeout 240 node $G/dist/bench/index.js > $W/bench-full.log 2>&1; echo "rc=$?"; grep -cE "^\[" $W/bench-full.log; grep -vE "^\[" $W/bench-full.log | cut -c1-400 | tail -14; echo "t=$SECONDS s"
WC=$B/packages/walker-cuda
echo "== walker-cuda check"; timeout 100 node $WC/dist/gpu/check.js $W/walker-check.json > $W/walker-check.log 2>&1; echo "rc=$?"; grep -vE "^ok|^  " $W/walker-check.log | tail -3; echo "t=$SECONDS s"
if [ $SECONDS -lt 420 ]; then
  echo "== walker-cuda memcheck (quick)"; timeout $((520 - SECONDS)) compute-sanitizer --tool memcheck --error-exitcode 9 node $WC/dist/gpu/check.js $W/walker-memcheck.json --quick > $W/walker-memcheck.log 2>&1; echo "rc=$?"; grep -E "ERROR SUMMARY|cases passed" $W/walker-memcheck.log | tail -2; echo "t=$SECONDS s"
fi
