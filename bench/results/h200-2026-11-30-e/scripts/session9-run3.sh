#!/usr/bin/env bash
# Session 9, run 3 (final code): engine check with the fixture model (the 512-thread per-KV-head
# selection inside the engine, prompt scoring and the walker on per-KV-head graphs of a tiny GQA
# checkpoint, every earlier case), then the eviction table's decode steps at 4k and 16k with the shipped
# defaults (Mistral-7B's walker now on graphs per KV head).
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
SECONDS=0
TAG=s9-final timeout 200 bash $B/engine-run.sh check 2>&1 | grep -vE "^ok|^  " | tail -6; echo "t=$SECONDS s"
TAG=evict timeout $((560 - SECONDS)) bash $B/engine-run.sh bench --no-gemm --evict-only --steps-only 2>&1 | grep -E "^evict |wrote|rror" | tail -64; echo "t=$SECONDS s"
cp out/*.tar.gz "$O/" 2>/dev/null; rmdir "$O/gc" 2>/dev/null; ls "$O"
