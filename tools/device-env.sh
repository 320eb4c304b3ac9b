#!/usr/bin/env bash
# Common set-up of a device script run from the folder that holds the bundle (.gpu-bundle/, built by
# tools/gpu-bundle.mjs; copy this file into it as .gpu-bundle/device-env.sh). Source it:
#   cd "$(dirname "$0")/.." && source .gpu-bundle/device-env.sh
# It restores node, the addons and the shared files (unpack.sh), puts the bundled node first on PATH,
# and sets KVWALK_COMMIT (the bundle's commit), KVWALK_SHARED (the bundled shared files), KVWALK_CUBLAS
# (the host's libcublas, for the engine's cuBLAS backend), O (results folder: $OUT, else ./out, with
# O/gc created), G and R (the bundled graph-cache and runtime packages) and B (the bundle). Every device
# script of session 7 began with these lines (bench/results/h200-2026-11-30-c/scripts/); session 12's
# scripts still set KVWALK_SHARED, KVWALK_CUBLAS and R themselves (the same values).
B=.gpu-bundle
bash $B/unpack.sh
export PATH=$PWD/$B/bin:$PATH
export KVWALK_COMMIT=$(cat $B/COMMIT)
O=${OUT:-$PWD/out}
mkdir -p "$O/gc"
G=$B/packages/graph-cache
R=$PWD/$B/packages/runtime
export KVWALK_SHARED=$PWD/$B/shared
export KVWALK_CUBLAS=${KVWALK_CUBLAS:-$(find /usr/local /usr/lib /opt -name 'libcublas.so.*' 2>/dev/null | grep -v Lt | head -1)}
