#!/usr/bin/env bash
# Session 16, run 6: "mb": run 5's landed form (fine) with lse2 handed to the graph warp by warp 0 through
# shared memory and an mbarrier (arrive: release; try_wait.parity: acquire; built with -DKVWALK_EXP_MBAR), instead
# of computed by the graph warp: the speed of run 4's bar.arrive / bar.sync hand-off (fin) without its racecheck
# reports, if racecheck models mbarriers. graph-cache GPU check, memcheck and racecheck over the quick cases,
# A/B against the build before session 16 (_old: 1dac501) through the addon, tools/decode-trace: fine against mb.
set -uo pipefail
source .gpu-bundle/device-env.sh
W=/tmp/run; mkdir -p $W/gc
SECONDS=0
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee $W/nvidia-smi.csv
echo "== graph-cache check"; timeout 150 node $G/dist/gpu/check.js "$W/gc/graph-cache-gpu-check.json" > "$W/gc/check.log" 2>&1; echo "check rc=$?"; grep -v "^ok" "$W/gc/check.log" | tail -4; echo "t=$SECONDS s"
for tool in memcheck racecheck; do
  timeout 170 compute-sanitizer --tool $tool --error-exitcode 9 node $G/dist/gpu/check.js "$W/gc/sanitize-$tool.json" --quick > "$W/gc/sanitize-$tool.log" 2>&1
  rc=$?; echo "graph-cache $tool rc=$rc"; grep -E "ERROR SUMMARY|RACECHECK SUMMARY|passed" "$W/gc/sanitize-$tool.log" | tail -2
  if [ $tool = racecheck ] && [ $rc = 0 ]; then rm -f "$W/gc/sanitize-racecheck.log"; fi
done; echo "t=$SECONDS s"
export AB_CASES='[{"batch":1,"length":4096,"writeGraph":0},{"batch":1,"length":4096,"writeGraph":1},{"batch":1,"length":16384,"writeGraph":0},{"batch":1,"length":16384,"writeGraph":1},{"batch":1,"length":32768,"writeGraph":1},{"batch":8,"length":4096,"writeGraph":0},{"batch":8,"length":4096,"writeGraph":1},{"batch":32,"length":4096,"writeGraph":0},{"batch":32,"length":4096,"writeGraph":1},{"batch":1,"length":4096,"writeGraph":0,"numKvHeads":8},{"batch":1,"length":4096,"writeGraph":1,"numKvHeads":8},{"batch":32,"length":896,"writeGraph":0,"numKvHeads":8,"grouped":1},{"batch":32,"length":896,"writeGraph":1,"numKvHeads":8,"grouped":1}]'
AB_ROUNDS=7 AB_OUT="$W/ab-run6.json" timeout 240 node tools/decode-ab.mjs old=$B/packages/_old/graph-cache/dist new=$G/dist 2>&1 | tail -26; echo "t=$SECONDS s"
V="fine mb"
for v in $V; do
  mkdir -p /tmp/dt/$v
  for b in decode_time decode_trace; do xz -dc .gpu-carry/dt/$v/$b.xz > /tmp/dt/$v/$b && chmod +x /tmp/dt/$v/$b; done
  timeout 60 /tmp/dt/$v/decode_trace 1 4096 0 32 5 100 > $W/trace-$v-1x4096.json || echo "trace $v failed"
done
for shape in "1 4096" "1 16384" "8 4096"; do tag=$(echo $shape | tr ' ' x); for r in 1 2 3; do for v in $V; do
  timeout 60 /tmp/dt/$v/decode_time $shape 0 32 15 200 > $W/time-$v-$tag-r$r.json; echo "$v $tag r$r $(cut -c60-200 $W/time-$v-$tag-r$r.json)"
done; done; done
echo "t=$SECONDS s"
tar cJf $O/run6.tar.xz -C /tmp run
