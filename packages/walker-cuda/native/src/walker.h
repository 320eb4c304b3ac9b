// Launchers of the walker kernels (native/kernels/walker.cuh): plain C++ entry points taking a
// cudaStream_t, usable from the Node binding or from any other host code. They only enqueue work and
// return the launch error (cudaSuccess when enqueued); execution errors surface on the stream.
#pragma once
#include <cuda_runtime.h>
#include <cstdint>
#include "walker_params.h"

namespace kvwalk {

constexpr int kWalkThreads = 256;
constexpr int kWalkSharedThreads = 1024;
constexpr int kPagerankThreads = 512;

// Where the walker reads the graph from.
enum class WalkStaging : int {
  kGlobal = 0,  // one thread per (graph, walker), graph read through the read-only cache
  kShared = 1,        // one block per graph: graph and visit histogram in shared memory
  kSharedCounts = 2,  // one block per graph: visit histogram in shared memory, graph read from global
                      // (built for two blocks per SM when numGraphs > SMs)
};

// Largest capacity a block-per-graph staging fits on the current device (0 on error or for kGlobal).
int64_t max_shared_walk_capacity(WalkStaging staging);

// mode: 0 = the walk; 1 and 2 are benchmark probes with global staging, 3 the shared-counts walk
// forced to its two-blocks-per-SM build (see WalkMode in walker.cuh).
cudaError_t launch_walk(const WalkParams& params, WalkStaging staging, int mode, cudaStream_t stream);
cudaError_t launch_accumulate(float* scores, const uint32_t* counts, int64_t n, float decay, cudaStream_t stream);
cudaError_t launch_pagerank(const PagerankParams& params, cudaStream_t stream);
// The causal backward sweep (pagerank_causal_kernel): the same result for causal graphs in one pass.
// Shared memory capacity x 8 bytes per graph; cudaErrorInvalidValue when that does not fit the device
// (pagerank_causal_max_capacity), then use launch_pagerank.
cudaError_t launch_pagerank_causal(const PagerankParams& params, cudaStream_t stream);
int64_t pagerank_causal_max_capacity();
cudaError_t launch_empty(cudaStream_t stream);
cudaError_t launch_chase(const uint32_t* next, uint32_t start, int32_t loads, uint32_t* out, cudaStream_t stream);

}  // namespace kvwalk
