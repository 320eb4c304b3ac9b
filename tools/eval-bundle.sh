#!/usr/bin/env bash
# Builds the GPU bundle that tools/eval-device-run.sh runs (issue 8's eval sweeps on the H200):
# node, @kvwalk/runtime + @kvwalk/eval (built), the fixture model and the data the three GPU configs
# read (WikiText-2 test and valid -- valid is the needle haystack -- and LongBench multi_news).
# The grouped-query stand-ins of the gqa / gqa2 steps are not bundled: eval-device-run.sh writes them
# from fixture-lm on the host with the bundled @kvwalk/model CLI (`kvwalk-model pool-kv-heads`, which
# does not load onnxruntime-node).
#   pnpm turbo run build --filter=@kvwalk/eval...     (builds the engine addon too; needs nvcc)
#   bash tools/eval-bundle.sh [OUT_DIR]              (default .gpu-bundle; the device tool carries it)
# The device tool carries at most 64 MiB: the graph-cache and walker-cuda addons (about 9 MB) are
# dropped, since the engine has its own kernels and those packages fall back to their TypeScript
# twins when their .node file is missing (nothing on the eval gpu path calls them).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-.gpu-bundle}
M=models/fixture-lm
node tools/gpu-bundle.mjs --out "$OUT" --skip-dep onnxruntime-node \
  --with-data $M/config.json --with-data $M/generation_config.json --with-data $M/model.safetensors.index.json \
  --with-data $M/model-00001-of-00003.safetensors --with-data $M/model-00002-of-00003.safetensors \
  --with-data $M/model-00003-of-00003.safetensors --with-data $M/tokenizer.json --with-data $M/tokenizer_config.json \
  --with-data data/wikitext-2-raw/wiki.test.raw --with-data data/wikitext-2-raw/wiki.valid.raw \
  --with-data data/longbench/multi_news.jsonl \
  runtime eval
rm -f "$OUT"/packages/graph-cache/build/Release/*.node* "$OUT"/packages/walker-cuda/build/Release/*.node*
[ -f "$OUT/packages/runtime/build/Release/engine.node.xz" ] || [ -f "$OUT/packages/runtime/build/Release/engine.node" ] ||
  { echo "no engine addon in $OUT (build @kvwalk/runtime's native part first)" >&2; exit 1; }
size=$(du -sb "$OUT" | cut -f1)
limit=$((64 * 1024 * 1024))
echo "bundle $OUT: $((size / 1024 / 1024)) MiB of the 64 MiB the device tool carries" >&2
[ "$size" -le "$limit" ] || { echo "bundle too big for the device tool" >&2; exit 1; }
echo "device: carry [\"$OUT\"], command: BUNDLE=$OUT bash tools/eval-device-run.sh" >&2
