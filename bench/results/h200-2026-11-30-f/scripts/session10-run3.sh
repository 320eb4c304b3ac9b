#!/usr/bin/env bash
# Session 10, run 3: the deferred write's selection as one launch over every layer of the step (forked
# after the last layer's attention) instead of one per layer. graph-cache check and compute-sanitizer over
# its quick cases (the selection kernels now offset by layer), engine check (deferred == fused over every
# layer's graph, bit for bit), the engine's --graph-heads bench (Mistral-7B walker beside streaming), then
# the eviction table's decode steps (4k and 16k, shipped defaults).
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
export KVWALK_CUBLAS=$(find /usr/local /usr/lib /opt -name 'libcublas.so.*' 2>/dev/null | grep -v Lt | head -1)
SECONDS=0
echo "== graph-cache check"; (cd $G && timeout 150 node dist/gpu/check.js "$O/gc/check.json" > "$O/gc/check.log" 2>&1); grep -vE "^ok" "$O/gc/check.log" | tail -4; echo "t=$SECONDS s"
for tool in memcheck racecheck; do
  (cd $G && timeout 70 compute-sanitizer --tool $tool --error-exitcode 9 node dist/gpu/check.js "$O/gc/san-$tool.json" --quick > "$O/gc/san-$tool.log" 2>&1; echo "$tool rc=$?")
  grep -E "ERROR SUMMARY|RACECHECK SUMMARY|all passed|FAILURES|^FAIL" "$O/gc/san-$tool.log" | tail -4
done; echo "t=$SECONDS s"
TAG=s10-run3 timeout 200 bash $B/engine-run.sh check 2>&1 | grep -vE "^ok|^  " | tail -6; echo "t=$SECONDS s"
mkdir -p "$O/engine"
echo "== engine bench --graph-heads"; (cd $B/packages/runtime && KVWALK_BENCH_OUT="$O/engine" timeout 150 node dist/bench/engine.js --graph-heads > "$O/engine/bench-heads.log" 2>&1); grep -E "^evict|rror" "$O/engine/bench-heads.log" | tail -20; echo "t=$SECONDS s"
TAG=evict timeout $((585 - SECONDS)) bash $B/engine-run.sh bench --no-gemm --evict-only --steps-only 2>&1 | grep -E "^evict |wrote|rror" | tail -64; echo "t=$SECONDS s"
cp out/*.tar.gz "$O/" 2>/dev/null
cd "$O" && tar czf gc-engine.tar.gz gc engine && rm -rf gc engine; ls "$O"
