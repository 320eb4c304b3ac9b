#!/usr/bin/env bash
# DRAFT branch: validate and measure the grouped-query decode kernel and the graph variant's pipelined loop.
# Here:   pnpm turbo run build && node tools/gpu-bundle.mjs --skip-dep onnxruntime-node --with-data models/fixture-lm runtime graph-cache
#         cp tools/engine-device-run.sh tools/draft-validate.sh .gpu-bundle/
# Device: bash .gpu-bundle/draft-validate.sh check|bench   (carry [".gpu-bundle"]; each under 10 min)
set -uo pipefail
cd "$(dirname "$0")/.."
B=.gpu-bundle
bash $B/unpack.sh
export PATH=$PWD/$B/bin:$PATH
export KVWALK_COMMIT=$(cat $B/COMMIT)
O=${OUT:-$PWD/out}; mkdir -p "$O/gc"
G=$B/packages/graph-cache
stage=${1:-check}
if [ "$stage" = check ]; then
  echo "== graph-cache check"; node $G/dist/gpu/check.js "$O/gc/graph-cache-gpu-check.json" 2>&1 | grep -v "^ok" | tail -8
  for tool in memcheck racecheck; do
    timeout 170 compute-sanitizer --tool $tool --error-exitcode 9 node $G/dist/gpu/check.js "$O/gc/sanitize-$tool.json" --quick > "$O/gc/sanitize-$tool.log" 2>&1
    echo "graph-cache $tool rc=$?"; grep -E "ERROR SUMMARY|RACECHECK SUMMARY|passed" "$O/gc/sanitize-$tool.log" | tail -2
  done
  bash $B/engine-device-run.sh check 2>&1 | grep -v "^ok" | tail -8
else
  echo "== graph-cache bench"; (cd $G && KVWALK_BENCH_OUT="$O/gc" node dist/bench/index.js 2>&1 | grep -E "^decode|memcpy")
  TAG=grouped bash $B/engine-device-run.sh bench --no-gemm --grouped 2>&1 | grep -E "^evict|wrote" | tail -20
  TAG=evict bash $B/engine-device-run.sh bench --no-gemm --evict-only 2>&1 | grep -E "^evict (llama2-7b|mistral-7b) B 32|wrote" | tail -12
  TAG=priority bash $B/engine-device-run.sh bench --no-gemm --priority 2>&1 | grep -E "^evict|wrote" | tail -10
fi
