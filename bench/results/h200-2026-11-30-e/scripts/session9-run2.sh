#!/usr/bin/env bash
# Session 9, run 2 (bundle: runtime + eval + graph-cache with fixture-lm and WikiText-2 test): the
# per-KV-head selection at 512 threads under compute-sanitizer (graph-cache quick cases), the engine's
# --graph-heads bench (Mistral-7B, walker per query head vs per KV head beside streaming, 4k and 16k),
# the GQA stand-in study (fixture-lm mean-pooled to 3 and 2 KV heads, WikiText-2, walker per query head vs
# per KV head), then graph-cache's grouped-query decode rows (KVWALK_BENCH_ONLY=gqa) in the time left.
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
export KVWALK_CUBLAS=$(find /usr/local /usr/lib /opt -name 'libcublas.so.*' 2>/dev/null | grep -v Lt | head -1)
SECONDS=0
for tool in memcheck racecheck; do
  (cd $G && timeout 70 compute-sanitizer --tool $tool --error-exitcode 9 node dist/gpu/check.js "$O/gc/san-$tool.json" --quick > "$O/gc/san-$tool.log" 2>&1; echo "$tool rc=$?")
  grep -E "ERROR SUMMARY|RACECHECK SUMMARY|all passed|FAILURES|^FAIL" "$O/gc/san-$tool.log" | tail -4
done; echo "t=$SECONDS s"
mkdir -p "$O/engine"
echo "== engine bench --graph-heads"; (cd $B/packages/runtime && KVWALK_BENCH_OUT="$O/engine" timeout 150 node dist/bench/engine.js --graph-heads > "$O/engine/bench.log" 2>&1); grep -E "^evict|rror" "$O/engine/bench.log" | tail -20; echo "t=$SECONDS s"
# eval-device-run.sh checks for every shared file its default steps read; the gqa steps read none of these two.
mkdir -p $B/shared/data/longbench && touch $B/shared/data/wikitext-2-raw/wiki.valid.raw $B/shared/data/longbench/multi_news.jsonl
echo "== eval gqa gqa2"; TOTAL_CAP=$((540 - SECONDS > 300 ? 300 : 540 - SECONDS)) GQA_CAP=140 BUNDLE=$B timeout 320 bash tools/eval-device-run.sh gqa gqa2 2>&1 | grep -vE "units after" | tail -24; echo "t=$SECONDS s"
echo "== graph-cache gqa bench"; (cd $G && KVWALK_BENCH_ONLY=gqa KVWALK_BENCH_OUT="$O/gc" timeout $((575 - SECONDS)) node dist/bench/index.js > "$O/gc/bench.log" 2>&1); grep -E "^\[|gqa 32/8|rror" "$O/gc/bench.log" | tail -40; echo "t=$SECONDS s"
cd "$O" && tar czf gc-engine.tar.gz gc engine && rm -rf gc engine; ls "$O"
