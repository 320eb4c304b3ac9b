#!/usr/bin/env bash
# Session 8, run 7: grouped decode kernel with fewer instructions per key (the QG dot products reduced by
# a halving exchange, the same sum tree; the online-softmax rescale skipped when no running max grew):
# graph-cache check (grouped cases vs the twin, deferred = fused bitwise), GQA batch 32 x 896 bench rows.
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
SECONDS=0
echo "== graph-cache check"; timeout 100 node $G/dist/gpu/check.js "$O/gc/graph-cache-gpu-check.json" > "$O/gc/check.log" 2>&1
grep -v "^ok" "$O/gc/check.log" | tail -4; echo "t=$SECONDS s"
echo "== graph-cache GQA bench"; (cd $G && KVWALK_BENCH_ONLY=gqa32 KVWALK_BENCH_OUT="$O/gc" timeout 90 node dist/bench/index.js > "$O/gc/bench.log" 2>&1); grep -E "^\[|rror" "$O/gc/bench.log" | tail -16; echo "t=$SECONDS s"
