#!/usr/bin/env bash
# Session 15, run 3: the tail's top-4 as one warp's butterfly merge of the splits' sorted lists (tm: the
# working tree's kernels) and, on top, the block merge as shuffles within warps plus one warp's merge of the
# four warp lists (bm: session15-bm.mjs applied to a copy), against HEAD's kernels (cur): CUDA-event timing
# (three alternating rounds) and the batch 1 x 4k trace.
set -uo pipefail
O=${OUT:-$PWD/out}
W=/tmp/run; mkdir -p $W
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee $W/nvidia-smi.csv
V="cur tm bm"
for v in $V; do
  mkdir -p /tmp/dt/$v
  for b in decode_time decode_trace; do xz -dc .gpu-carry/dt/$v/$b.xz > /tmp/dt/$v/$b && chmod +x /tmp/dt/$v/$b; done
done
for v in $V; do timeout 60 /tmp/dt/$v/decode_trace 1 4096 0 32 5 100 > $W/trace-$v-1x4096.json || echo "trace $v failed"; done
for shape in "1 4096" "1 16384" "1 32768" "8 4096" "32 4096"; do
  tag=$(echo $shape | tr ' ' x)
  for r in 1 2 3; do
    for v in $V; do
      timeout 60 /tmp/dt/$v/decode_time $shape 0 32 15 200 > $W/time-$v-$tag-r$r.json || echo "time $v $tag failed"
      echo "$v $tag r$r $(cat $W/time-$v-$tag-r$r.json)"
    done
  done
done
tar cJf $O/run3.tar.xz -C /tmp run
