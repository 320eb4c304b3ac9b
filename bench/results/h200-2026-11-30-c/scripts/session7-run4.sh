#!/usr/bin/env bash
# Session 7, run 4: deferred logits laid out per KV head (the group's query heads side by side: one vector
# store per key in the grouped kernel; the selection kernel serves a KV head's query heads per block).
# graph-cache check + sanitizers, engine check (benches only if both pass), engine --graph-write
# (Mistral-7B), eviction bench at 4k (every policy, both presets).
set -uo pipefail
cd "$(dirname "$0")/.."
B=.gpu-bundle
bash $B/unpack.sh
export PATH=$PWD/$B/bin:$PATH
export KVWALK_COMMIT=$(cat $B/COMMIT)
O=${OUT:-$PWD/out}; mkdir -p "$O/gc"
G=$B/packages/graph-cache
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv > "$O/gc/nvidia-smi.csv" 2>&1
SECONDS=0
echo "== graph-cache check"; timeout 120 node $G/dist/gpu/check.js "$O/gc/graph-cache-gpu-check.json" > "$O/gc/check.log" 2>&1; ok=$?
grep -v "^ok" "$O/gc/check.log" | tail -8
for tool in memcheck racecheck; do
  timeout 150 compute-sanitizer --tool $tool --error-exitcode 9 node $G/dist/gpu/check.js "$O/gc/sanitize-$tool.json" --quick > "$O/gc/sanitize-$tool.log" 2>&1; r=$?
  echo "graph-cache $tool rc=$r"; grep -E "ERROR SUMMARY|RACECHECK SUMMARY|passed" "$O/gc/sanitize-$tool.log" | tail -2; [ $r = 0 ] || ok=1
done
echo "t=$SECONDS s"
TAG=s7 timeout 150 bash $B/engine-run.sh check 2>&1 | grep -v "^ok" | tail -6
grep -q '"ok": true\|"ok":true' $O/engine-check-s7.tar.gz 2>/dev/null; 
echo "t=$SECONDS s"
if [ $ok != 0 ]; then echo "graph-cache check failed: benches skipped"; exit 1; fi
TAG=graph-write KVWALK_BENCH_PRESETS=mistral-7b timeout 120 bash $B/engine-run.sh bench --no-gemm --graph-write 2>&1 | grep -E "^evict |wrote|rror" | tail -14
echo "t=$SECONDS s"
KVWALK_EVICT_CONTEXTS=4096 TAG=evict timeout ${EVICT_TIMEOUT:-230} bash $B/engine-run.sh bench --no-gemm --evict-only --steps-only 2>&1 | grep -E "^evict |wrote|rror" | tail -40
echo "t=$SECONDS s"
