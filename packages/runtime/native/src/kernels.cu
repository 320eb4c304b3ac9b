// Launchers of the element-wise, attention, sampling and fill kernels (native/kernels/engine_kernels.cuh)
// behind the contract of engine_launchers.h. Each one enqueues on `stream`, never synchronizes, and
// returns cudaErrorInvalidValue for arguments the kernels cannot handle (documented per launcher), else
// the launch error.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "../kernels/engine_kernels.cuh"
#include "../kernels/gemv.cuh"
#include "engine_launchers.h"
#include "kvwalk/pdl.h"

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

cudaError_t launch_residual_rmsnorm(const float* x, const float* parts, int num_parts, float* x_out, const bf16_t* w, int T, int hidden,
                                    float eps, bf16_t* out, cudaStream_t stream) {
  if (T < 0 || hidden < 1 || num_parts < 0 || (num_parts > 0 && (!parts || !x_out)) || (!w && num_parts == 0) || (w && !out)) {
    return cudaErrorInvalidValue;
  }
  if (T == 0) return cudaSuccess;
  // 1024 threads from hidden 4096: one float4 of the row (and of each split-K part) per thread, so the
  // loads of a row issue together (session 11 run 7: 4.8 us per call at 512 threads, batch 32)
  const int threads = hidden >= 4096 ? 1024 : (hidden >= 2048 ? 512 : (hidden >= 512 ? 256 : 128));
  k::residual_rmsnorm_kernel<<<T, threads, 0, stream>>>(x, parts, num_parts, x_out, w, hidden, eps, out);
  return cudaGetLastError();
}

cudaError_t launch_rmsnorm(const float* x, const bf16_t* w, int T, int hidden, float eps, bf16_t* out, cudaStream_t stream) {
  if (!w) return cudaErrorInvalidValue;
  return launch_residual_rmsnorm(x, nullptr, 0, nullptr, w, T, hidden, eps, out, stream);
}

// D must be even and <= 4096 (the cos/sin table lives in shared memory).
cudaError_t launch_rope_append(const float* qkv, int T, int H, int KVH, int D, const float* inv_freq, const int* positions, const int* region,
                               const int* slot, int capacity, float* q_out, bf16_t* k_cache, bf16_t* v_cache, cudaStream_t stream,
                               bf16_t* q_ring, const int* ring_row, int ring_rows) {
  if (T < 0 || H < 1 || KVH < 1 || D < 2 || (D & 1) || D > 4096 || capacity < 1) return cudaErrorInvalidValue;
  if (q_ring != nullptr && (ring_row == nullptr || ring_rows < 1)) return cudaErrorInvalidValue;
  if (T == 0) return cudaSuccess;
  // blocks of up to 256 threads, each serving upb = threads / (D/2) head units (query, key, value heads)
  const int half = D / 2;
  const int threads = half >= 256 ? 256 : std::max(32, (256 / half) * half);
  const int upb = std::max(1, threads / half);
  const int units = H + 2 * KVH;
  const dim3 grid(static_cast<unsigned>(T), static_cast<unsigned>((units + upb - 1) / upb));
  k::rope_append_kernel<<<grid, threads, D * sizeof(float), stream>>>(qkv, H, KVH, D, inv_freq, positions, region, slot, capacity, q_out, k_cache,
                                                                      v_cache, q_ring, ring_row, ring_rows);
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

// ------------------------------------------------------------------------------------------ fused GEMV

namespace {

int device_sm_count(int* dev_out) {
  int dev = 0, n = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  if (dev_out) *dev_out = dev;
  return n;
}

int gemv_rows_tile(int M) { return M <= 1 ? 1 : M <= 2 ? 2 : M <= 4 ? 4 : 8; }

size_t gemv_smem_bytes(const GemvParams& p) { return static_cast<size_t>(gemv_rows_tile(p.M)) * p.K * sizeof(uint16_t); }

// Launch (or only set up, launch = false) one instantiation. Resident blocks per SM are cached per
// dynamic shared-memory size; the opt-in attribute only ever grows, so every cached size stays legal.
template <int MT, int IN, int OUT>
cudaError_t gemv_launch_impl(const GemvParams& p, cudaStream_t stream, bool launch) {
  auto kernel = gemv::gemv_kernel<MT, IN, OUT>;
  static std::mutex mu;
  static std::map<size_t, int> blocks_at;  // dynamic shared memory -> resident blocks per SM
  static size_t attribute_smem = 48 * 1024;  // the opt-in maximum set so far (only ever raised)
  static int sms_cached = 0;
  const size_t smem = gemv_smem_bytes(p);
  int blocks_per_sm = 0, sms = 0;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = blocks_at.find(smem);
    if (it == blocks_at.end()) {
      cudaError_t err = cudaSuccess;
      if (smem > attribute_smem) {
        err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
        if (err != cudaSuccess) return err;
        attribute_smem = smem;
      }
      int n = 0;
      err = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, gemv::kWarps * 32, smem);
      if (err != cudaSuccess) return err;
      if (sms_cached == 0) sms_cached = device_sm_count(nullptr);
      it = blocks_at.emplace(smem, n).first;
    }
    blocks_per_sm = it->second;
    sms = sms_cached;
  }
  if (blocks_per_sm < 1 || sms < 1) return cudaErrorInvalidValue;
  if (!launch) return cudaSuccess;
  const long long units = OUT == gemv::kOutSwiglu ? p.N / 2 : p.N;
  const long long resident_warps = static_cast<long long>(sms) * blocks_per_sm * gemv::kWarps;
  const long long per_warp = (units + resident_warps - 1) / resident_warps;
  const long long warps = (units + per_warp - 1) / per_warp;
  const unsigned blocks = static_cast<unsigned>((warps + gemv::kWarps - 1) / gemv::kWarps);
  gemv::Args a{};
  a.a = p.a;
  a.lda = p.lda;
  a.norm_w = p.norm_w;
  a.eps = p.eps;
  a.w = p.w;
  a.ldw = p.ldw;
  a.M = p.M;
  a.N = p.N;
  a.K = p.K;
  a.c = p.c;
  a.ldc = p.ldc;
  a.accumulate = p.accumulate ? 1 : 0;
  a.act = p.act;
  a.ld_act = p.ld_act;
  a.units_per_warp = static_cast<int>(per_warp);
  if (p.pdl && kvwalk::device_supports_pdl()) {
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(blocks);
    cfg.blockDim = dim3(gemv::kWarps * 32);
    cfg.dynamicSmemBytes = smem;
    cfg.stream = stream;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    return cudaLaunchKernelEx(&cfg, kernel, a);
  }
  kernel<<<blocks, gemv::kWarps * 32, smem, stream>>>(a);
  return cudaGetLastError();
}

template <int MT, int IN>
cudaError_t gemv_by_output(const GemvParams& p, cudaStream_t stream, bool launch) {
  return p.output == GemvOutput::Swiglu ? gemv_launch_impl<MT, IN, gemv::kOutSwiglu>(p, stream, launch)
                                        : gemv_launch_impl<MT, IN, gemv::kOutF32>(p, stream, launch);
}

template <int MT>
cudaError_t gemv_by_input(const GemvParams& p, cudaStream_t stream, bool launch) {
  switch (p.input) {
    case GemvInput::F32: return gemv_by_output<MT, gemv::kInF32>(p, stream, launch);
    case GemvInput::RmsNorm: return gemv_by_output<MT, gemv::kInRmsNorm>(p, stream, launch);
    default: return gemv_by_output<MT, gemv::kInBf16>(p, stream, launch);
  }
}

}  // namespace

std::string gemv_unsupported(const GemvParams& p) {
  if (p.M < 1 || p.M > kGemvMaxRows) return "M = " + std::to_string(p.M) + " outside [1, " + std::to_string(kGemvMaxRows) + "]";
  if (p.N < 1 || p.K < 1) return "N and K must be >= 1 (N = " + std::to_string(p.N) + ", K = " + std::to_string(p.K) + ")";
  if (p.K % 8 != 0 || p.ldw % 8 != 0 || p.ldw < p.K) return "K and ldw must be multiples of 8 with ldw >= K (K = " + std::to_string(p.K) + ", ldw = " + std::to_string(p.ldw) + ")";
  if (!p.a || !p.w || !aligned(p.w, 16)) return "A and W must be non-null and W 16-byte aligned";
  if (p.lda < p.K) return "lda must be >= K";
  if (p.input == GemvInput::RmsNorm && !p.norm_w) return "RmsNorm input needs norm_w";
  if (p.output == GemvOutput::Swiglu) {
    if (p.N % 2 != 0) return "Swiglu output needs an even N (gate rows, then up rows); N = " + std::to_string(p.N);
    if (!p.act || p.ld_act < p.N / 2) return "Swiglu output needs act with ld_act >= N/2";
  } else if (!p.c || p.ldc < p.N) {
    return "F32 output needs C with ldc >= N";
  }
  int dev = 0, optin = 0;
  if (device_sm_count(&dev) < 1 || cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess) {
    cudaGetLastError();
    return "no CUDA device";
  }
  if (gemv_smem_bytes(p) + 1024 > static_cast<size_t>(optin))
    return "staged rows need " + std::to_string(gemv_smem_bytes(p)) + " bytes of shared memory (device allows " + std::to_string(optin) + ")";
  return "";
}

namespace {
cudaError_t gemv_dispatch(const GemvParams& p, cudaStream_t stream, bool launch) {
  if (p.M < 1 || p.M > kGemvMaxRows || p.K % 8 != 0 || p.ldw % 8 != 0 || !p.w || !aligned(p.w, 16)) return cudaErrorInvalidValue;
  if (p.output == GemvOutput::Swiglu && p.N % 2 != 0) return cudaErrorInvalidValue;
  switch (gemv_rows_tile(p.M)) {
    case 1: return gemv_by_input<1>(p, stream, launch);
    case 2: return gemv_by_input<2>(p, stream, launch);
    case 4: return gemv_by_input<4>(p, stream, launch);
    default: return gemv_by_input<8>(p, stream, launch);
  }
}
}  // namespace

cudaError_t launch_gemv(const GemvParams& p, cudaStream_t stream) { return gemv_dispatch(p, stream, true); }

cudaError_t prepare_gemv(const GemvParams& p) { return gemv_dispatch(p, nullptr, false); }

}  // namespace kvwalk::engine
