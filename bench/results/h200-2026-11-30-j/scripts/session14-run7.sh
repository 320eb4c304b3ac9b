#!/usr/bin/env bash
# Session 14, run 7 (measurement only, not landed): the tail loads its split outputs (up to 16 splits,
# head dim <= 128) into registers before the split-weight reductions instead of after them
# (scripts/session14-run7-tail-prefetch.patch on 44ad146, bundled as _pre): GPU check and A/B against 44ad146.
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
S=bench/results/h200-2026-11-30-j/scripts
P=.gpu-bundle/packages/_pre/graph-cache
export AB_CASES='[{"batch":1,"length":4096,"writeGraph":0},{"batch":1,"length":4096,"writeGraph":1},{"batch":1,"length":16384,"writeGraph":0},{"batch":1,"length":16384,"writeGraph":1},{"batch":1,"length":32768,"writeGraph":1},{"batch":8,"length":4096,"writeGraph":0},{"batch":8,"length":4096,"writeGraph":1},{"batch":1,"length":4096,"writeGraph":0,"numKvHeads":8},{"batch":1,"length":4096,"writeGraph":1,"numKvHeads":8}]'
AB_ROUNDS=11 AB_OUT="$O/ab-run7.json" node $S/ab-decode.mjs head=$G/dist pre=$P/dist
echo "== check (pre)"; timeout 150 node $P/dist/gpu/check.js "$O/gc/check-pre.json" > "$O/gc/check-pre.log" 2>&1; grep -v "^ok" "$O/gc/check-pre.log" | tail -3
