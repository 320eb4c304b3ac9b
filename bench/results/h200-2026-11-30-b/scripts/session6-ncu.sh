#!/usr/bin/env bash
# Session 6: Nsight Compute on the grouped-query decode kernel, batch 32, with and without the graph,
# at 4096 keys and at 896 (the engine's 20% budget).
set -uo pipefail
cd "$(dirname "$0")/.."
B=.gpu-bundle
bash $B/unpack.sh
export PATH=$PWD/$B/bin:$PATH
O=${OUT:-$PWD/out}; mkdir -p "$O/ncu"
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
for len in 4096 896; do for g in 0 1; do for grouped in 1 0; do
  n=gqa-b32-len$len-graph$g-grouped$grouped
  timeout 100 "$NCU" --clock-control none -k regex:decode_attention --launch-skip 3 --launch-count 1 \
    --section SpeedOfLight --section WarpStateStats --section InstructionStats --section Occupancy --section LaunchStats --section MemoryWorkloadAnalysis \
    node $B/packages/graph-cache/dist/bench/profile-case.js "{\"batch\":32,\"numHeads\":32,\"numKvHeads\":8,\"headDim\":128,\"length\":$len,\"writeGraph\":$g,\"grouped\":$grouped}" > "$O/ncu/$n.txt" 2>&1
  echo "== $n"; grep -E "profile-case|^    Duration|Registers Per|Achieved Occupancy|Executed Ipc A|Stall Long|Warp Cycles Per Issued|Memory Throughput|Executed Instructions  |Block Limit Reg|Grid Size" "$O/ncu/$n.txt" | sed 's/  */ /g' | head -14
done; done; done
