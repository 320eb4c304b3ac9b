#!/usr/bin/env bash
# Session 14, run 3: attribution of the remaining graph-write cost at batch 1 x 4k after run 2's rank merge.
# Builds of the run-2 kernel with compile-time switches (-DKVWALK_EXP=N, temporary, not committed):
# e1 no per-key top-4 tracking; e2 no block rank merge and no tail merge / node write; e3 the graph variant
# on the plain (not pipelined) tile loop at 7 blocks/SM; e4 the baseline on the pipelined loop at 4
# blocks/SM; e5 = e1 + e2 (the graph template with none of the graph work). Timed against the run-2 build.
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
S=bench/results/h200-2026-11-30-j/scripts
P=.gpu-bundle/packages
export AB_CASES='[{"batch":1,"length":4096,"writeGraph":0},{"batch":1,"length":4096,"writeGraph":1},{"batch":1,"length":16384,"writeGraph":0},{"batch":1,"length":16384,"writeGraph":1}]'
AB_ROUNDS=11 AB_OUT="$O/ab-run3.json" node $S/ab-decode.mjs new=$G/dist e1=$P/_e1/graph-cache/dist e2=$P/_e2/graph-cache/dist e3=$P/_e3/graph-cache/dist e4=$P/_e4/graph-cache/dist e5=$P/_e5/graph-cache/dist
