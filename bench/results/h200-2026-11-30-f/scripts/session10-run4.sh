#!/usr/bin/env bash
# Session 10, run 4 (the shipped kernels, = 0709a08 plus a bench mode): where the walker policy's extra
# step time goes at batch 32 -- the engine bench's --attribution (wall time per step vs the decode
# stream's GPU time per phase; streaming / graph write without a walker run / walker).
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
export KVWALK_CUBLAS=$(find /usr/local /usr/lib /opt -name 'libcublas.so.*' 2>/dev/null | grep -v Lt | head -1)
SECONDS=0
mkdir -p "$O/engine"
echo "== engine bench --attribution"; (cd $B/packages/runtime && KVWALK_BENCH_OUT="$O/engine" timeout 300 node dist/bench/engine.js --attribution > "$O/engine/bench-attribution.log" 2>&1); grep -E "^attribution|rror" "$O/engine/bench-attribution.log" | tail -20; echo "t=$SECONDS s"
cd "$O" && tar czf engine.tar.gz engine && rm -rf engine gc; ls "$O"
