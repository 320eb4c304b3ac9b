#!/usr/bin/env bash
# Session 13 run 7 (and run 9, the chunked sweep): pagerank-top4 ranks by walker-cuda's causal backward sweep (one pass per graph)
# instead of power iteration. walker-cuda's GPU check (the sweep against its TS twin and the power
# iteration's, a non-causal graph refused) and its memcheck / racecheck (quick), the runtime check
# (pagerank-top4 vs the oracle), memcheck of the eviction subset, and pagerank-top4's cost.
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
SECONDS=0
mkdir -p "$O/engine" "$O/walker"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv > "$O/engine/nvidia-smi.csv" 2>&1
F='s/ \(on its own stream\)//; s/compaction ([0-9.]+) ms\/step, walker ([0-9.]+) ms\/step/c \1, w \2/'
W=$B/packages/walker-cuda
echo "== walker-cuda check"; (timeout 120 node $W/dist/gpu/check.js "$O/walker/check.json" > "$O/walker/check.log" 2>&1); echo "rc=$?"; grep -vE "^ok|^  " "$O/walker/check.log" | tail -4; grep -E "causal" "$O/walker/check.log" | cut -c1-150; echo "t=$SECONDS s"
for tool in memcheck racecheck; do
  echo "== walker-cuda $tool (quick)"; (timeout 150 compute-sanitizer --tool $tool --error-exitcode 9 node $W/dist/gpu/check.js "$O/walker/$tool.json" --quick > "$O/walker/$tool.log" 2>&1); echo "rc=$?"; grep -E "ERROR SUMMARY|RACECHECK SUMMARY|cases passed" "$O/walker/$tool.log" | tail -3; echo "t=$SECONDS s"
done
echo "== runtime check, all"; (cd $R && timeout 200 node dist/gpu/check.js "$O/engine/check.json" > "$O/engine/check.log" 2>&1); echo "rc=$?"; grep -vE "^ok|^  " "$O/engine/check.log" | tail -4; grep -E "eviction (pagerank|h2o).* vs oracle" "$O/engine/check.log" | cut -c1-150; echo "t=$SECONDS s"
echo "== memcheck, evict subset"; (cd $R && KVWALK_GEMM=builtin KVWALK_CHECK_ONLY=evict timeout 100 compute-sanitizer --tool memcheck --error-exitcode 9 node dist/gpu/check.js "$O/engine/memcheck-evict.json" --quick > "$O/engine/memcheck-evict.log" 2>&1); echo "rc=$?"; grep -E "ERROR SUMMARY|cases passed" "$O/engine/memcheck-evict.log" | tail -2; echo "t=$SECONDS s"
echo "== pagerank-top4 cost"; (cd $R && KVWALK_BENCH_OUT="$O/engine" timeout $((560 - SECONDS)) node dist/bench/engine.js --no-gemm --pagerank-top4 > "$O/engine/bench-pagerank-top4.log" 2>&1); echo "rc=$?"; grep -E "^evict|rror" "$O/engine/bench-pagerank-top4.log" | sed -E "$F"; echo "t=$SECONDS s"
cd "$O" && tar czf engine.tar.gz engine walker && rm -rf engine walker gc; ls "$O"
