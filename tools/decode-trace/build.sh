#!/usr/bin/env bash
# Builds tools/decode-trace's two binaries (timing and trace) with nvcc alone, into $1 (default
# tools/decode-trace/bin, ignored by git). Extra nvcc flags (e.g. -DKVWALK_EXP=...) follow the folder.
# Architecture: $KVWALK_CUDA_ARCH (default 90 = sm_90, the H200). $KVWALK_KERNELS: a folder of patched kernel
# headers to build instead of packages/graph-cache/native/kernels (an experiment).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$here/bin}
shift || true
arch=${KVWALK_CUDA_ARCH:-90}
mkdir -p "$out"
inc=(-I "$root/packages/graph-cache/native/src" -I "${KVWALK_KERNELS:-$root/packages/graph-cache/native/kernels}" -I "$root/native-common/include")
flags=(-std=c++17 -O3 -gencode "arch=compute_$arch,code=sm_$arch" -lineinfo "${inc[@]}" "$@")
${NVCC:-nvcc} "${flags[@]}" -o "$out/decode_time" "$here/decode_trace.cu" &
${NVCC:-nvcc} "${flags[@]}" -DKVWALK_TRACE -o "$out/decode_trace" "$here/decode_trace.cu" &
wait -n && wait -n
