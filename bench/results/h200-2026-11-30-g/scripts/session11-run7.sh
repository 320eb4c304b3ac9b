#!/usr/bin/env bash
# Session 11, run 7: run 6 again with ncu (run 6's nsys reports, 0.96 GB, could not come back and its
# summaries were not written): per-kernel GPU durations of ~2 batch-32 decode steps of Llama-2-7B, 20%
# budget, streaming (engine bench --profile-steps; launches 6000..6699, inside the 64 timed steps).
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
export KVWALK_CUBLAS=$(find /usr/local /usr/lib /opt -name 'libcublas.so.*' 2>/dev/null | grep -v Lt | head -1)
SECONDS=0
mkdir -p "$O/engine"
R=$PWD/$B/packages/runtime
(cd $R && KVWALK_PROFILE_POLICY=streaming timeout 170 ncu --clock-control none --cache-control none --metrics gpu__time_duration.sum --csv --launch-skip 6000 --launch-count 700 node dist/bench/engine.js --no-gemm --profile-steps > "$O/engine/ncu-streaming.csv" 2> "$O/engine/ncu-streaming.err")
echo "rc=$?"; tail -3 "$O/engine/ncu-streaming.err"; wc -l "$O/engine/ncu-streaming.csv"; echo "t=$SECONDS s"
cd "$O" && tar czf engine.tar.gz engine && rm -rf engine gc; ls -la "$O"
