#!/usr/bin/env bash
# Session 7, run 2: graph-cache bench (fused vs deferred graph write), engine bench --graph-write.
set -uo pipefail
cd "$(dirname "$0")/.."
B=.gpu-bundle
bash $B/unpack.sh
export PATH=$PWD/$B/bin:$PATH
export KVWALK_COMMIT=$(cat $B/COMMIT)
O=${OUT:-$PWD/out}; mkdir -p "$O/gc"
G=$B/packages/graph-cache
echo "== graph-cache bench"; (cd $G && KVWALK_BENCH_OUT="$O/gc" timeout 300 node dist/bench/index.js > "$O/gc/bench.log" 2>&1; echo "rc=$?"; grep -E "^decode|memcpy|rror" "$O/gc/bench.log")
TAG=graph-write timeout ${ENGINE_TIMEOUT:-200} bash $B/engine-run.sh bench --no-gemm --graph-write 2>&1 | grep -E "^evict |wrote|rror" | tail -30
