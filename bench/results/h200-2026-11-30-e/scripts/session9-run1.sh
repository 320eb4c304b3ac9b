#!/usr/bin/env bash
# Session 9, run 1: graphs per KV head. Engine check with the fixture model (prompt scoring on a tiny GQA
# checkpoint with graphs per KV head and per query head, the walker on per-KV-head graphs, every earlier
# case), graph-cache check (per-KV-head selection cases against the twin), compute-sanitizer memcheck and
# racecheck over graph-cache's quick cases, then graph-cache's decode bench rows (with per-KV-head rows).
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
SECONDS=0
TAG=s9-run1 timeout 220 bash $B/engine-run.sh check 2>&1 | grep -vE "^ok|^  " | tail -8; echo "t=$SECONDS s"
cp out/*.tar.gz "$O/" 2>/dev/null
echo "== graph-cache check"; (cd $G && timeout 130 node dist/gpu/check.js "$O/gc/check.json" > "$O/gc/check.log" 2>&1); grep -vE "^ok" "$O/gc/check.log" | tail -8; echo "t=$SECONDS s"
for tool in memcheck racecheck; do
  (cd $G && timeout 70 compute-sanitizer --tool $tool --error-exitcode 9 node dist/gpu/check.js "$O/gc/san-$tool.json" --quick > "$O/gc/san-$tool.log" 2>&1; echo "$tool rc=$?")
  grep -E "ERROR SUMMARY|RACECHECK SUMMARY|all passed|FAILURES" "$O/gc/san-$tool.log" | tail -3
done; echo "t=$SECONDS s"
echo "== graph-cache decode bench"; (cd $G && KVWALK_BENCH_ONLY=decode KVWALK_BENCH_OUT="$O/gc" timeout $((570 - SECONDS)) node dist/bench/index.js > "$O/gc/bench.log" 2>&1); grep -E "^\[|memcpy|rror|per KV" "$O/gc/bench.log" | tail -50; echo "t=$SECONDS s"
cd "$O" && tar czf gc.tar.gz gc && rm -rf gc; ls "$O"
