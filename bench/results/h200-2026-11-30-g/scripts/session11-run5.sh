#!/usr/bin/env bash
# Session 11, run 5: the lazy ring capped at 64 rows per half (run 4's attribution could not allocate a
# ring for its refresh interval of 2^20): the lazy cases (incl. the walker at refresh 100) and the
# attribution of the walker's step time on the shipped defaults.
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
export KVWALK_SHARED=$PWD/$B/shared
export KVWALK_CUBLAS=$(find /usr/local /usr/lib /opt -name 'libcublas.so.*' 2>/dev/null | grep -v Lt | head -1)
SECONDS=0
mkdir -p "$O/engine"
R=$B/packages/runtime
echo "== runtime check, lazy cases"; (cd $R && KVWALK_CHECK_ONLY=lazy timeout 150 node dist/gpu/check.js "$O/engine/check-lazy.json" > "$O/engine/check-lazy.log" 2>&1); grep -vE "^ok|^  " "$O/engine/check-lazy.log" | tail -6; echo "t=$SECONDS s"
echo "== engine bench --attribution"; (cd $R && KVWALK_BENCH_OUT="$O/engine" timeout 120 node dist/bench/engine.js --no-gemm --attribution > "$O/engine/bench-attribution.log" 2>&1); grep -E "^attribution|rror" "$O/engine/bench-attribution.log"; echo "t=$SECONDS s"
cd "$O" && tar czf engine.tar.gz engine && rm -rf engine gc; ls "$O"
