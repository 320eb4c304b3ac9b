#!/usr/bin/env bash
# Session 14, run 8: the per-head decode kernel's split merge through thread-block clusters (one cluster =
# the 2-16 splits of one (sequence, head); partials in distributed shared memory, no ticket). GPU check of
# the new build, then A/B: the new build with clusters (cluster 2) and without (cluster 0, the 44ad146 merge
# path in the same binary), and the 44ad146 build itself (_head).
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
S=bench/results/h200-2026-11-30-j/scripts
echo "== check"; timeout 150 node $G/dist/gpu/check.js "$O/gc/graph-cache-gpu-check.json" > "$O/gc/check.log" 2>&1; grep -v "^ok" "$O/gc/check.log" | tail -6
C='['
for sh in "1 4096" "1 16384" "1 32768" "8 4096" "8 16384"; do set -- $sh
  for wg in 0 1; do for cl in 0 2; do C="$C{\"batch\":$1,\"length\":$2,\"writeGraph\":$wg,\"cluster\":$cl},"; done; done
done
for wg in 0 1; do for cl in 0 2; do C="$C{\"batch\":1,\"length\":4096,\"writeGraph\":$wg,\"numKvHeads\":8,\"cluster\":$cl},"; done; done
C="${C%,}]"
AB_CASES="$C" AB_ROUNDS=9 AB_OUT="$O/ab-run8.json" node $S/ab-decode.mjs head=.gpu-bundle/packages/_head/graph-cache/dist new=$G/dist
