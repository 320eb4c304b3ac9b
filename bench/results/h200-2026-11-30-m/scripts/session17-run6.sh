#!/usr/bin/env bash
# Session 17, run 6: mixed prefill + decode steps with eviction on (engine.cu: the eviction guard lifted, the
# Run 6 = run 5 with the lazy graph write allowed in mixed steps (the prompt rows get query ring row -1) and a
# "walker lazy" variant in the new case.
# walker refreshes the decode rows' regions after a mixed step as after a decode step). The engine's full GPU
# check (incl. the new "eviction + mixed step == decode step + prefill" case for streaming, h2o, tova, walker and
# pagerank-top4) and compute-sanitizer memcheck over the quick engine cases (KVWALK_CHECK_ONLY=engine: the tiny
# checkpoints and the fixture cases, the new case with h2o and walker). Bundle: tools/gpu-bundle.mjs --skip-dep
# onnxruntime-node --with-data models/fixture-lm runtime; tools/engine-device-run.sh as .gpu-bundle/engine-run.sh;
# this script as .gpu-bundle/run6.sh.
set -uo pipefail
source .gpu-bundle/device-env.sh
SECONDS=0
TAG=s17-run6 timeout 300 bash $B/engine-run.sh check 2>&1 | grep -E "mixed|cases passed|FAIL|rror" | cut -c1-220 | tail -12
echo "t=$SECONDS s"
mkdir -p $O/san; (cd $R && KVWALK_CHECK_ONLY=engine timeout $((570 - SECONDS)) compute-sanitizer --tool memcheck --error-exitcode 9 node dist/gpu/check.js "$O/san/memcheck-engine.json" --quick > "$O/san/memcheck-engine.log" 2>&1); echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|cases passed|eviction \+ mixed" "$O/san/memcheck-engine.log" | cut -c1-200 | tail -4
echo "t=$SECONDS s"
