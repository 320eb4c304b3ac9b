#!/usr/bin/env bash
# Session 15, run 5: is the tail's graph lane (top-4 merge + node write, ~1900 cycles at batch 1 x 4k) slowed
# by a cold instruction cache? twice: the lane's work run twice in a rolled loop (marks 13 and 11 after each
# pass); ool: the lane's work as one out-of-line function; warmexit: that function also run dry (no loads,
# no store) by every block that is not its (sequence, head)'s last, before it exits; warmstart: run dry by
# every block before its PDL wait. Against tm (fb8f770). Mutations: session15-mkvar.mjs.
set -uo pipefail
O=${OUT:-$PWD/out}
W=/tmp/run; mkdir -p $W
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee $W/nvidia-smi.csv
V="tm twice ool warmexit warmstart"
for v in $V; do
  mkdir -p /tmp/dt/$v
  for b in decode_time decode_trace; do xz -dc .gpu-carry/dt/$v/$b.xz > /tmp/dt/$v/$b && chmod +x /tmp/dt/$v/$b; done
  timeout 60 /tmp/dt/$v/decode_trace 1 4096 0 32 5 100 > $W/trace-$v-1x4096.json || echo "trace $v failed"
done
for shape in "1 4096" "1 16384" "8 4096"; do
  tag=$(echo $shape | tr ' ' x)
  for r in 1 2 3; do
    [ "$tag" != 1x4096 ] && [ $r -gt 1 ] && continue
    for v in $V; do
      timeout 60 /tmp/dt/$v/decode_time $shape 0 32 15 200 > $W/time-$v-$tag-r$r.json; echo "$v $tag r$r $(cut -c60-200 $W/time-$v-$tag-r$r.json)"
    done
  done
done
tar cJf $O/run5.tar.xz -C /tmp run
