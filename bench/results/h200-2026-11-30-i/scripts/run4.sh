#!/usr/bin/env bash
# Session 13 run 4: the pagerank-top4 policy on the engine (exact PageRank in place of the walker, ranked
# lazily as the oracle does). Full engine check (pagerank-top4 vs the oracle's causal simulation on the
# fixture's 512 reference tokens), memcheck and racecheck of the eviction subset (pagerank-top4's quick
# case included), walker-cuda's GPU check (its PageRank kernel took a node stride and graph ids), and
# what pagerank-top4 costs beside streaming and the walker at Llama-2-7B 4k.
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
SECONDS=0
mkdir -p "$O/engine" "$O/walker"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv > "$O/engine/nvidia-smi.csv" 2>&1
F='s/ \(on its own stream\)//; s/compaction ([0-9.]+) ms\/step, walker ([0-9.]+) ms\/step/c \1, w \2/'
echo "== runtime check, all"; (cd $R && timeout 220 node dist/gpu/check.js "$O/engine/check.json" > "$O/engine/check.log" 2>&1); echo "rc=$?"; grep -vE "^ok|^  " "$O/engine/check.log" | tail -6; grep -E "eviction .* vs oracle" "$O/engine/check.log" | cut -c1-160; echo "t=$SECONDS s"
for tool in memcheck racecheck; do
  echo "== $tool, evict subset (built-in GEMM)"; (cd $R && KVWALK_GEMM=builtin KVWALK_CHECK_ONLY=evict timeout 150 compute-sanitizer --tool $tool --error-exitcode 9 node dist/gpu/check.js "$O/engine/$tool-evict.json" --quick > "$O/engine/$tool-evict.log" 2>&1); echo "rc=$?"; grep -E "ERROR SUMMARY|RACECHECK SUMMARY|cases passed" "$O/engine/$tool-evict.log" | tail -3; echo "t=$SECONDS s"
done
echo "== walker-cuda check"; (timeout 120 node $B/packages/walker-cuda/dist/gpu/check.js "$O/walker/walker-cuda-gpu-check.json" > "$O/walker/check.log" 2>&1); echo "rc=$?"; grep -vE "^ok|^  " "$O/walker/check.log" | tail -4; echo "t=$SECONDS s"
echo "== pagerank-top4 cost"; (cd $R && KVWALK_BENCH_OUT="$O/engine" timeout $((570 - SECONDS)) node dist/bench/engine.js --no-gemm --pagerank-top4 > "$O/engine/bench-pagerank-top4.log" 2>&1); echo "rc=$?"; grep -E "^evict|rror" "$O/engine/bench-pagerank-top4.log" | sed -E "$F"; echo "t=$SECONDS s"
cd "$O" && tar czf engine.tar.gz engine walker && rm -rf engine walker gc; ls "$O"
