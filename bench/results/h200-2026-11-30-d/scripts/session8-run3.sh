#!/usr/bin/env bash
# Session 8, run 3: skinny GEMM with cp.async.bulk (TMA) copies: GEMM check cases (+ memcheck/racecheck),
# bench --skinny --no-steps (GEMM rows and the copy x warps x depth sweep), Nsight Compute sections of
# three configurations, decode steps with the skinny kernel off vs on.
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
SECONDS=0
R=$B/packages/runtime
mkdir -p "$O/rt"
export KVWALK_SHARED=$PWD/$B/shared
KVWALK_CHECK_ONLY=gemm timeout 100 node $R/dist/gpu/check.js "$O/rt/gemm-check.json" > "$O/rt/gemm-check.log" 2>&1
grep -vE "^ok|^  " "$O/rt/gemm-check.log" | tail -4; echo "t=$SECONDS s"
for tool in memcheck racecheck; do
  KVWALK_CUBLAS=/nonexistent KVWALK_CHECK_ONLY=gemm timeout 150 compute-sanitizer --tool $tool --error-exitcode 9 node $R/dist/gpu/check.js "$O/rt/sanitize-gemm-$tool.json" --quick > "$O/rt/sanitize-gemm-$tool.log" 2>&1
  echo "runtime gemm $tool rc=$?"; grep -E "ERROR SUMMARY|RACECHECK SUMMARY|passed|FAIL" "$O/rt/sanitize-gemm-$tool.log" | tail -3
done; echo "t=$SECONDS s"
export KVWALK_ENGINE_ADDON=$PWD/$R/build/Release/engine.node
for cfg in "32 12288 4096 1 3 4 8" "32 4096 4096 4 3 8 4" "32 22016 4096 1 3 8 4"; do
  echo "== ncu $cfg"
  timeout 60 ncu --clock-control none -k regex:gemm_skinny -c 1 --section SpeedOfLight --section MemoryWorkloadAnalysis --section SchedulerStats --section WarpStateStats --section Occupancy --section LaunchStats node tools/ncu-gemm.mjs $cfg > "$O/rt/ncu-${cfg// /-}.txt" 2>&1
  grep -E "Duration|DRAM Throughput|Memory Throughput|L1/TEX Hit|L2 Hit|Achieved Occupancy|Registers|Issued Warp|No Eligible|Stall|One or More|Warp Cycles Per Issued|Block Limit|Waves Per SM|Compute \(SM\) Throughput|Mem Busy|Max Bandwidth" "$O/rt/ncu-${cfg// /-}.txt" | grep -vE "Block Limit (Barriers|SM|Warps)" | head -16
done; echo "t=$SECONDS s"
TAG=skinny3 timeout 200 bash $B/engine-run.sh bench --no-gemm --skinny 2>&1 | grep -E "^skinny|^evict|wrote|rror" | tail -150; echo "t=$SECONDS s"
cp out/*.tar.gz "$O/" 2>/dev/null; ls "$O"
