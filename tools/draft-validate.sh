#!/usr/bin/env bash
# DRAFT branch gqa-decode-draft: one device call that validates and measures its two kernel changes
# (the grouped-query decode kernel, and the software-pipelined loop for the graph variant only).
# Here:   pnpm turbo run build && node tools/gpu-bundle.mjs --skip-dep onnxruntime-node --with-data models/fixture-lm runtime graph-cache
#         cp tools/engine-device-run.sh tools/draft-validate.sh .gpu-bundle/
# Device: bash .gpu-bundle/draft-validate.sh   (carry [".gpu-bundle"]; ~8 min)
# Land only what passes: graph-cache check (incl. the "decode grouped" cases) and sanitizers, the engine
# check, and the measured gains (graph-cache bench: decode rows and "grouped kernel" GQA rows; engine:
# --grouped for Mistral-7B, --evict-only for every policy).
set -uo pipefail
cd "$(dirname "$0")/.."
B=.gpu-bundle
bash $B/unpack.sh
export PATH=$PWD/$B/bin:$PATH
export KVWALK_COMMIT=$(cat $B/COMMIT)
O=${OUT:-$PWD/out}; mkdir -p "$O/gc"
G=$B/packages/graph-cache
echo "== graph-cache check"; node $G/dist/gpu/check.js "$O/gc/graph-cache-gpu-check.json" 2>&1 | grep -v "^ok" | tail -6
for tool in memcheck racecheck; do
  timeout 150 compute-sanitizer --tool $tool --error-exitcode 9 node $G/dist/gpu/check.js "$O/gc/sanitize-$tool.json" --quick > "$O/gc/sanitize-$tool.log" 2>&1
  echo "graph-cache $tool rc=$?"; grep -E "ERROR SUMMARY|RACECHECK SUMMARY|passed" "$O/gc/sanitize-$tool.log" | tail -2
done
echo "== graph-cache bench"; (cd $G && KVWALK_BENCH_OUT="$O/gc" node dist/bench/index.js 2>&1 | grep -E "^decode|memcpy")
bash $B/engine-device-run.sh check 2>&1 | grep -v "^ok" | tail -6
bash $B/engine-device-run.sh bench --no-gemm --grouped 2>&1 | grep -E "^evict|wrote" | tail -20
bash $B/engine-device-run.sh bench --no-gemm --evict-only 2>&1 | grep -E "^evict (llama2-7b|mistral-7b) B 32" | tail -10
