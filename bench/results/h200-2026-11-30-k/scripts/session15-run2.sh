#!/usr/bin/env bash
# Session 15, run 2: the tail in detail (marks 6-9 inside reduce_splits), the tail run twice in the last
# block (tail2: is its first pass slowed by a cold instruction cache?), and K/V loads that stream past L2
# (cs: ld.global.cs, evict-first in L1 and L2; ef: ld.global.nc with an L2 evict_first cache policy), so
# that the kernel's code and the partials stay in L2 between launches. Binaries: tools/decode-trace/build.sh
# with KVWALK_KERNELS=<patched copy> (mutations in session15-mkvar.mjs), carried xz'd in .gpu-carry/dt/.
set -uo pipefail
O=${OUT:-$PWD/out}
W=/tmp/run; mkdir -p $W
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee $W/nvidia-smi.csv
V="cur tail2 cs ef"
for v in $V; do
  mkdir -p /tmp/dt/$v
  for b in decode_time decode_trace; do xz -dc .gpu-carry/dt/$v/$b.xz > /tmp/dt/$v/$b && chmod +x /tmp/dt/$v/$b; done
done
for v in $V; do for shape in "1 4096" "1 16384"; do tag=$(echo $shape | tr ' ' x); timeout 60 /tmp/dt/$v/decode_trace $shape 0 32 5 100 > $W/trace-$v-$tag.json || echo "trace $v $tag failed"; done; done
for shape in "1 4096" "1 16384" "8 4096" "32 4096"; do
  tag=$(echo $shape | tr ' ' x)
  for r in 1 2 3; do
    for v in cur cs ef; do
      timeout 60 /tmp/dt/$v/decode_time $shape 0 32 15 200 > $W/time-$v-$tag-r$r.json || echo "time $v $tag failed"
      echo "$v $tag r$r $(cat $W/time-$v-$tag-r$r.json)"
    done
  done
done
tar cJf $O/run2.tar.xz -C /tmp run
