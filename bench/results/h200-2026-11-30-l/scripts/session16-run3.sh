#!/usr/bin/env bash
# Session 16, run 3: tools/decode-trace builds only (no Node), after run 2 showed that the split blocks' own
# lists (fogl) took ~580 cycles off every split block but made the graph warp the tail's critical path.
#   fo        run 2's binaries (reference)
#   fogl2     fogl with the graph warp's lists (lane, lane + 32, + 64, + 96) loaded with its first loads and
#             merged as a tree (-DKVWALK_EXP_GL2)
#   foglnogw  fogl2 with the graph warp returning at once (attribution: no node is written)
#   glho      fogl2 with lse2 handed over by warp 0 (bar.arrive / bar.sync on named barrier 2,
#             -DKVWALK_EXP_HANDOFF) instead of computed by the graph warp
set -uo pipefail
W=/tmp/run; mkdir -p $W
SECONDS=0
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee $W/nvidia-smi.csv
V="fo fogl2 foglnogw glho"
for v in $V; do
  mkdir -p /tmp/dt/$v
  for b in decode_time decode_trace; do xz -dc .gpu-carry/dt/$v/$b.xz > /tmp/dt/$v/$b && chmod +x /tmp/dt/$v/$b; done
  timeout 60 /tmp/dt/$v/decode_trace 1 4096 0 32 5 100 > $W/trace-$v-1x4096.json || echo "trace $v failed"
done
for shape in "1 4096" "1 16384" "8 4096" "32 4096"; do tag=$(echo $shape | tr ' ' x); n=3; [ "$shape" = "32 4096" ] && n=2; for r in $(seq $n); do for v in $V; do
  timeout 60 /tmp/dt/$v/decode_time $shape 0 32 15 200 > $W/time-$v-$tag-r$r.json; echo "$v $tag r$r $(cut -c60-200 $W/time-$v-$tag-r$r.json)"
done; done; done
echo "t=$SECONDS s"
tar cJf $OUT/run3.tar.xz -C /tmp run
