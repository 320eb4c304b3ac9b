// Launchers of the walker kernels (native/kernels/walker.cuh): plain C++ entry points taking a
// cudaStream_t, usable from the Node binding or from any other host code. They only enqueue work and
// return the launch error (cudaSuccess when enqueued); execution errors surface on the stream.
#pragma once
#include <cuda_runtime.h>
#include <cstdint>
#include "walker_params.h"

namespace kvwalk {

constexpr int kWalkThreads = 256;
constexpr int kPagerankThreads = 512;

cudaError_t launch_walk(const WalkParams& params, cudaStream_t stream);
cudaError_t launch_accumulate(float* scores, const uint32_t* counts, int64_t n, float decay, cudaStream_t stream);
cudaError_t launch_pagerank(const PagerankParams& params, cudaStream_t stream);
cudaError_t launch_empty(cudaStream_t stream);

}  // namespace kvwalk
