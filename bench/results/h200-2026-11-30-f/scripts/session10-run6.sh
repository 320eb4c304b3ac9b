#!/usr/bin/env bash
# Session 10, run 6: the grouped kernel's logit-storing variant (the deferred graph write) with
# software-pipelined tiles. graph-cache check (deferred == fused bit for bit on the grouped kernel,
# per-KV-head cases vs the twin), the batch-32 grouped-query rows (KVWALK_BENCH_ONLY=gqa32), then the
# engine's --graph-heads bench (Mistral-7B walker beside streaming).
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
export KVWALK_CUBLAS=$(find /usr/local /usr/lib /opt -name 'libcublas.so.*' 2>/dev/null | grep -v Lt | head -1)
SECONDS=0
echo "== graph-cache check"; (cd $G && timeout 120 node dist/gpu/check.js "$O/gc/check.json" > "$O/gc/check.log" 2>&1); grep -vE "^ok" "$O/gc/check.log" | tail -4; echo "t=$SECONDS s"
echo "== graph-cache gqa32 bench"; (cd $G && KVWALK_BENCH_ONLY=gqa32 KVWALK_BENCH_OUT="$O/gc" timeout 120 node dist/bench/index.js > "$O/gc/bench.log" 2>&1); grep -E "^\[|gqa 32/8|rror" "$O/gc/bench.log" | tail -20; echo "t=$SECONDS s"
mkdir -p "$O/engine"
echo "== engine bench --graph-heads"; (cd $B/packages/runtime && KVWALK_BENCH_OUT="$O/engine" timeout 60 node dist/bench/engine.js --graph-heads > "$O/engine/bench-heads.log" 2>&1); grep -E "^evict|rror" "$O/engine/bench-heads.log" | tail -20; echo "t=$SECONDS s"
cd "$O" && tar czf gc-engine.tar.gz gc engine && rm -rf gc engine; ls "$O"
