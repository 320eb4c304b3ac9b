// Launchers of the engine's live eviction (native/kernels/evict.cuh) behind evict_launchers.h. Each
// one enqueues on `stream`, never synchronizes, and returns cudaErrorInvalidValue for arguments the
// kernels cannot handle (D not 64/128, H not a multiple of KVH, misaligned pointers, a region out of
// range), else the launch error. Zero-sized work returns cudaSuccess without launching.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "../kernels/evict.cuh"
#include "evict_launchers.h"

namespace kvwalk::engine {

namespace {

namespace ev = kvwalk::engine::evict;

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) % 16) == 0; }

template <int D>
cudaError_t launch_mass_impl(const float* q, const bf16_t* k, const float* lse, const int* lengths, const int* starts, int B, int H, int KVH,
                             int C, float scale, int mode, float decay, float* scores, cudaStream_t stream) {
  const int G = H / KVH;
  const size_t smem = static_cast<size_t>(G) * (D + 1) * sizeof(float);
  auto kernel = ev::attention_mass_kernel<D>;
  if (smem > 48 * 1024) {
    const cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
    if (err != cudaSuccess) return err;
  }
  const dim3 grid(static_cast<unsigned>((C + ev::kMassKeysPerBlock - 1) / ev::kMassKeysPerBlock), static_cast<unsigned>(KVH),
                  static_cast<unsigned>(B));
  kernel<<<grid, ev::kMassThreads, smem, stream>>>(q, k, lse, lengths, starts, H, KVH, C, scale, mode, decay, scores);
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_attention_mass(const float* q, const bf16_t* k, const float* lse, const int* lengths, const int* starts, int B, int H,
                                  int KVH, int D, int C, float scale, int mode, float decay, float* scores, cudaStream_t stream) {
  if (B < 0 || H < 1 || KVH < 1 || H % KVH != 0 || C < 0 || (mode != 0 && mode != 1)) return cudaErrorInvalidValue;
  if (B == 0 || C == 0) return cudaSuccess;
  if (B > 65535 || KVH > 65535) return cudaErrorInvalidValue;
  if (!aligned16(k)) return cudaErrorInvalidValue;
  if (D == 64) return launch_mass_impl<64>(q, k, lse, lengths, starts, B, H, KVH, C, scale, mode, decay, scores, stream);
  if (D == 128) return launch_mass_impl<128>(q, k, lse, lengths, starts, B, H, KVH, C, scale, mode, decay, scores, stream);
  return cudaErrorInvalidValue;
}

cudaError_t launch_counts_to_scores(const uint32_t* counts, int L, int R, int H, int KVH, int C, float decay, float* scores, cudaStream_t stream) {
  if (L < 0 || R < 0 || H < 1 || KVH < 1 || H % KVH != 0 || C < 0) return cudaErrorInvalidValue;
  const int64_t n = static_cast<int64_t>(L) * R * KVH * C;
  if (n == 0) return cudaSuccess;
  constexpr int threads = 256;
  const int64_t blocks = std::min<int64_t>((n + threads - 1) / threads, 65536);
  ev::counts_to_scores_kernel<<<static_cast<unsigned>(blocks), threads, 0, stream>>>(counts, n, H, KVH, C, decay, scores);
  return cudaGetLastError();
}

cudaError_t launch_pagerank_to_scores(const double* pr, int L, int R, int region, int H, int KVH, int C, float decay, float* scores,
                                      cudaStream_t stream) {
  if (L < 0 || R < 1 || region < 0 || region >= R || H < 1 || KVH < 1 || H % KVH != 0 || C < 0) return cudaErrorInvalidValue;
  const int64_t n = static_cast<int64_t>(L) * KVH * C;
  if (n == 0) return cudaSuccess;
  constexpr int threads = 256;
  const int64_t blocks = std::min<int64_t>((n + threads - 1) / threads, 65536);
  ev::pagerank_to_scores_kernel<<<static_cast<unsigned>(blocks), threads, 0, stream>>>(pr, L, R, region, H, KVH, C, decay, scores);
  return cudaGetLastError();
}

cudaError_t launch_fill_i32(int* out, int n, int value, cudaStream_t stream) {
  if (n < 0) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  ev::fill_i32_kernel<<<static_cast<unsigned>(std::min(65536, (n + 255) / 256)), 256, 0, stream>>>(out, n, value);
  return cudaGetLastError();
}

cudaError_t launch_select_compact(float* scores, bf16_t* kv, int L, int R, int KVH, int C, int D, int region, int len, int budget, int sinks,
                                  int recent, int* remap, int* kept_out, cudaStream_t stream) {
  if (L < 0 || R < 1 || KVH < 1 || C < 0 || region < 0 || region >= R || len < 0 || len > C || budget < 0) return cudaErrorInvalidValue;
  if (L == 0 || C == 0) return cudaSuccess;
  if (static_cast<int64_t>(L) * KVH > 0x7fffffff) return cudaErrorInvalidValue;
  if (!aligned16(kv)) return cudaErrorInvalidValue;
  const unsigned grid = static_cast<unsigned>(L * KVH);
  if (D == 64) {
    ev::select_compact_kernel<64><<<grid, ev::kSelectThreads, 0, stream>>>(scores, kv, R, KVH, C, region, len, budget, sinks, recent, remap, kept_out);
  } else if (D == 128) {
    ev::select_compact_kernel<128><<<grid, ev::kSelectThreads, 0, stream>>>(scores, kv, R, KVH, C, region, len, budget, sinks, recent, remap, kept_out);
  } else {
    return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

cudaError_t launch_graph_remap(void* graph, int L, int R, int H, int KVH, int C, int region, const int* remap, int new_len, void* scratch,
                               cudaStream_t stream) {
  (void)scratch;  // the remap runs in place (stable-compaction order); scratch is not needed
  if (L < 0 || R < 1 || H < 1 || KVH < 1 || H % KVH != 0 || C < 0 || region < 0 || region >= R) return cudaErrorInvalidValue;
  if (L == 0 || C == 0) return cudaSuccess;
  if (!aligned16(graph)) return cudaErrorInvalidValue;
  const unsigned grid = static_cast<unsigned>(static_cast<int64_t>(L) * H);
  ev::graph_remap_kernel<<<grid, ev::kGraphThreads, 0, stream>>>(static_cast<ev::Node32*>(graph), R, H, KVH, C, region, remap, new_len);
  return cudaGetLastError();
}

}  // namespace kvwalk::engine
