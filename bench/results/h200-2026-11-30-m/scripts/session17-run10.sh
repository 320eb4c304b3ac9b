#!/usr/bin/env bash
# Session 17, run 10 (review): after prefill() and mixed() began to share check_prompts / stage_prompt_rows /
# start_sequences and decode() / mixed() walker_due: the engine's full GPU check and memcheck over the quick
# engine cases. Bundle: tools/gpu-bundle.mjs --skip-dep onnxruntime-node --with-data models/fixture-lm runtime;
# tools/engine-device-run.sh as .gpu-bundle/engine-run.sh; this script as .gpu-bundle/run10.sh.
set -uo pipefail
source .gpu-bundle/device-env.sh
SECONDS=0
TAG=s17-run10 timeout 300 bash $B/engine-run.sh check 2>&1 | grep -E "mixed|cases passed|FAIL|rror|errors:" | cut -c1-220 | tail -12
echo "t=$SECONDS s"
mkdir -p $O/san; (cd $R && KVWALK_CHECK_ONLY=engine timeout $((560 - SECONDS)) compute-sanitizer --tool memcheck --error-exitcode 9 node dist/gpu/check.js "$O/san/memcheck-engine.json" --quick > "$O/san/memcheck-engine.log" 2>&1); echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|cases passed|FAIL" "$O/san/memcheck-engine.log" | cut -c1-200 | tail -4
echo "t=$SECONDS s"
