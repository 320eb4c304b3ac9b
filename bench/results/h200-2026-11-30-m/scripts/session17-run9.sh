#!/usr/bin/env bash
# Session 17, run 9: the mixed-eviction case after it also compares the final eviction state (graph nodes and
# scores of every layer and region) between the mixed step and the decode step + prefill: the engine subset of
# the GPU check (KVWALK_CHECK_ONLY=engine, full cases) and its quick set under memcheck.
# Bundle: tools/gpu-bundle.mjs --skip-dep onnxruntime-node --with-data models/fixture-lm runtime; this script as .gpu-bundle/run9.sh.
set -uo pipefail
source .gpu-bundle/device-env.sh
SECONDS=0
(cd $R && KVWALK_CHECK_ONLY=engine timeout 200 node dist/gpu/check.js "$O/check-engine.json" > "$O/check-engine.log" 2>&1); echo "engine subset rc=$?"; grep -E "cases passed|eviction \+ mixed|FAIL" "$O/check-engine.log" | cut -c1-220
mkdir -p $O/san; (cd $R && KVWALK_CHECK_ONLY=engine timeout 300 compute-sanitizer --tool memcheck --error-exitcode 9 node dist/gpu/check.js "$O/san/memcheck-engine.json" --quick > "$O/san/memcheck-engine.log" 2>&1); echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|cases passed|eviction \+ mixed|FAIL" "$O/san/memcheck-engine.log" | cut -c1-200 | tail -4
echo "t=$SECONDS s"
