#!/usr/bin/env bash
# Session 12 run 3: rope_append / residual_rmsnorm / swiglu as programmatic dependent launches (rope's
# cos/sin table built before the wait, rope triggering the decode attention early), on top of run 1's
# parallel rope_append. Check, memcheck of the kernel cases, PDL off/on, lazy graph write (MHA row), table.
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
export KVWALK_SHARED=$PWD/$B/shared
export KVWALK_CUBLAS=$(find /usr/local /usr/lib /opt -name 'libcublas.so.*' 2>/dev/null | grep -v Lt | head -1)
SECONDS=0
mkdir -p "$O/engine"
R=$PWD/$B/packages/runtime
echo "== runtime check, all"; (cd $R && timeout 200 node dist/gpu/check.js "$O/engine/check.json" > "$O/engine/check.log" 2>&1); echo "rc=$?"; grep -vE "^ok|^  " "$O/engine/check.log" | tail -6; echo "t=$SECONDS s"
echo "== memcheck, kernel cases"; (cd $R && KVWALK_CHECK_ONLY=kernels timeout 120 compute-sanitizer --tool memcheck --error-exitcode 9 node dist/gpu/check.js "$O/engine/memcheck-kernels.json" --quick > "$O/engine/memcheck-kernels.log" 2>&1); echo "rc=$?"; grep -E "ERROR SUMMARY|cases passed" "$O/engine/memcheck-kernels.log" | tail -3; echo "t=$SECONDS s"
echo "== PDL off vs on"; (cd $R && KVWALK_BENCH_OUT="$O/engine" timeout 150 node dist/bench/engine.js --no-gemm --pdl-ab > "$O/engine/bench-pdl.log" 2>&1); grep -E "^==|^evict|rror" "$O/engine/bench-pdl.log" | sed -E 's/ \(on its own stream\)//; s/compaction ([0-9.]+) ms\/step, walker ([0-9.]+) ms\/step/c \1, w \2/'; echo "t=$SECONDS s"
echo "== graph lazy"; (cd $R && KVWALK_BENCH_OUT="$O/engine" timeout 100 node dist/bench/engine.js --no-gemm --graph-lazy > "$O/engine/bench-lazy.log" 2>&1); grep -E "llama|rror" "$O/engine/bench-lazy.log" | sed -E 's/ \(on its own stream\)//; s/compaction ([0-9.]+) ms\/step, walker ([0-9.]+) ms\/step/c \1, w \2/' | tail -12; echo "t=$SECONDS s"
echo "== eviction table"; (cd $R && KVWALK_BENCH_OUT="$O/engine" timeout $((570 - SECONDS)) node dist/bench/engine.js --no-gemm --evict-only --steps-only > "$O/engine/bench-evict.log" 2>&1); echo "rc=$?"; grep -E "^evict|rror" "$O/engine/bench-evict.log" | grep "ctx 4096" | sed -E 's/ \(on its own stream\)//; s/compaction ([0-9.]+) ms\/step, walker ([0-9.]+) ms\/step/c \1, w \2/'; echo "t=$SECONDS s"
cd "$O" && tar czf engine.tar.gz engine && rm -rf engine gc; ls "$O"
