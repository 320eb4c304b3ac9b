#!/usr/bin/env bash
# Session 6 device call 5: per-kernel profile of Llama-2-7B batch-32 decode steps (Nsight Systems, when
# installed), then the eviction bench at 4k and 16k contexts.
set -uo pipefail
cd "$(dirname "$0")/.."
B=.gpu-bundle
bash $B/unpack.sh
export PATH=$PWD/$B/bin:$PATH
export KVWALK_CUBLAS=$(find / -name 'libcublas.so.*' 2>/dev/null | grep -v Lt | head -1)
O=${OUT:-$PWD/out}; mkdir -p "$O/nsys"
NSYS=$(command -v nsys || ls /usr/local/cuda*/bin/nsys /opt/nvidia/nsight-systems/*/bin/nsys 2>/dev/null | head -1)
echo "nsys: ${NSYS:-none}"
if [ -n "$NSYS" ]; then
  for p in streaming walker; do
    timeout 120 "$NSYS" profile --cuda-graph-trace=node -o /tmp/steps-$p -f true node $B/packages/runtime/dist/bench/step-kernels.js $p 32 2>&1 | grep -E "step-kernels|rror" | head -3
    "$NSYS" stats --report cuda_gpu_kern_sum --format csv -o "$O/nsys/kern-$p" /tmp/steps-$p.nsys-rep > /dev/null 2>&1
    ls "$O/nsys" | head; f=$(ls "$O"/nsys/kern-$p*.csv 2>/dev/null | head -1)
    [ -n "$f" ] && cut -d, -f1-4,9 "$f" | head -22 | cut -c1-160
  done
fi
TAG=evict16 bash $B/engine-run.sh bench --no-gemm --evict-only 2>&1 | grep -E "^evict .*ctx 16384|wrote|rror" | tail -40
