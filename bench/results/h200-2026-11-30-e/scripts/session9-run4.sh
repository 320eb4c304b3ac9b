#!/usr/bin/env bash
# Session 9, run 4: graph-cache check after the selection kernels' block merge became one block_top4<NW>
# (registers changed in one instantiation, so the code is re-checked: every case against the twin, and
# "deferred = fused" bit for bit).
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
SECONDS=0
(cd $G && timeout 150 node dist/gpu/check.js "$O/gc/check.json" > "$O/gc/check.log" 2>&1); grep -vE "^ok" "$O/gc/check.log" | tail -6; echo "t=$SECONDS s"
cd "$O" && tar czf gc.tar.gz gc && rm -rf gc; ls "$O"
