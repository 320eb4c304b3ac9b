#!/usr/bin/env bash
# Session 14, run 10: the engine with pagerank-top4's solver chosen at creation (no power-iteration buffers
# for the sweep): full engine GPU check (fixture-lm; includes pagerank-top4 against the oracle).
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
TAG=s14c timeout 200 bash $B/engine-run.sh check 2>&1 | grep -v "^ok" | tail -4
cp out/*.tar.gz "$O/" 2>/dev/null; ls "$O"
