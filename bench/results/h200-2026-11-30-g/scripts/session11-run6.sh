#!/usr/bin/env bash
# Session 11, run 6: where a batch-32 decode step of Llama-2-7B at a 20% budget spends its GPU time, per
# kernel (the 2.5x goal needs 8.31 ms against 8.49 streaming / 8.65 walker): engine bench --profile-steps
# (64 steps after 4 warm-ups, CUDA graphs as shipped) under nsys (kernel summary), streaming and walker;
# ncu's per-kernel durations if nsys is not installed.
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
export KVWALK_CUBLAS=$(find /usr/local /usr/lib /opt -name 'libcublas.so.*' 2>/dev/null | grep -v Lt | head -1)
SECONDS=0
mkdir -p "$O/engine"
R=$PWD/$B/packages/runtime
NSYS=$(command -v nsys || find / -name nsys -type f -perm -u+x 2>/dev/null | head -1)
echo "nsys: ${NSYS:-none}; ncu: $(command -v ncu || echo none)"
for pol in streaming walker; do
  if [ -n "$NSYS" ]; then
    (cd $R && KVWALK_PROFILE_POLICY=$pol timeout 150 "$NSYS" profile --trace=cuda --cuda-graph-trace=node --force-overwrite true -o "$O/engine/prof-$pol" node dist/bench/engine.js --no-gemm --profile-steps > "$O/engine/prof-$pol.log" 2>&1)
    "$NSYS" stats --report cuda_gpu_kern_sum --format csv --output "$O/engine/prof-$pol" "$O/engine/prof-$pol.nsys-rep" > /dev/null 2>&1
    grep profile-steps "$O/engine/prof-$pol.log"; head -25 "$O/engine/prof-$pol"*kern_sum*.csv | cut -c1-220
  else
    (cd $R && KVWALK_PROFILE_POLICY=$pol timeout 200 ncu --clock-control none --cache-control none --metrics gpu__time_duration.sum --csv --launch-skip 3000 --launch-count 700 node dist/bench/engine.js --no-gemm --profile-steps > "$O/engine/ncu-$pol.csv" 2> "$O/engine/ncu-$pol.err")
    tail -3 "$O/engine/ncu-$pol.err"; wc -l "$O/engine/ncu-$pol.csv"
  fi
  echo "t=$SECONDS s"
done
rm -f "$O"/engine/*.sqlite
cd "$O" && tar czf engine.tar.gz engine && rm -rf engine gc; ls -la "$O"
