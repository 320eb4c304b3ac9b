#!/usr/bin/env bash
# Session 10, run 1: the deferred write's logits staged in shared memory (both decode kernels' SPILL
# variants). graph-cache check (deferred == fused bit for bit, per-KV-head selection vs twin), engine check
# (deferred == fused in the engine), graph-cache's grouped-query decode rows (store-only overhead), the
# engine's --graph-heads and --graph-write benches (walker + graph beside streaming).
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
export KVWALK_CUBLAS=$(find /usr/local /usr/lib /opt -name 'libcublas.so.*' 2>/dev/null | grep -v Lt | head -1)
SECONDS=0
echo "== graph-cache check"; (cd $G && timeout 150 node dist/gpu/check.js "$O/gc/check.json" > "$O/gc/check.log" 2>&1); grep -vE "^ok" "$O/gc/check.log" | tail -6; echo "t=$SECONDS s"
TAG=s10-run1 timeout 200 bash $B/engine-run.sh check 2>&1 | grep -vE "^ok|^  " | tail -6; echo "t=$SECONDS s"
cp out/*.tar.gz "$O/" 2>/dev/null
mkdir -p "$O/engine"
echo "== engine bench --graph-heads"; (cd $B/packages/runtime && KVWALK_BENCH_OUT="$O/engine" timeout 150 node dist/bench/engine.js --graph-heads > "$O/engine/bench-heads.log" 2>&1); grep -E "^evict|rror" "$O/engine/bench-heads.log" | tail -20; echo "t=$SECONDS s"
echo "== engine bench --graph-write"; (cd $B/packages/runtime && KVWALK_BENCH_OUT="$O/engine" timeout 150 node dist/bench/engine.js --graph-write > "$O/engine/bench-write.log" 2>&1); grep -E "^evict|rror" "$O/engine/bench-write.log" | tail -30; echo "t=$SECONDS s"
echo "== graph-cache gqa bench"; (cd $G && KVWALK_BENCH_ONLY=gqa KVWALK_BENCH_OUT="$O/gc" timeout $((580 - SECONDS)) node dist/bench/index.js > "$O/gc/bench.log" 2>&1); grep -E "^\[|gqa 32/8|rror" "$O/gc/bench.log" | tail -40; echo "t=$SECONDS s"
cd "$O" && tar czf gc-engine.tar.gz gc engine && rm -rf gc engine; ls "$O"
