#!/usr/bin/env bash
# Session 16, run 2: tools/decode-trace builds only (no Node). Variants of run 1's tn4 (graph warp on its
# own; commit 1 of session 16 with the experiment switches of decode_attention.cuh):
#   tn4     run 1's binaries (reducers: warp 0 writes outputs d and d + 96)
#   fo      -DKVWALK_EXP_F2: the reducers write output pairs (float2 loads, warps 0-1 at head dim 128)
#   fonogw  fo, -DKVWALK_EXP_NOGW: the graph warp returns at once (attribution only: no node is written)
#   folv    fo, -DKVWALK_EXP_LVFIRST: split-weight loads before the output loads (both kernels)
#   fogl    fo, -DKVWALK_EXP_GL: no block merge in the split blocks; every key group's top-4 list goes to the
#           workspace and the tail's graph warp merges S x G lists (G = 8 at head dim 128)
set -uo pipefail
W=/tmp/run; mkdir -p $W
SECONDS=0
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee $W/nvidia-smi.csv
V="tn4 fo fonogw folv fogl"
for v in $V; do
  mkdir -p /tmp/dt/$v
  for b in decode_time decode_trace; do xz -dc .gpu-carry/dt/$v/$b.xz > /tmp/dt/$v/$b && chmod +x /tmp/dt/$v/$b; done
  timeout 60 /tmp/dt/$v/decode_trace 1 4096 0 32 5 100 > $W/trace-$v-1x4096.json || echo "trace $v failed"
done
for shape in "1 4096" "1 16384" "8 4096" "32 4096"; do tag=$(echo $shape | tr ' ' x); n=3; [ "$shape" = "32 4096" ] && n=2; for r in $(seq $n); do for v in $V; do
  timeout 60 /tmp/dt/$v/decode_time $shape 0 32 15 200 > $W/time-$v-$tag-r$r.json; echo "$v $tag r$r $(cut -c60-200 $W/time-$v-$tag-r$r.json)"
done; done; done
echo "t=$SECONDS s"
tar cJf $OUT/run2.tar.xz -C /tmp run
