#!/usr/bin/env bash
# Session 11, run 1: the two candidates of session 10 (branch spill-regs-candidate, cherry-picked onto main):
# grouped storing variant with 32-bit offsets (OFF32) and the per-head fused-graph loop unrolled over two
# register sets. graph-cache check, sanitizers (quick), engine check, engine --graph-heads, decode bench.
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
export KVWALK_CUBLAS=$(find /usr/local /usr/lib /opt -name 'libcublas.so.*' 2>/dev/null | grep -v Lt | head -1)
SECONDS=0
echo "== graph-cache check"; (cd $G && timeout 150 node dist/gpu/check.js "$O/gc/check.json" > "$O/gc/check.log" 2>&1); grep -vE "^ok" "$O/gc/check.log" | tail -4; echo "t=$SECONDS s"
for tool in memcheck racecheck; do
  (cd $G && timeout 70 compute-sanitizer --tool $tool --error-exitcode 9 node dist/gpu/check.js "$O/gc/san-$tool.json" --quick > "$O/gc/san-$tool.log" 2>&1; echo "$tool rc=$?")
  grep -E "ERROR SUMMARY|RACECHECK SUMMARY|all passed|FAILURES|^FAIL" "$O/gc/san-$tool.log" | tail -3
done; echo "t=$SECONDS s"
TAG=s11-run1 timeout 200 bash $B/engine-run.sh check 2>&1 | grep -vE "^ok|^  " | tail -4; echo "t=$SECONDS s"
mkdir -p "$O/engine"; echo "== engine bench --graph-heads"; (cd $B/packages/runtime && KVWALK_BENCH_OUT="$O/engine" timeout 120 node dist/bench/engine.js --graph-heads > "$O/engine/bench-heads.log" 2>&1); grep -E "^evict|rror" "$O/engine/bench-heads.log" | tail -24; echo "t=$SECONDS s"
cp out/*.tar.gz "$O/" 2>/dev/null
# b1 x 4k fused graph (candidate 2) and the GQA rows incl. grouped b32 x 896 storing (candidate 1)
echo "== graph-cache decode bench"; (cd $G && KVWALK_BENCH_ONLY=decode KVWALK_BENCH_OUT="$O/gc" timeout $((560 - SECONDS)) node dist/bench/index.js > "$O/gc/bench.log" 2>&1); grep -E "^decode|rror" "$O/gc/bench.log" | tail -6; echo "t=$SECONDS s"
cd "$O" && tar czf gc-engine.tar.gz gc engine && rm -rf gc engine; ls "$O"

