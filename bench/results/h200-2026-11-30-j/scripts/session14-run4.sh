#!/usr/bin/env bash
# Session 14, run 4: split-count sweep of the run-2 kernel (block-parallel rank merge) at batch 1, with and
# without the graph write, to re-tune the graph variant's split rule after its merges got cheaper.
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
S=bench/results/h200-2026-11-30-j/scripts
C='['
for len in 4096 16384 32768; do
  for ns in 4 6 8 10 12 16 20 24 32; do
    for wg in 0 1; do C="$C{\"batch\":1,\"length\":$len,\"writeGraph\":$wg,\"numSplits\":$ns},"; done
  done
done
for ns in 4 8 12 16; do C="$C{\"batch\":1,\"length\":4096,\"writeGraph\":1,\"numKvHeads\":8,\"numSplits\":$ns},"; done
C="$C{\"batch\":1,\"length\":4096,\"writeGraph\":0,\"numKvHeads\":8,\"numSplits\":0}]"
AB_CASES="$C" AB_ROUNDS=9 AB_OUT="$O/ab-run4.json" node $S/ab-decode.mjs new=$G/dist
