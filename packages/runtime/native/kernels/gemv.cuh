// Fused small-batch GEMV of the decode engine (raw pointers, no Node). For M <= 8 rows of activations
// a decode step's matrix products are pure weight streaming, and the kernels around them (RMSNorm,
// f32 -> bf16, SwiGLU) cost more in launches and kernel boundaries than in bytes. One kernel does:
//
//   prologue   A rows staged in shared memory as bf16 [MT][K]:
//                kInBf16     A bf16 [M, K] copied;
//                kInF32      A f32 [M, K] rounded to bf16 (the attention output before o_proj);
//                kInRmsNorm  A f32 [M, K] normalized exactly like rmsnorm_kernel (r = 1 / sqrt(mean(x^2)
//                            + eps), h = bf16(f32(g) * (x * r)), IEEE ops) with norm weight g bf16 [K].
//   main loop  each warp owns `units_per_warp` consecutive output units and streams their W rows with
//              128-bit no-L1 loads; lane l reads chunks l, l+32, ... (8 k each) and keeps one f32
//              accumulator per (row, m), FMAs in increasing k within a chunk; a butterfly shuffle sum
//              ends the row. The order of operations for output (m, n) does not depend on M, MT or the
//              grid, so a batch gives bit-identical rows to single sequences.
//   epilogue   kOutF32     C[m, n] = (accumulate ? C[m, n] : 0) + dot (residual adds in place);
//              kOutSwiglu  unit j reads W rows j and j + N/2 (gate, up) and writes
//                          act[m, j] = bf16(silu(gate) * up) as swiglu_kernel does.
//
// The grid is sized so every warp is resident at once (units_per_warp = ceil(units / resident warps)),
// so the whole weight stream is in flight from the first cycle and no wave tail exists. The first
// group of W loads is issued before the prologue, hiding its latency behind the staging.
// Needs K % 8 == 0, ldw % 8 == 0 and a 16-byte aligned W (the launcher checks).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "engine_kernels.cuh"

namespace kvwalk::engine::gemv {

enum Input : int { kInBf16 = 0, kInF32 = 1, kInRmsNorm = 2 };
enum Output : int { kOutF32 = 0, kOutSwiglu = 1 };

constexpr int kWarps = 8;        // warps per block
constexpr int kUnroll = 4;       // 16-byte W chunks in flight per lane per row

struct Args {
  const void* a;              // A [M, K], bf16 bits (kInBf16) or f32, row stride lda elements
  int lda;
  const uint16_t* norm_w;     // kInRmsNorm: bf16 [K]
  float eps;
  const uint16_t* w;          // W bf16 [N, K], row stride ldw
  int ldw;
  int M, N, K;
  float* c;                   // kOutF32: f32 [M, N], row stride ldc
  int ldc;
  int accumulate;
  uint16_t* act;              // kOutSwiglu: bf16 [M, N/2], row stride ld_act
  int ld_act;
  int units_per_warp;
};

__device__ __forceinline__ uint4 load_w(const uint16_t* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

// acc += sum over the 8 bf16 pairs of (w, a), in increasing k.
__device__ __forceinline__ float dot8(const uint4& w, const uint4& a, float acc) {
  const uint32_t ws[4] = {w.x, w.y, w.z, w.w};
  const uint32_t as[4] = {a.x, a.y, a.z, a.w};
#pragma unroll
  for (int i = 0; i < 4; i++) {
    acc = fmaf(__uint_as_float(ws[i] << 16), __uint_as_float(as[i] << 16), acc);
    acc = fmaf(__uint_as_float(ws[i] & 0xffff0000u), __uint_as_float(as[i] & 0xffff0000u), acc);
  }
  return acc;
}

template <int MT, int IN>
__device__ __forceinline__ void stage(const Args& p, uint16_t* sa, float* red) {
  const int K = p.K;
  for (int m = 0; m < MT; m++) {
    uint16_t* dst = sa + static_cast<size_t>(m) * K;
    if (m >= p.M) {
      for (int k = threadIdx.x; k < K; k += blockDim.x) dst[k] = 0;
      continue;
    }
    if (IN == kInBf16) {
      const uint16_t* src = static_cast<const uint16_t*>(p.a) + static_cast<size_t>(m) * p.lda;
      for (int k = threadIdx.x; k < K; k += blockDim.x) dst[k] = src[k];
    } else if (IN == kInF32) {
      const float* src = static_cast<const float*>(p.a) + static_cast<size_t>(m) * p.lda;
      for (int k = threadIdx.x; k < K; k += blockDim.x) dst[k] = kernels::f32_to_bf16_bits(src[k]);
    } else {
      const float* src = static_cast<const float*>(p.a) + static_cast<size_t>(m) * p.lda;
      float ss = 0.0f;
      for (int k = threadIdx.x; k < K; k += blockDim.x) ss += src[k] * src[k];
      ss = kernels::block_sum(ss, red);
      const float var = __fdiv_rn(ss, static_cast<float>(K));
      const float r = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(var, p.eps)));
      for (int k = threadIdx.x; k < K; k += blockDim.x)
        dst[k] = kernels::f32_to_bf16_bits(__fmul_rn(kernels::bf16_bits_to_f32(p.norm_w[k]), __fmul_rn(src[k], r)));
    }
  }
}

template <int MT, int IN, int OUT>
__global__ void __launch_bounds__(kWarps * 32) gemv_kernel(const Args p) {
  constexpr int NR = OUT == kOutSwiglu ? 2 : 1;  // W rows per unit
  extern __shared__ uint4 gemv_smem[];
  __shared__ float red[33];
  uint16_t* sa = reinterpret_cast<uint16_t*>(gemv_smem);
  const int lane = threadIdx.x & 31;
  const int warp = blockIdx.x * kWarps + (threadIdx.x >> 5);
  const int units = OUT == kOutSwiglu ? p.N / 2 : p.N;
  const int half = p.N / 2;
  const int nchunks = p.K >> 3;
  const int u_begin = warp * p.units_per_warp;
  const int u_end = min(units, u_begin + p.units_per_warp);

  uint4 wv[NR][kUnroll];
  auto load_group = [&](int u, int c0) {
#pragma unroll
    for (int r = 0; r < NR; r++) {
      const uint16_t* row = p.w + static_cast<size_t>(r == 0 ? u : u + half) * p.ldw;
#pragma unroll
      for (int j = 0; j < kUnroll; j++) {
        const int c = c0 + 32 * j;
        wv[r][j] = c < nchunks ? load_w(row + 8 * c) : make_uint4(0, 0, 0, 0);
      }
    }
  };
  if (u_begin < u_end) load_group(u_begin, lane);  // in flight during the prologue
  stage<MT, IN>(p, sa, red);
  __syncthreads();

  const uint4* sa4 = reinterpret_cast<const uint4*>(sa);
  for (int u = u_begin; u < u_end; u++) {
    float acc[NR][MT];
#pragma unroll
    for (int r = 0; r < NR; r++)
#pragma unroll
      for (int m = 0; m < MT; m++) acc[r][m] = 0.0f;
    for (int c0 = lane; c0 < nchunks; c0 += 32 * kUnroll) {
      if (u != u_begin || c0 != lane) load_group(u, c0);
#pragma unroll
      for (int j = 0; j < kUnroll; j++) {
        const int c = c0 + 32 * j;
        if (c < nchunks) {
#pragma unroll
          for (int m = 0; m < MT; m++) {
            const uint4 av = sa4[static_cast<size_t>(m) * nchunks + c];
#pragma unroll
            for (int r = 0; r < NR; r++) acc[r][m] = dot8(wv[r][j], av, acc[r][m]);
          }
        }
      }
    }
#pragma unroll
    for (int r = 0; r < NR; r++)
#pragma unroll
      for (int m = 0; m < MT; m++) acc[r][m] = kernels::warp_sum(acc[r][m]);
#pragma unroll
    for (int m = 0; m < MT; m++) {
      if (lane == m && m < p.M) {
        if (OUT == kOutF32) {
          float* dst = p.c + static_cast<size_t>(m) * p.ldc + u;
          *dst = p.accumulate ? __fadd_rn(*dst, acc[0][m]) : acc[0][m];
        } else {
          p.act[static_cast<size_t>(m) * p.ld_act + u] = kernels::f32_to_bf16_bits(kernels::silu_mul(acc[0][m], acc[NR - 1][m]));
        }
      }
    }
  }
}

}  // namespace kvwalk::engine::gemv
