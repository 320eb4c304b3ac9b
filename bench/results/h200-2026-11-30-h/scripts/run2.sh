#!/usr/bin/env bash
# Session 12 run 2: decode-GEMM tuning (cuBLASLt candidates timed per shape, default on) and the
# 4-block cluster residual_rmsnorm, on top of run 1's parallel rope_append.
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
export KVWALK_SHARED=$PWD/$B/shared
export KVWALK_CUBLAS=$(find /usr/local /usr/lib /opt -name 'libcublas.so.*' 2>/dev/null | grep -v Lt | head -1)
SECONDS=0
mkdir -p "$O/engine"
R=$PWD/$B/packages/runtime
echo "== runtime check, all"; (cd $R && timeout 220 node dist/gpu/check.js "$O/engine/check.json" > "$O/engine/check.log" 2>&1); grep -vE "^ok|^  " "$O/engine/check.log" | tail -8; grep -E "tuned|residual rmsnorm|rmsnorm T=(3|2|257) " "$O/engine/check.log" | cut -c1-220 | head -16; echo "t=$SECONDS s"
echo "== split-K GEMM rows, untuned and tuned"; (cd $R && KVWALK_BENCH_OUT="$O/engine" timeout 150 node dist/bench/engine.js --no-gemm --split-k --gemm-only > "$O/engine/bench-splitk.log" 2>&1); grep -E "^split-K|rror" "$O/engine/bench-splitk.log" | grep "M 32" | cut -c1-120; echo "t=$SECONDS s"
echo "== tuning off vs on"; (cd $R && KVWALK_BENCH_OUT="$O/engine" timeout 150 node dist/bench/engine.js --no-gemm --tune-ab > "$O/engine/bench-tune.log" 2>&1); grep -E "^==|^evict|rror" "$O/engine/bench-tune.log" | sed -E 's/ \(on its own stream\)//; s/compaction ([0-9.]+) ms\/step, walker ([0-9.]+) ms\/step/c \1, w \2/'; echo "t=$SECONDS s"
echo "== ncu, one step"; (cd $R && timeout 120 ncu --clock-control none --cache-control none --metrics gpu__time_duration.sum --csv --launch-skip 9000 --launch-count 700 node dist/bench/step-kernels.js streaming 32 > "$O/engine/ncu-streaming.csv" 2> "$O/engine/ncu-streaming.err"); grep -cE "rope_append" "$O/engine/ncu-streaming.csv"; echo "t=$SECONDS s"
echo "== eviction table"; (cd $R && KVWALK_BENCH_OUT="$O/engine" timeout $((560 - SECONDS)) node dist/bench/engine.js --no-gemm --evict-only --steps-only > "$O/engine/bench-evict.log" 2>&1); grep -E "^evict|rror" "$O/engine/bench-evict.log" | grep "ctx 4096" | sed -E 's/ \(on its own stream\)//; s/compaction ([0-9.]+) ms\/step, walker ([0-9.]+) ms\/step/c \1, w \2/'; echo "t=$SECONDS s"
cd "$O" && tar czf engine.tar.gz engine && rm -rf engine gc; ls "$O"
