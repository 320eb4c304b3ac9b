#!/usr/bin/env bash
# Session 17, run 7: the engine bench's mixed-step rows (--mixed: Llama-2-7B and Mistral-7B random-weight presets,
# 7 decoding sequences + one prompt of 16-2048 tokens, mixed step vs decode step + prefill) without eviction and
# with the walker at the 20% shape (819 slots), now that mixed steps run with eviction on. Bundle: tools/gpu-bundle.mjs
# --skip-dep onnxruntime-node runtime; this script as .gpu-bundle/run7.sh.
set -uo pipefail
source .gpu-bundle/device-env.sh
SECONDS=0
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee $O/nvidia-smi.csv
(cd $R && KVWALK_BENCH_OUT=$O timeout 500 node dist/bench/engine.js --no-gemm --mixed > $O/bench-mixed.log 2>&1); echo "rc=$?"
grep -E "mixed step|wrote|rror" $O/bench-mixed.log | cut -c1-200
echo "t=$SECONDS s"
