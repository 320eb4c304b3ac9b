#!/usr/bin/env bash
# Session 8, run 6: Nsight Compute sections of the grouped decode kernel without / with the deferred
# write's logit stores (Mistral-7B shapes, batch 32 x 896 keys); run 5's attempt had the wrong dist path.
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
mkdir -p "$O/ncu"
export KVWALK_GC_DIST=$PWD/$G/dist
for wg in 0 4; do
  timeout 60 ncu --clock-control none -k regex:decode_attention_gqa -c 1 --section SpeedOfLight --section MemoryWorkloadAnalysis --section SchedulerStats --section WarpStateStats --section Occupancy --section LaunchStats --section InstructionStats --section MemoryWorkloadAnalysis_Tables node tools/ncu-decode.mjs 32 896 32 8 $wg 1 > "$O/ncu/gqa-32x896-wg$wg.txt" 2>&1
  echo "== ncu grouped b=32 ctx=896 writeGraph $wg"; grep -E "Duration|DRAM Throughput|Achieved Occupancy|Registers Per|Issued Warp|No Eligible|Warp Cycles Per Issued|Executed Instructions  |L2 Hit|Mem Busy|Grid Size|Waves" "$O/ncu/gqa-32x896-wg$wg.txt" | head -14
done
