#!/usr/bin/env bash
# Session 13 run 2: the 20% budget as the cache's capacity (evictionShape "cap", the new default) vs
# sessions 4-12's shape ("slack": compacted to 20%, 64 slots above it), every policy, both models, 4k;
# Llama-2-7B twice; then the eviction table (4k and 16k) on the new default.
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
SECONDS=0
mkdir -p "$O/engine"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv > "$O/engine/nvidia-smi.csv" 2>&1
F='s/ \(on its own stream\)//; s/compaction ([0-9.]+) ms\/step, walker ([0-9.]+) ms\/step/c \1, w \2/'
echo "== shape A/B"; (cd $R && KVWALK_BENCH_OUT="$O/engine" timeout 240 node dist/bench/engine.js --no-gemm --shape-ab > "$O/engine/bench-shape-ab.log" 2>&1); echo "rc=$?"; grep -E "^evict|rror" "$O/engine/bench-shape-ab.log" | grep -E "B 32|rror" | sed -E "$F"; echo "t=$SECONDS s"
mkdir -p "$O/engine/again"
echo "== shape A/B again, Llama-2-7B"; (cd $R && KVWALK_BENCH_PRESETS=llama2-7b KVWALK_BENCH_OUT="$O/engine/again" timeout 120 node dist/bench/engine.js --no-gemm --shape-ab > "$O/engine/again/bench-shape-ab.log" 2>&1); echo "rc=$?"; grep -E "^evict|rror" "$O/engine/again/bench-shape-ab.log" | grep -E "B 32|rror" | sed -E "$F"; echo "t=$SECONDS s"
echo "== eviction table (cap)"; (cd $R && KVWALK_BENCH_OUT="$O/engine" timeout $((560 - SECONDS)) node dist/bench/engine.js --no-gemm --evict-only --steps-only > "$O/engine/bench-evict.log" 2>&1); echo "rc=$?"; grep -E "^evict|rror" "$O/engine/bench-evict.log" | sed -E "$F"; echo "t=$SECONDS s"
cd "$O" && tar czf engine.tar.gz engine && rm -rf engine gc; ls "$O"
