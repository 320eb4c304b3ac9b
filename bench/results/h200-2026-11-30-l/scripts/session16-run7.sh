#!/usr/bin/env bash
# Session 16, run 7: the landed form (working tree after 056608f, "final": lse2 handed to the graph warp by an
# mbarrier; run 6's mb made unconditional): the engine's full GPU check on fixture-lm (packages/runtime
# compiles the graph-cache decode kernels), tools/decode-trace final against fine (056608f), and the
# graph-cache decode benchmark's short protocol (KVWALK_BENCH_ONLY=decode). Bundle: tools/gpu-bundle.mjs
# --skip-dep onnxruntime-node --with-data models/fixture-lm runtime graph-cache, tools/engine-device-run.sh as
# .gpu-bundle/engine-run.sh; this script travels as .gpu-bundle/run7.sh (bench/results stays behind: carry limit).
set -uo pipefail
source .gpu-bundle/device-env.sh
W=/tmp/run; mkdir -p $W
SECONDS=0
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee $W/nvidia-smi.csv
TAG=s16 timeout 250 bash $B/engine-run.sh check 2>&1 | grep -v "^ok" | tail -8
cp out/*.tar.gz $W/ 2>/dev/null; echo "t=$SECONDS s"
V="fine final"
for v in $V; do
  mkdir -p /tmp/dt/$v
  for b in decode_time decode_trace; do xz -dc .gpu-carry/dt/$v/$b.xz > /tmp/dt/$v/$b && chmod +x /tmp/dt/$v/$b; done
  timeout 60 /tmp/dt/$v/decode_trace 1 4096 0 32 5 100 > $W/trace-$v-1x4096.json || echo "trace $v failed"
done
for shape in "1 4096" "1 16384" "8 4096"; do tag=$(echo $shape | tr ' ' x); n=3; [ "$shape" = "1 4096" ] && n=5; for r in $(seq $n); do for v in $V; do
  timeout 60 /tmp/dt/$v/decode_time $shape 0 32 15 200 > $W/time-$v-$tag-r$r.json; echo "$v $tag r$r $(cut -c60-200 $W/time-$v-$tag-r$r.json)"
done; done; done
echo "t=$SECONDS s"
echo "== decode bench (decode)"; KVWALK_BENCH_ONLY=decode KVWALK_BENCH_OUT=$W timeout 170 node $G/dist/bench/index.js > $W/bench.log 2>&1; echo "bench rc=$?"; grep -vE "^\[" $W/bench.log | cut -c1-600 | tail -8; echo "t=$SECONDS s"
tar cJf $O/run7.tar.xz -C /tmp run
