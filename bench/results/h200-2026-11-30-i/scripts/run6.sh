#!/usr/bin/env bash
# Session 13 run 6, the final code: `kvwalk generate` with pagerank-top4 and the walker on the fixture
# model, the eviction table at 4k (capacity shape, both models) and --shape-ab for Llama-2-7B, on a
# fresh device (more samples of the batch-32 ratio).
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
SECONDS=0
mkdir -p "$O/engine"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv > "$O/engine/nvidia-smi.csv" 2>&1
F='s/ \(on its own stream\)//; s/compaction ([0-9.]+) ms\/step, walker ([0-9.]+) ms\/step/c \1, w \2/'
for pol in pagerank-top4 walker; do
  echo "== kvwalk generate --policy $pol"; (cd $R && timeout 60 node dist/cli.js generate --model "$KVWALK_SHARED/models/fixture-lm" --capacity 256 --policy $pol --budget 0.25 --max-new-tokens 400 --no-eos "The history of the city" > "$O/engine/cli-$pol.log" 2>&1); echo "rc=$?"; tail -2 "$O/engine/cli-$pol.log" | cut -c1-300; echo "t=$SECONDS s"
done
echo "== eviction table 4k (capacity shape)"; (cd $R && KVWALK_EVICT_CONTEXTS=4096 KVWALK_BENCH_OUT="$O/engine" timeout 200 node dist/bench/engine.js --no-gemm --evict-only --steps-only > "$O/engine/bench-evict.log" 2>&1); echo "rc=$?"; grep -E "^evict|rror" "$O/engine/bench-evict.log" | grep -E "B 32|rror" | sed -E "$F"; echo "t=$SECONDS s"
mkdir -p "$O/engine/ab"
echo "== shape A/B, Llama-2-7B"; (cd $R && KVWALK_BENCH_PRESETS=llama2-7b KVWALK_BENCH_OUT="$O/engine/ab" timeout 150 node dist/bench/engine.js --no-gemm --shape-ab > "$O/engine/ab/bench-shape-ab.log" 2>&1); echo "rc=$?"; grep -E "^evict|rror" "$O/engine/ab/bench-shape-ab.log" | grep -E "B 32|rror" | sed -E "$F"; echo "t=$SECONDS s"
cd "$O" && tar czf engine.tar.gz engine && rm -rf engine gc; ls "$O"
