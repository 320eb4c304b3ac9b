#!/usr/bin/env bash
# Session 17, run 2: the engine's GPU check on fixture-lm (runtime compiles walker-cuda's walker.cu: the cached
# opt-in shared-memory query decides the causal PageRank sweep). Same bundle as run 1.
set -uo pipefail
source .gpu-bundle/device-env.sh
SECONDS=0
TAG=s17 timeout 300 bash $B/engine-run.sh check 2>&1 | grep -v "^ok" | tail -8
echo "t=$SECONDS s"
