#!/usr/bin/env bash
# Engine GPU run: check + benchmarks. Usage: bash .gpu-bundle/engine-run.sh [check|bench|all] [--quick]
set -uo pipefail
cd "$(dirname "$0")/.."
B=.gpu-bundle
bash $B/unpack.sh  # node, the addons (stripped + xz) and shared files (tools/gpu-bundle.mjs)
export PATH=$PWD/$B/bin:$PATH
export KVWALK_SHARED=$PWD/$B/shared
export KVWALK_COMMIT=$(cat $B/COMMIT 2>/dev/null || echo unknown)
export KVWALK_CUBLAS=$(find / -name 'libcublas.so.*' 2>/dev/null | grep -v Lt | head -1)
echo "node $(node --version); cublas: $KVWALK_CUBLAS"
FINAL=${OUT:-$PWD/out}; mkdir -p "$FINAL"; R=$(mktemp -d)
trap "tar czf \"$FINAL/engine-${1:-all}${TAG:+-$TAG}.tar.gz\" -C \"$R\" ." EXIT
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv > "$R/nvidia-smi.csv" 2>&1
what=${1:-all}; shift || true
if [ "$what" = check ] || [ "$what" = all ]; then
  echo "== engine gpu check"; node $B/packages/runtime/dist/gpu/check.js "$R/runtime-gpu-check.json" "$@" 2>&1 | tee "$R/check.log" | grep -v "^  " | tail -60
fi
if [ "$what" = bench ] || [ "$what" = all ]; then
  echo "== engine bench"; (cd $B/packages/runtime && KVWALK_BENCH_OUT="$R" node dist/bench/engine.js "$@") 2>&1 | tee "$R/bench.log" | tail -60
fi
if [ "$what" = sanitize ] || [ "$what" = racecheck ]; then
  tools="memcheck racecheck"; [ "$what" = racecheck ] && tools=racecheck
  for tool in $tools; do
    echo "== compute-sanitizer $tool"
    only=${CHECK_ONLY:-}; [ $tool = racecheck ] && only=${RACE_ONLY:-$only}
    KVWALK_CHECK_ONLY=$only timeout ${SAN_TIMEOUT:-250} compute-sanitizer --tool $tool --error-exitcode 9 node $B/packages/runtime/dist/gpu/check.js "$R/sanitize-$tool.json" --quick > "$R/sanitize-$tool.log" 2>&1; echo "rc=$? (only=$only)"; grep -E "ERROR SUMMARY|RACECHECK SUMMARY|cases passed|FAIL" "$R/sanitize-$tool.log" | tail -6
  done
fi
