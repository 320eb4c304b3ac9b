#!/usr/bin/env bash
# Session 10, run 2: the "tail" graph write (the grouped kernel's last block of each (sequence, KV head)
# writes the per-KV-head node) and the logits staged as float4 slots. graph-cache check (tail == deferred
# bit for bit, every earlier case), compute-sanitizer over its quick cases (tail cases included), engine
# check (tail == deferred in the engine), graph-cache's batch-32 grouped-query rows (KVWALK_BENCH_ONLY=gqa32),
# the engine's --graph-heads bench (Mistral-7B walker: query / kv deferred / kv tail beside streaming),
# then the prompt-scoring bench (--prompt-score-only; the per-KV-head pass's cost, not recorded in session 9).
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
export KVWALK_CUBLAS=$(find /usr/local /usr/lib /opt -name 'libcublas.so.*' 2>/dev/null | grep -v Lt | head -1)
SECONDS=0
echo "== graph-cache check"; (cd $G && timeout 150 node dist/gpu/check.js "$O/gc/check.json" > "$O/gc/check.log" 2>&1); grep -vE "^ok" "$O/gc/check.log" | tail -6; echo "t=$SECONDS s"
for tool in memcheck racecheck; do
  (cd $G && timeout 70 compute-sanitizer --tool $tool --error-exitcode 9 node dist/gpu/check.js "$O/gc/san-$tool.json" --quick > "$O/gc/san-$tool.log" 2>&1; echo "$tool rc=$?")
  grep -E "ERROR SUMMARY|RACECHECK SUMMARY|all passed|FAILURES|^FAIL" "$O/gc/san-$tool.log" | tail -4
done; echo "t=$SECONDS s"
TAG=s10-run2 timeout 200 bash $B/engine-run.sh check 2>&1 | grep -vE "^ok|^  " | tail -6; echo "t=$SECONDS s"
cp out/*.tar.gz "$O/" 2>/dev/null
echo "== graph-cache gqa32 bench"; (cd $G && KVWALK_BENCH_ONLY=gqa32 KVWALK_BENCH_OUT="$O/gc" timeout 150 node dist/bench/index.js > "$O/gc/bench.log" 2>&1); grep -E "^\[|gqa 32/8|rror" "$O/gc/bench.log" | tail -24; echo "t=$SECONDS s"
mkdir -p "$O/engine"
echo "== engine bench --graph-heads"; (cd $B/packages/runtime && KVWALK_BENCH_OUT="$O/engine" timeout 150 node dist/bench/engine.js --graph-heads > "$O/engine/bench-heads.log" 2>&1); grep -E "^evict|rror" "$O/engine/bench-heads.log" | tail -24; echo "t=$SECONDS s"
echo "== engine bench --prompt-score-only"; (cd $B/packages/runtime && KVWALK_BENCH_OUT="$O/engine" timeout $((585 - SECONDS)) node dist/bench/engine.js --prompt-score-only > "$O/engine/bench-prompt.log" 2>&1); grep -vE "^\s*$" "$O/engine/bench-prompt.log" | tail -24; echo "t=$SECONDS s"
cd "$O" && tar czf gc-engine.tar.gz gc engine && rm -rf gc engine; ls "$O"
