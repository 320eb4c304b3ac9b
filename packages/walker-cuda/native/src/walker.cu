// Launchers of the walker kernels: grid sizing and launch-error reporting, nothing else.
#include <atomic>

#include "walker.h"
#include "walker.cuh"

namespace kvwalk {
namespace {

// The current device's opt-in shared memory per block (0 when it cannot be asked), queried once per device:
// the capacity checks run on every launch and the answer never changes.
int64_t optin_shared_bytes() {
  constexpr int kCachedDevices = 64;
  static std::atomic<int> cached[kCachedDevices] = {};  // 0: not asked yet, else the bytes + 1
  int dev = 0;
  int optin = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  const bool cacheable = dev >= 0 && dev < kCachedDevices;
  if (cacheable) {
    const int c = cached[dev].load(std::memory_order_relaxed);
    if (c > 0) return c - 1;
  }
  if (cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  if (cacheable) cached[dev].store(optin + 1, std::memory_order_relaxed);
  return optin;
}

}  // namespace

int64_t max_shared_walk_capacity(WalkStaging staging) {
  if (staging == WalkStaging::kGlobal) return 0;
  return optin_shared_bytes() / walk_shared_bytes(1, staging == WalkStaging::kShared);
}

cudaError_t launch_walk(const WalkParams& p, WalkStaging staging, int mode, cudaStream_t stream) {
  const uint64_t threads = static_cast<uint64_t>(p.numGraphs) * p.walkers;
  if (threads == 0 || p.steps == 0) return cudaSuccess;
  if (staging != WalkStaging::kGlobal) {
    if (p.nodeStride > 1) return cudaErrorInvalidValue;  // strided (AoS) graphs: global staging only
    const bool stageGraph = staging == WalkStaging::kShared;
    if ((mode != kWalkFull && !(mode == kWalkSharedCounts2 && !stageGraph)) || p.numGraphs > 0x7fffffffll) return cudaErrorInvalidValue;
    // The two-blocks-per-SM build (32 registers) wins once there are more graphs than SMs and
    // loses slightly below (H200 sweep in bench/results/walker-cuda-bench.json).
    int dev = 0;
    int sms = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) return cudaGetLastError();
    const bool twoBlocks = !stageGraph && (mode == kWalkSharedCounts2 || p.numGraphs > sms);
    if (p.capacity > max_shared_walk_capacity(staging)) return cudaErrorInvalidValue;
    const int bytes = static_cast<int>(walk_shared_bytes(p.capacity, stageGraph));
    const unsigned grid = static_cast<unsigned>(p.numGraphs);
    if (stageGraph) {
      const cudaError_t err = cudaFuncSetAttribute(walk_shared_kernel<true>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
      if (err != cudaSuccess) return err;
      walk_shared_kernel<true><<<grid, kWalkSharedThreads, static_cast<size_t>(bytes), stream>>>(p);
    } else if (twoBlocks) {
      const cudaError_t err = cudaFuncSetAttribute(walk_shared_kernel<false, 2>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
      if (err != cudaSuccess) return err;
      walk_shared_kernel<false, 2><<<grid, kWalkSharedThreads, static_cast<size_t>(bytes), stream>>>(p);
    } else {
      const cudaError_t err = cudaFuncSetAttribute(walk_shared_kernel<false>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
      if (err != cudaSuccess) return err;
      walk_shared_kernel<false><<<grid, kWalkSharedThreads, static_cast<size_t>(bytes), stream>>>(p);
    }
    return cudaGetLastError();
  }
  const uint64_t blocks = (threads + kWalkThreads - 1) / kWalkThreads;
  if (blocks > 0x7fffffffull) return cudaErrorInvalidConfiguration;
  switch (mode) {
    case kWalkFull:
      walk_kernel<kWalkFull><<<static_cast<unsigned>(blocks), kWalkThreads, 0, stream>>>(p);
      break;
    case kWalkNoGraph:
      walk_kernel<kWalkNoGraph><<<static_cast<unsigned>(blocks), kWalkThreads, 0, stream>>>(p);
      break;
    case kWalkRngOnly:
      walk_kernel<kWalkRngOnly><<<static_cast<unsigned>(blocks), kWalkThreads, 0, stream>>>(p);
      break;
    default:
      return cudaErrorInvalidValue;
  }
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

int64_t pagerank_causal_max_capacity() { return optin_shared_bytes() / 8; }

cudaError_t launch_pagerank_causal(const PagerankParams& p, cudaStream_t stream) {
  if (p.numGraphs == 0) return cudaSuccess;
  if (p.numGraphs > 0x7fffffffll || p.capacity < 0) return cudaErrorInvalidConfiguration;
  if (p.capacity > pagerank_causal_max_capacity()) return cudaErrorInvalidValue;
  const size_t bytes = static_cast<size_t>(p.capacity) * 8;
  if (bytes > 48 * 1024) {
    const cudaError_t err = cudaFuncSetAttribute(pagerank_causal_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes));
    if (err != cudaSuccess) return err;
  }
  pagerank_causal_kernel<<<static_cast<unsigned>(p.numGraphs), 32, bytes, stream>>>(p);
  return cudaGetLastError();
}

cudaError_t launch_empty(cudaStream_t stream) {
  empty_kernel<<<1, 32, 0, stream>>>();
  return cudaGetLastError();
}

cudaError_t launch_chase(const uint32_t* next, uint32_t start, int32_t loads, uint32_t* out, cudaStream_t stream) {
  chase_kernel<<<1, 1, 0, stream>>>(next, start, loads, out);
  return cudaGetLastError();
}

}  // namespace kvwalk
