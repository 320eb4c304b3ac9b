#!/usr/bin/env bash
# Session 6 final validation: graph-cache check + sanitizers + bench, engine check, eviction bench at 4k.
set -uo pipefail
cd "$(dirname "$0")/.."
B=.gpu-bundle
bash $B/unpack.sh
export PATH=$PWD/$B/bin:$PATH
export KVWALK_COMMIT=$(cat $B/COMMIT)
O=${OUT:-$PWD/out}; mkdir -p "$O/gc"
G=$B/packages/graph-cache
echo "== graph-cache check"; node $G/dist/gpu/check.js "$O/gc/graph-cache-gpu-check.json" 2>&1 | grep -v "^ok" | tail -4
for tool in memcheck racecheck; do
  timeout 120 compute-sanitizer --tool $tool --error-exitcode 9 node $G/dist/gpu/check.js "$O/gc/sanitize-$tool.json" --quick > "$O/gc/sanitize-$tool.log" 2>&1
  echo "graph-cache $tool rc=$?"; grep -E "ERROR SUMMARY|RACECHECK SUMMARY|passed" "$O/gc/sanitize-$tool.log" | tail -2
done
echo "== graph-cache bench"; (cd $G && KVWALK_BENCH_OUT="$O/gc" node dist/bench/index.js 2>&1 | grep -E "^decode|memcpy")
TAG=final bash $B/engine-run.sh check 2>&1 | grep -v "^ok" | tail -4
KVWALK_EVICT_CONTEXTS=4096 TAG=final bash $B/engine-run.sh bench --no-gemm --evict-only 2>&1 | grep -E "^evict |wrote|rror" | tail -30
