#!/usr/bin/env bash
# Session 8, run 5 (final code): engine check with the fixture model (deferred == fused on fixture-lm,
# walker eviction perplexity), Nsight Compute sections of the grouped decode kernel without / with the
# deferred write's logit stores (Mistral-7B shapes, batch 32 x 896 keys), graph-cache decode bench rows
# (with per-case progress).
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
SECONDS=0
TAG=s8-final timeout 200 bash $B/engine-run.sh check 2>&1 | grep -vE "^ok|^  " | tail -6; echo "t=$SECONDS s"
mkdir -p "$O/ncu"
for wg in 0 4; do
  timeout 60 ncu --clock-control none -k regex:decode_attention_gqa -c 1 --section SpeedOfLight --section MemoryWorkloadAnalysis --section SchedulerStats --section WarpStateStats --section Occupancy --section LaunchStats --section InstructionStats node tools/ncu-decode.mjs 32 896 32 8 $wg 1 > "$O/ncu/gqa-32x896-wg$wg.txt" 2>&1
  echo "== ncu grouped b=32 ctx=896 writeGraph $wg"; grep -E "Duration|DRAM Throughput|Achieved Occupancy|Registers Per|Issued Warp|No Eligible|Warp Cycles Per Issued|Executed Instructions  |L2 Hit|Mem Busy" "$O/ncu/gqa-32x896-wg$wg.txt" | head -12
done; echo "t=$SECONDS s"
echo "== graph-cache decode bench"; (cd $G && KVWALK_BENCH_ONLY=decode KVWALK_BENCH_OUT="$O/gc" timeout 170 node dist/bench/index.js > "$O/gc/bench.log" 2>&1); grep -E "^\[|memcpy|rror" "$O/gc/bench.log" | tail -40; echo "t=$SECONDS s"
cp out/*.tar.gz "$O/" 2>/dev/null; ls "$O"
