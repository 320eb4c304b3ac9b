// Launchers of the walker kernels: grid sizing and launch-error reporting, nothing else.
#include "walker.h"
#include "walker.cuh"

namespace kvwalk {

cudaError_t launch_walk(const WalkParams& p, cudaStream_t stream) {
  const uint64_t threads = static_cast<uint64_t>(p.numGraphs) * p.walkers;
  if (threads == 0 || p.steps == 0) return cudaSuccess;
  const uint64_t blocks = (threads + kWalkThreads - 1) / kWalkThreads;
  if (blocks > 0x7fffffffull) return cudaErrorInvalidConfiguration;
  walk_kernel<<<static_cast<unsigned>(blocks), kWalkThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

cudaError_t launch_accumulate(float* scores, const uint32_t* counts, int64_t n, float decay, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  const int64_t blocks = (n + 255) / 256;
  if (blocks > 0x7fffffffll) return cudaErrorInvalidConfiguration;
  accumulate_kernel<<<static_cast<unsigned>(blocks), 256, 0, stream>>>(scores, counts, n, decay);
  return cudaGetLastError();
}

cudaError_t launch_pagerank(const PagerankParams& p, cudaStream_t stream) {
  if (p.numGraphs == 0) return cudaSuccess;
  if (p.numGraphs > 0x7fffffffll) return cudaErrorInvalidConfiguration;
  pagerank_kernel<kPagerankThreads><<<static_cast<unsigned>(p.numGraphs), kPagerankThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

cudaError_t launch_empty(cudaStream_t stream) {
  empty_kernel<<<1, 32, 0, stream>>>();
  return cudaGetLastError();
}

}  // namespace kvwalk
