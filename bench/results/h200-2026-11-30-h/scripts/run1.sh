#!/usr/bin/env bash
# Prepared in session 11 for session 12's first device run: the rope_append / residual_rmsnorm candidates of
# branch rope-parallel-candidate (rope over (token, head-unit) blocks; then rmsnorm at 1024
# threads). Bundle: runtime + graph-cache with the fixture (commit = branch head), carry [".gpu-bundle"].
# Copy to bench/results/<new folder>/scripts/ and .gpu-bundle/run.sh.
# Session 11 run 7 (bench/results/h200-2026-11-30-g/run7/engine/step-kernels.json) is the baseline:
# rope_append 11.7 us x 32, residual_rmsnorm 4.8 us x 66 per Llama-2-7B batch-32 step.
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
export KVWALK_SHARED=$PWD/$B/shared
export KVWALK_CUBLAS=$(find /usr/local /usr/lib /opt -name 'libcublas.so.*' 2>/dev/null | grep -v Lt | head -1)
SECONDS=0
mkdir -p "$O/engine"
R=$PWD/$B/packages/runtime
echo "== runtime check, all"; (cd $R && timeout 200 node dist/gpu/check.js "$O/engine/check.json" > "$O/engine/check.log" 2>&1); grep -vE "^ok|^  " "$O/engine/check.log" | tail -5; echo "t=$SECONDS s"
echo "== ncu, one step"; (cd $R && timeout 170 ncu --clock-control none --cache-control none --metrics gpu__time_duration.sum --csv --launch-skip 6000 --launch-count 700 node dist/bench/step-kernels.js streaming 32 > "$O/engine/ncu-streaming.csv" 2> "$O/engine/ncu-streaming.err"); grep -E "rope_append|residual_rmsnorm" "$O/engine/ncu-streaming.csv" | head -4 | cut -c1-300; echo "t=$SECONDS s"
echo "== split-K GEMM rows"; (cd $R && KVWALK_BENCH_OUT="$O/engine" timeout 120 node dist/bench/engine.js --no-gemm --split-k --gemm-only > "$O/engine/bench-splitk.log" 2>&1); grep -E "^split-K|rror" "$O/engine/bench-splitk.log" | cut -c1-120; echo "t=$SECONDS s"
echo "== eviction table"; (cd $R && KVWALK_BENCH_OUT="$O/engine" timeout $((540 - SECONDS)) node dist/bench/engine.js --no-gemm --evict-only --steps-only > "$O/engine/bench-evict.log" 2>&1); grep -E "^evict|rror" "$O/engine/bench-evict.log" | sed -E 's/ \(on its own stream\)//; s/compaction ([0-9.]+) ms\/step, walker ([0-9.]+) ms\/step/c \1, w \2/' | tail -64; echo "t=$SECONDS s"
cd "$O" && tar czf engine.tar.gz engine && rm -rf engine gc; ls "$O"
