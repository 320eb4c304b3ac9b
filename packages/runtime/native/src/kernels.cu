// Launchers of the element-wise, attention, sampling and fill kernels (native/kernels/engine_kernels.cuh)
// behind the contract of engine_launchers.h. Each one enqueues on `stream`, never synchronizes, and
// returns cudaErrorInvalidValue for arguments the kernels cannot handle (documented per launcher), else
// the launch error.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdint>

#include "../kernels/engine_kernels.cuh"
#include "engine_launchers.h"

namespace kvwalk::engine {

namespace {

namespace k = kvwalk::engine::kernels;

// Grid for a grid-stride loop over n items with `threads` per block (capped; the loops stride).
unsigned grid_for(size_t n, int threads) {
  const size_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(std::max<size_t>(1, std::min<size_t>(blocks, 65536)));
}

bool aligned(const void* p, size_t bytes) { return (reinterpret_cast<uintptr_t>(p) % bytes) == 0; }

uint16_t host_f32_to_bf16(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  if ((b & 0x7f800000u) == 0x7f800000u && (b & 0x007fffffu) != 0u) return static_cast<uint16_t>((b >> 16) | 0x0040u);
  return static_cast<uint16_t>((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
}

template <int D, int NWARPS>
cudaError_t launch_attention_impl(const float* q, const bf16_t* kc, const bf16_t* vc, int T, int H, int KVH, int capacity, int window,
                                  float scale, bf16_t* out, cudaStream_t stream) {
  using C = k::attn::Config<D, NWARPS>;
  auto kernel = k::prefill_attention_kernel<D, NWARPS>;
  cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(C::smem_bytes));
  if (err != cudaSuccess) return err;
  const dim3 grid(static_cast<unsigned>(H), static_cast<unsigned>((T + C::BM - 1) / C::BM));
  const float scale_log2 = scale * 1.4426950408889634f;
  kernel<<<grid, NWARPS * 32, C::smem_bytes, stream>>>(q, kc, vc, T, H, H / KVH, capacity, window, scale_log2, out);
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_embed(const int* tokens, int T, const bf16_t* table, int vocab, int hidden, float* x, int* error_flag, cudaStream_t stream) {
  if (T < 0 || vocab < 1 || hidden < 1) return cudaErrorInvalidValue;
  if (T == 0) return cudaSuccess;
  k::embed_kernel<<<T, 256, 0, stream>>>(tokens, table, vocab, hidden, x, error_flag);
  return cudaGetLastError();
}

cudaError_t launch_rmsnorm(const float* x, const bf16_t* w, int T, int hidden, float eps, bf16_t* out, cudaStream_t stream) {
  if (T < 0 || hidden < 1) return cudaErrorInvalidValue;
  if (T == 0) return cudaSuccess;
  const int threads = hidden >= 2048 ? 512 : (hidden >= 512 ? 256 : 128);
  k::rmsnorm_kernel<<<T, threads, 0, stream>>>(x, w, hidden, eps, out);
  return cudaGetLastError();
}

// D must be even and <= 4096 (the cos/sin table lives in shared memory).
cudaError_t launch_rope_append(const float* qkv, int T, int H, int KVH, int D, const float* inv_freq, const int* positions, const int* region,
                               const int* slot, int capacity, float* q_out, bf16_t* k_cache, bf16_t* v_cache, cudaStream_t stream) {
  if (T < 0 || H < 1 || KVH < 1 || D < 2 || (D & 1) || D > 4096 || capacity < 1) return cudaErrorInvalidValue;
  if (T == 0) return cudaSuccess;
  const int work = (H + KVH) * D / 2;
  const int threads = work >= 2048 ? 256 : 128;
  k::rope_append_kernel<<<T, threads, D * sizeof(float), stream>>>(qkv, H, KVH, D, inv_freq, positions, region, slot, capacity, q_out, k_cache,
                                                                   v_cache);
  return cudaGetLastError();
}

// D in {64, 128}; H a multiple of KVH; q, k, v 16-byte aligned (cudaMalloc pointers plus whole rows are);
// T <= capacity. 8 warps (128 query rows) per block.
cudaError_t launch_prefill_attention(const float* q, const bf16_t* kc, const bf16_t* vc, int T, int H, int KVH, int D, int capacity, int window,
                                     float scale, bf16_t* out, cudaStream_t stream) {
  if (T < 0 || H < 1 || KVH < 1 || H % KVH != 0 || T > capacity) return cudaErrorInvalidValue;
  if (!aligned(q, 16) || !aligned(kc, 16) || !aligned(vc, 16) || !aligned(out, 4)) return cudaErrorInvalidValue;
  if (T == 0) return cudaSuccess;
  if (D == 128) return launch_attention_impl<128, 8>(q, kc, vc, T, H, KVH, capacity, window, scale, out, stream);
  if (D == 64) return launch_attention_impl<64, 8>(q, kc, vc, T, H, KVH, capacity, window, scale, out, stream);
  return cudaErrorInvalidValue;
}

cudaError_t launch_swiglu(const float* gu, int T, int I, bf16_t* act, cudaStream_t stream) {
  if (T < 0 || I < 1) return cudaErrorInvalidValue;
  if (T == 0) return cudaSuccess;
  const size_t n = static_cast<size_t>(T) * I;
  k::swiglu_kernel<<<grid_for(n, 256), 256, 0, stream>>>(gu, T, I, act);
  return cudaGetLastError();
}

cudaError_t launch_f32_to_bf16(const float* in, size_t n, bf16_t* out, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  k::f32_to_bf16_kernel<<<grid_for(n, 256), 256, 0, stream>>>(in, n, out);
  return cudaGetLastError();
}

// V >= 1. One 1024-thread block per row.
cudaError_t launch_sample(const float* logits, int B, int V, const float* temperature, const float* top_p, uint32_t seed, uint32_t step,
                          int* tokens, float* logprob, cudaStream_t stream) {
  if (B < 0 || V < 1) return cudaErrorInvalidValue;
  if (B == 0) return cudaSuccess;
  // Cache e_i in shared memory when V floats fit next to the kernel's static ~1 KB (V <= 56320 on H100/H200).
  int dev = 0, optin = 0;
  cudaError_t err = cudaGetDevice(&dev);
  if (err != cudaSuccess) return err;
  err = cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev);
  if (err != cudaSuccess) return err;
  const size_t want = static_cast<size_t>(V) * sizeof(float);
  const bool cache = want + 4096 <= static_cast<size_t>(optin);
  const size_t dyn = cache ? want : 0;
  if (dyn > 48 * 1024) {
    err = cudaFuncSetAttribute(k::sample_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(dyn));
    if (err != cudaSuccess) return err;
  }
  k::sample_kernel<<<B, k::SAMPLE_THREADS, dyn, stream>>>(logits, V, temperature, top_p, seed, step, tokens, logprob, cache);
  return cudaGetLastError();
}

cudaError_t launch_fill_uniform_bf16(bf16_t* out, size_t n, uint32_t seed, float amplitude, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  k::fill_uniform_bf16_kernel<<<grid_for((n + 3) / 4, 256), 256, 0, stream>>>(out, n, seed, amplitude);
  return cudaGetLastError();
}

cudaError_t launch_fill_const_bf16(bf16_t* out, size_t n, float value, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  k::fill_const_bf16_kernel<<<grid_for(n, 256), 256, 0, stream>>>(out, n, host_f32_to_bf16(value));
  return cudaGetLastError();
}

}  // namespace kvwalk::engine
