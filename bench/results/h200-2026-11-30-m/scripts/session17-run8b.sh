#!/usr/bin/env bash
# Session 17, run 8b: run 8's memcheck again after the x2 variants' running prompts became the 60- and 40-token
# ones (run 8's quick "walker x2" did not compact in 8 + 8 steps, so the case's evicted-or-not guard failed it).
set -uo pipefail
source .gpu-bundle/device-env.sh
SECONDS=0
mkdir -p $O/san; (cd $R && KVWALK_CHECK_ONLY=engine timeout 300 compute-sanitizer --tool memcheck --error-exitcode 9 node dist/gpu/check.js "$O/san/memcheck-engine.json" --quick > "$O/san/memcheck-engine.log" 2>&1); echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|cases passed|eviction \+ mixed" "$O/san/memcheck-engine.log" | cut -c1-200 | tail -4
(cd $R && KVWALK_CHECK_ONLY=engine timeout 200 node dist/gpu/check.js "$O/check-engine.json" > "$O/check-engine.log" 2>&1); echo "engine subset rc=$?"; grep -E "cases passed|eviction \+ mixed|FAIL" "$O/check-engine.log" | cut -c1-200
echo "t=$SECONDS s"
