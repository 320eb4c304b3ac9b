#!/usr/bin/env bash
# Session 14, run 9: the tail's split-output prefetch as landed (commit "graph-cache decode tail: load the
# split outputs ..."): graph-cache GPU check, memcheck and racecheck over the quick cases, A/B against the
# 44ad146 build (_head), and the engine GPU check (fixture-lm).
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
SECONDS=0
echo "== graph-cache check"; timeout 150 node $G/dist/gpu/check.js "$O/gc/graph-cache-gpu-check.json" > "$O/gc/check.log" 2>&1; grep -v "^ok" "$O/gc/check.log" | tail -3; echo "t=$SECONDS s"
for tool in memcheck racecheck; do
  timeout 170 compute-sanitizer --tool $tool --error-exitcode 9 node $G/dist/gpu/check.js "$O/gc/sanitize-$tool.json" --quick > "$O/gc/sanitize-$tool.log" 2>&1
  echo "graph-cache $tool rc=$?"; grep -E "ERROR SUMMARY|RACECHECK SUMMARY|passed" "$O/gc/sanitize-$tool.log" | tail -2
done; rm -f "$O/gc/sanitize-racecheck.log"; echo "t=$SECONDS s"
export AB_CASES='[{"batch":1,"length":4096,"writeGraph":0},{"batch":1,"length":4096,"writeGraph":1},{"batch":1,"length":16384,"writeGraph":0},{"batch":1,"length":16384,"writeGraph":1},{"batch":1,"length":32768,"writeGraph":1},{"batch":8,"length":4096,"writeGraph":0},{"batch":8,"length":4096,"writeGraph":1},{"batch":32,"length":4096,"writeGraph":1},{"batch":1,"length":4096,"writeGraph":0,"numKvHeads":8},{"batch":1,"length":4096,"writeGraph":1,"numKvHeads":8}]'
AB_ROUNDS=9 AB_OUT="$O/ab-run9.json" node $B/ab-decode.mjs head=$B/packages/_head/graph-cache/dist new=$G/dist; echo "t=$SECONDS s"
TAG=s14b timeout 200 bash $B/engine-run.sh check 2>&1 | grep -v "^ok" | tail -4; echo "t=$SECONDS s"
cp out/*.tar.gz "$O/" 2>/dev/null; ls "$O"
