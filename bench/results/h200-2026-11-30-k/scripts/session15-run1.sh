#!/usr/bin/env bash
# Session 15, run 1: per-block timeline (tools/decode-trace, trace build) of the per-head decode kernel with
# and without the graph write, and its CUDA-event timing (timing build), for the kernels at HEAD (cur) and
# two experiments: the graph variant on the baseline's unpipelined tile loop at 4 (nopipe) and 7 (nopipe7)
# blocks/SM. Binaries built here with tools/decode-trace/build.sh, carried xz'd in .gpu-carry/dt/<variant>/.
set -uo pipefail
O=${OUT:-$PWD/out}
mkdir -p "$O"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee "$O/nvidia-smi.csv"
V="cur nopipe nopipe7"
for v in $V; do
  mkdir -p /tmp/dt/$v
  for b in decode_time decode_trace; do xz -dc .gpu-carry/dt/$v/$b.xz > /tmp/dt/$v/$b && chmod +x /tmp/dt/$v/$b; done
done
for shape in "1 4096" "1 16384" "8 4096"; do
  tag=$(echo $shape | tr ' ' x)
  for v in $V; do timeout 60 /tmp/dt/$v/decode_trace $shape 0 32 5 100 > "$O/trace-$v-$tag.json" || echo "trace $v $tag failed"; done
  for r in 1 2; do
    for v in $V; do
      timeout 60 /tmp/dt/$v/decode_time $shape 0 32 15 200 > "$O/time-$v-$tag-r$r.json" || echo "time $v $tag failed"
      echo "$v $tag r$r $(cat "$O/time-$v-$tag-r$r.json")"
    done
  done
done
