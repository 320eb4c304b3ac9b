#!/usr/bin/env bash
# Session 10, run 5 (shipped kernels): compute-sanitizer memcheck and racecheck over the engine check's
# prompt-scoring cases (KVWALK_CHECK_ONLY=prompt-score: both prompt kernels against their twin, including
# the per-KV-head pass prefill_group_graph_kernel, whose sanitizer run in session 9 was not kept).
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
export KVWALK_CUBLAS=$(find /usr/local /usr/lib /opt -name 'libcublas.so.*' 2>/dev/null | grep -v Lt | head -1)
export KVWALK_SHARED=$PWD/$B/shared
SECONDS=0
mkdir -p "$O/engine"
for tool in memcheck racecheck; do
  (cd $B/packages/runtime && KVWALK_CHECK_ONLY=prompt-score timeout 250 compute-sanitizer --tool $tool --error-exitcode 9 node dist/gpu/check.js "$O/engine/sanitize-prompt-$tool.json" --quick > "$O/engine/sanitize-prompt-$tool.log" 2>&1; echo "$tool rc=$?")
  grep -E "ERROR SUMMARY|RACECHECK SUMMARY|cases passed|FAIL" "$O/engine/sanitize-prompt-$tool.log" | tail -4; echo "t=$SECONDS s"
done
cd "$O" && tar czf engine.tar.gz engine && rm -rf engine gc; ls "$O"
