#!/usr/bin/env bash
# Session 6 device call: engine check (grouped tiny cases), walker split, every policy (evict-only).
set -uo pipefail
cd "$(dirname "$0")/.."
B=.gpu-bundle
bash $B/engine-device-run.sh check 2>&1 | grep -v "^ok" | tail -8
TAG=split bash $B/engine-device-run.sh bench --no-gemm --walker-split 2>&1 | grep -E "^evict|wrote" | tail -20
TAG=evict bash $B/engine-device-run.sh bench --no-gemm --evict-only 2>&1 | grep -E "^evict |wrote" | tail -40
