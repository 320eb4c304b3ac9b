#!/usr/bin/env bash
# Session 12 run 5: the review's test-code refactors on the GPU (fixtureSubset for the lazy / eviction
# subsets, checkGraph with q rounded once, the --split-k --gemm-only write path). Native code unchanged
# since run 4 (one comment).
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
SECONDS=0
mkdir -p "$O/engine"
for only in lazy evict prompt-score; do
  echo "== check $only"; (cd $R && KVWALK_CHECK_ONLY=$only timeout 150 node dist/gpu/check.js "$O/engine/check-$only.json" > "$O/engine/check-$only.log" 2>&1); echo "rc=$?"; grep -vE "^ok|^  " "$O/engine/check-$only.log" | tail -3; echo "t=$SECONDS s"
done
echo "== split-K GEMM rows"; (cd $R && KVWALK_BENCH_OUT="$O/engine" timeout 120 node dist/bench/engine.js --no-gemm --split-k --gemm-only > "$O/engine/bench-splitk.log" 2>&1); echo "rc=$?"; grep -E "wrote|rror" "$O/engine/bench-splitk.log"; ls "$O/engine"; echo "t=$SECONDS s"
cd "$O" && tar czf engine.tar.gz engine && rm -rf engine gc; ls "$O"
