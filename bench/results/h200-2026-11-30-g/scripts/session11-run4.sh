#!/usr/bin/env bash
# Session 11, run 4: the shipped defaults after the lazy graph write (graphWrite auto = lazy for the walker's
# graphs per KV head on grouped-query models): the eviction table's decode steps (every policy, Llama-2-7B
# and Mistral-7B, 4k and 16k, batch 1 / 8 / 32) and the attribution of the walker's step time (batch 32).
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
export KVWALK_SHARED=$PWD/$B/shared
export KVWALK_CUBLAS=$(find /usr/local /usr/lib /opt -name 'libcublas.so.*' 2>/dev/null | grep -v Lt | head -1)
SECONDS=0
mkdir -p "$O/engine"
R=$B/packages/runtime
echo "== engine bench --attribution"; (cd $R && KVWALK_BENCH_OUT="$O/engine" timeout 90 node dist/bench/engine.js --no-gemm --attribution > "$O/engine/bench-attribution.log" 2>&1); grep -E "^attribution|rror" "$O/engine/bench-attribution.log"; echo "t=$SECONDS s"
echo "== eviction table"; (cd $R && KVWALK_BENCH_OUT="$O/engine" timeout $((480 - SECONDS)) node dist/bench/engine.js --no-gemm --evict-only --steps-only > "$O/engine/bench-evict.log" 2>&1); grep -E "^evict|rror" "$O/engine/bench-evict.log" | sed -E 's/ \(on its own stream\)//; s/compaction ([0-9.]+) ms\/step, walker ([0-9.]+) ms\/step/c \1, w \2/' | tail -64; echo "t=$SECONDS s"
cd "$O" && tar czf engine.tar.gz engine && rm -rf engine gc; ls "$O"
