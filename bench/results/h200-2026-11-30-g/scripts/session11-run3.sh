#!/usr/bin/env bash
# Session 11, run 3: the lazy graph write with the decode steps' own lse (an lse ring, one store launch per step;
# the flush runs only the group pass for a graph per KV head) and graphWrite auto = lazy for the walker's graphs
# per KV head on a grouped-query model. Runtime check of the lazy cases (flush kernels vs the twin incl. the
# lse-ring route; lazy vs deferred in the engine; the walker on it), engine bench --graph-lazy (Mistral-7B
# 4k / 16k: deferred, auto (lazy), lazy + stream priorities; Llama-2-7B 4k), full runtime check, sanitizers.
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
export KVWALK_SHARED=$PWD/$B/shared
export KVWALK_CUBLAS=$(find /usr/local /usr/lib /opt -name 'libcublas.so.*' 2>/dev/null | grep -v Lt | head -1)
SECONDS=0
mkdir -p "$O/engine"
R=$B/packages/runtime
echo "== runtime check, lazy cases"; (cd $R && KVWALK_CHECK_ONLY=lazy timeout 150 node dist/gpu/check.js "$O/engine/check-lazy.json" > "$O/engine/check-lazy.log" 2>&1); grep -vE "^ok|^  " "$O/engine/check-lazy.log" | tail -8; grep -E "lazy vs deferred" "$O/engine/check-lazy.log" | head -4; echo "t=$SECONDS s"
echo "== engine bench --graph-lazy"; (cd $R && KVWALK_BENCH_OUT="$O/engine" timeout 200 node dist/bench/engine.js --no-gemm --graph-lazy > "$O/engine/bench-lazy.log" 2>&1); grep -E "^evict|rror" "$O/engine/bench-lazy.log" | sed -E 's/, full cache does not fit//; s/\(on its own stream\)//' | tail -30; echo "t=$SECONDS s"
echo "== runtime check, all"; (cd $R && timeout 200 node dist/gpu/check.js "$O/engine/check.json" > "$O/engine/check.log" 2>&1); grep -vE "^ok|^  " "$O/engine/check.log" | tail -5; echo "t=$SECONDS s"
for tool in memcheck racecheck; do
  (cd $R && KVWALK_GEMM=builtin KVWALK_CHECK_ONLY=lazy timeout $(( (570 - SECONDS) / 2 )) compute-sanitizer --tool $tool --error-exitcode 9 node dist/gpu/check.js "$O/engine/sanitize-lazy-$tool.json" --quick > "$O/engine/sanitize-lazy-$tool.log" 2>&1; echo "$tool rc=$?")
  grep -E "ERROR SUMMARY|RACECHECK SUMMARY|cases passed|FAIL" "$O/engine/sanitize-lazy-$tool.log" | tail -4; echo "t=$SECONDS s"
done
cd "$O" && tar czf engine.tar.gz engine && rm -rf engine gc; ls "$O"
