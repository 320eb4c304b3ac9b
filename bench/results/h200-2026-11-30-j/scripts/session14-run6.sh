#!/usr/bin/env bash
# Session 14, run 6: the engine with session 14's decode kernels (rank merge + acq_rel ticket): engine GPU
# check (fixture-lm), the eviction step table at 4k (Llama-2-7B / Mistral-7B shapes, batch 1 / 8 / 32),
# and the A/B rows run 5 did not cover (batch 8 and 32 x 16k) against run 2's graph-cache build (_old).
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
SECONDS=0
TAG=s14 timeout 200 bash $B/engine-run.sh check 2>&1 | grep -v "^ok" | tail -6; echo "t=$SECONDS s"
KVWALK_EVICT_CONTEXTS=4096 TAG=evict timeout 150 bash $B/engine-run.sh bench --no-gemm --evict-only --steps-only 2>&1 | grep -E "^evict |wrote|rror" | tail -40; echo "t=$SECONDS s"
export AB_CASES='[{"batch":8,"length":16384,"writeGraph":0},{"batch":8,"length":16384,"writeGraph":1},{"batch":32,"length":16384,"writeGraph":0},{"batch":32,"length":16384,"writeGraph":1}]'
AB_ROUNDS=7 AB_OUT="$O/ab-run6.json" node $B/ab-decode.mjs old=$B/packages/_old/graph-cache/dist new=$G/dist; echo "t=$SECONDS s"
cp out/*.tar.gz "$O/" 2>/dev/null; ls "$O"
