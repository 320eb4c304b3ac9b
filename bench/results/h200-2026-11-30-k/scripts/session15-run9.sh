#!/usr/bin/env bash
# Session 15, run 9: the engine (packages/runtime, which compiles the graph-cache decode kernels) with the
# tail's butterfly top-4 merge (fb8f770): full engine GPU check on fixture-lm (includes pagerank-top4 against
# the oracle). Bundle: tools/gpu-bundle.mjs --skip-dep onnxruntime-node --with-data models/fixture-lm runtime
# graph-cache, with tools/engine-device-run.sh as .gpu-bundle/engine-run.sh.
set -uo pipefail
source .gpu-bundle/device-env.sh
TAG=s15 timeout 250 bash $B/engine-run.sh check 2>&1 | grep -v "^ok" | tail -6
cp out/*.tar.gz "$O/" 2>/dev/null; ls "$O"
