#!/usr/bin/env bash
# Session 12 run 4: validation of the shipped code after the prompt-scoring launcher refactor (host code
# only; the kernels compile to the same registers): full engine check, memcheck of the prompt-scoring and
# lazy-write cases, racecheck of the kernel cases (the parallel RoPE + append kernel's shared cos/sin table);
# then the walker's refresh interval against its step cost (--refresh-sweep).
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
export KVWALK_SHARED=$PWD/$B/shared
export KVWALK_CUBLAS=$(find /usr/local /usr/lib /opt -name 'libcublas.so.*' 2>/dev/null | grep -v Lt | head -1)
SECONDS=0
mkdir -p "$O/engine"
R=$PWD/$B/packages/runtime
echo "== runtime check, all"; (cd $R && timeout 200 node dist/gpu/check.js "$O/engine/check.json" > "$O/engine/check.log" 2>&1); echo "rc=$?"; grep -vE "^ok|^  " "$O/engine/check.log" | tail -6; echo "t=$SECONDS s"
for only in prompt-score lazy; do
  echo "== memcheck, $only"; (cd $R && KVWALK_CHECK_ONLY=$only timeout 150 compute-sanitizer --tool memcheck --error-exitcode 9 node dist/gpu/check.js "$O/engine/memcheck-$only.json" --quick > "$O/engine/memcheck-$only.log" 2>&1); echo "rc=$?"; grep -E "ERROR SUMMARY|cases passed" "$O/engine/memcheck-$only.log" | tail -2; echo "t=$SECONDS s"
done
echo "== racecheck, kernels"; (cd $R && KVWALK_GEMM=builtin KVWALK_CHECK_ONLY=kernels timeout 240 compute-sanitizer --tool racecheck --error-exitcode 9 node dist/gpu/check.js "$O/engine/racecheck-kernels.json" --quick > "$O/engine/racecheck-kernels.log" 2>&1); echo "rc=$?"; grep -E "RACECHECK SUMMARY|ERROR SUMMARY|cases passed" "$O/engine/racecheck-kernels.log" | tail -2; echo "t=$SECONDS s"
echo "== refresh sweep"; (cd $R && KVWALK_BENCH_OUT="$O/engine" timeout $((560 - SECONDS)) node dist/bench/engine.js --no-gemm --refresh-sweep > "$O/engine/bench-refresh.log" 2>&1); echo "rc=$?"; grep -E "^evict|rror" "$O/engine/bench-refresh.log" | sed -E 's/ \(on its own stream\)//; s/compaction ([0-9.]+) ms\/step, walker ([0-9.]+) ms\/step/c \1, w \2/'; echo "t=$SECONDS s"
cd "$O" && tar czf engine.tar.gz engine && rm -rf engine gc; ls "$O"
