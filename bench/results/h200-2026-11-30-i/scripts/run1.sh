#!/usr/bin/env bash
# Session 13 run 1: L2 weight prefetch on a side stream (KVWALK_WEIGHT_PREFETCH). Engine check subsets
# with prefetch on (results must not change), memcheck of the eviction subset with prefetch on, then the
# prefetch sweep (Llama-2-7B 4k, batch 8 / 32, full / streaming / walker).
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
SECONDS=0
mkdir -p "$O/engine"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv > "$O/engine/nvidia-smi.csv" 2>&1
PF="o=1,gu=0.2,down=0.2,qkv=0.2"
for only in evict lazy; do
  echo "== check $only, prefetch $PF"; (cd $R && KVWALK_WEIGHT_PREFETCH=$PF KVWALK_CHECK_ONLY=$only timeout 120 node dist/gpu/check.js "$O/engine/check-$only.json" > "$O/engine/check-$only.log" 2>&1); echo "rc=$?"; grep -vE "^ok|^  " "$O/engine/check-$only.log" | tail -4; echo "t=$SECONDS s"
done
echo "== memcheck evict, prefetch"; (cd $R && KVWALK_WEIGHT_PREFETCH=$PF KVWALK_CHECK_ONLY=evict timeout 150 compute-sanitizer --tool memcheck --error-exitcode 9 node dist/gpu/check.js "$O/engine/memcheck-evict.json" --quick > "$O/engine/memcheck-evict.log" 2>&1); echo "rc=$?"; grep -E "ERROR SUMMARY|cases passed" "$O/engine/memcheck-evict.log" | tail -3; echo "t=$SECONDS s"
echo "== prefetch sweep"; (cd $R && KVWALK_BENCH_OUT="$O/engine" timeout $((560 - SECONDS)) node dist/bench/engine.js --no-gemm --prefetch-sweep > "$O/engine/bench-prefetch.log" 2>&1); echo "rc=$?"; grep -E "^weight|^evict|rror" "$O/engine/bench-prefetch.log" | sed -E 's/ \(on its own stream\)//; s/compaction ([0-9.]+) ms\/step, walker ([0-9.]+) ms\/step/c \1, w \2/; s/evict llama2-7b ctx 4096 //'; echo "t=$SECONDS s"
cd "$O" && tar czf engine.tar.gz engine && rm -rf engine gc; ls "$O"
