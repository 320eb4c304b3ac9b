#!/usr/bin/env bash
# Session 6: grouped-query variants (per-head, 4 and 2 query heads per block) + graph-cache GPU check.
set -uo pipefail
cd "$(dirname "$0")/.."
B=.gpu-bundle
bash $B/unpack.sh
export PATH=$PWD/$B/bin:$PATH
export KVWALK_COMMIT=$(cat $B/COMMIT)
O=${OUT:-$PWD/out}; mkdir -p "$O"
G=$B/packages/graph-cache
node $G/dist/bench/gqa-variants.js "$O/split-sweep.json"

