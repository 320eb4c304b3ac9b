#!/usr/bin/env bash
# Session 7, run 5 (final; native code as run 3, 151d754): graph-cache check, eviction bench at 4k and 16k,
# engine --graph-write (both presets), engine --grouped (Mistral-7B).
set -uo pipefail
cd "$(dirname "$0")/.."
B=.gpu-bundle
bash $B/unpack.sh
export PATH=$PWD/$B/bin:$PATH
export KVWALK_COMMIT=$(cat $B/COMMIT)
O=${OUT:-$PWD/out}; mkdir -p "$O/gc"
G=$B/packages/graph-cache
SECONDS=0
echo "== graph-cache check"; timeout 120 node $G/dist/gpu/check.js "$O/gc/graph-cache-gpu-check.json" > "$O/gc/check.log" 2>&1; ok=$?
grep -v "^ok" "$O/gc/check.log" | tail -4; echo "t=$SECONDS s"
KVWALK_EVICT_CONTEXTS=4096 TAG=evict timeout 90 bash $B/engine-run.sh bench --no-gemm --evict-only --steps-only 2>&1 | grep -E "^evict |wrote|rror" | tail -32
echo "t=$SECONDS s"
TAG=graph-write timeout 60 bash $B/engine-run.sh bench --no-gemm --graph-write 2>&1 | grep -E "^evict |wrote|rror" | tail -24
echo "t=$SECONDS s"
TAG=grouped timeout 60 bash $B/engine-run.sh bench --no-gemm --grouped 2>&1 | grep -E "^evict |wrote|rror" | tail -20
echo "t=$SECONDS s"
KVWALK_EVICT_CONTEXTS=16384 TAG=evict-16k timeout ${T16:-100} bash $B/engine-run.sh bench --no-gemm --evict-only --steps-only 2>&1 | grep -E "^evict |wrote|rror" | tail -32
echo "t=$SECONDS s"
