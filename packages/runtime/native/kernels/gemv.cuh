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
//              128-bit no-L1 loads, double-buffered (128 bytes per lane and buffer; group g + 2 is
//              requested while group g is consumed); lane l reads chunks l, l+32, ... (8 k each) and
//              keeps one f32 accumulator per (row, m), FMAs in increasing k within a chunk; a butterfly
//              shuffle sum ends the row. The order of operations for output (m, n) does not depend on M, MT or the
//              grid, so a batch gives bit-identical rows to single sequences.
//   epilogue   kOutF32     C[m, n] = (accumulate ? C[m, n] : 0) + dot (residual adds in place);
//              kOutSwiglu  unit j reads W rows j and j + N/2 (gate, up) and writes
//                          act[m, j] = bf16(silu(gate) * up) as swiglu_kernel does.
//
// The grid is sized so every warp is resident at once (units_per_warp = ceil(units / resident warps)),
// so the whole weight stream is in flight from the first cycle and no wave tail exists. The first two
// groups of W loads are issued before the prologue, hiding its latency behind the staging.
// Needs K % 8 == 0, ldw % 8 == 0 and a 16-byte aligned W (the launcher checks).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "engine_kernels.cuh"

namespace kvwalk::engine::gemv {

enum Input : int { kInBf16 = 0, kInF32 = 1, kInRmsNorm = 2 };
enum Output : int { kOutF32 = 0, kOutSwiglu = 1 };

constexpr int kWarps = 8;        // warps per block

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

// The 8 bf16 values of a 16-byte chunk as f32, in k order.
__device__ __forceinline__ void widen8(const uint4& v, float (&f)[8]) {
  const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; i++) {
    f[2 * i] = __uint_as_float(w[i] << 16);
    f[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
  }
}

// acc += sum over the 8 (w, a) pairs, in increasing k (one FMA each).
__device__ __forceinline__ float dot8(const float (&w)[8], const uint4& a, float acc) {
  float af[8];
  widen8(a, af);
#pragma unroll
  for (int i = 0; i < 8; i++) acc = fmaf(w[i], af[i], acc);
  return acc;
}

// Stages the M rows of A into shared memory as bf16 [MT][K] (rows M..MT-1 zero). 16-byte loads,
// unrolled so that every thread's loads are in flight together (the staging sits on the critical path
// of the whole kernel); `vec` = A 16-byte aligned with lda % 8 == 0, else a scalar path.
template <int MT, int IN>
__device__ __forceinline__ void stage(const Args& p, uint16_t* sa, float* red, bool vec) {
  const int K = p.K;
  for (int m = 0; m < MT; m++) {
    uint16_t* dst = sa + static_cast<size_t>(m) * K;
    if (m >= p.M) {
      uint4* d8 = reinterpret_cast<uint4*>(dst);
      for (int i = threadIdx.x; i < K / 8; i += blockDim.x) d8[i] = make_uint4(0, 0, 0, 0);
      continue;
    }
    if (IN == kInBf16) {
      const uint16_t* src = static_cast<const uint16_t*>(p.a) + static_cast<size_t>(m) * p.lda;
      if (vec) {
        const uint4* s8 = reinterpret_cast<const uint4*>(src);
        uint4* d8 = reinterpret_cast<uint4*>(dst);
#pragma unroll 4
        for (int i = threadIdx.x; i < K / 8; i += blockDim.x) d8[i] = s8[i];
      } else {
        for (int k = threadIdx.x; k < K; k += blockDim.x) dst[k] = src[k];
      }
      continue;
    }
    const float* src = static_cast<const float*>(p.a) + static_cast<size_t>(m) * p.lda;
    float r = 1.0f;
    if (IN == kInRmsNorm) {
      float ss = 0.0f;
      if (vec) {
        const float4* s4 = reinterpret_cast<const float4*>(src);
#pragma unroll 4
        for (int i = threadIdx.x; i < K / 4; i += blockDim.x) {
          const float4 v = s4[i];
          ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
        }
      } else {
        for (int k = threadIdx.x; k < K; k += blockDim.x) ss += src[k] * src[k];
      }
      ss = kernels::block_sum(ss, red);
      const float var = __fdiv_rn(ss, static_cast<float>(K));
      r = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(var, p.eps)));
    }
    // kInF32: bf16(x); kInRmsNorm: bf16(f32(g) * (x * r)) with both products rounded (rmsnorm_kernel's rule)
    auto one = [&](float x, int k) {
      return IN == kInRmsNorm ? kernels::f32_to_bf16_bits(__fmul_rn(kernels::bf16_bits_to_f32(p.norm_w[k]), __fmul_rn(x, r)))
                              : kernels::f32_to_bf16_bits(x);
    };
    if (vec) {
      const float4* s4 = reinterpret_cast<const float4*>(src);
      uint2* d4 = reinterpret_cast<uint2*>(dst);
#pragma unroll 4
      for (int i = threadIdx.x; i < K / 4; i += blockDim.x) {
        const float4 v = s4[i];
        d4[i] = make_uint2(static_cast<uint32_t>(one(v.x, 4 * i)) | (static_cast<uint32_t>(one(v.y, 4 * i + 1)) << 16),
                           static_cast<uint32_t>(one(v.z, 4 * i + 2)) | (static_cast<uint32_t>(one(v.w, 4 * i + 3)) << 16));
      }
    } else {
      for (int k = threadIdx.x; k < K; k += blockDim.x) dst[k] = one(src[k], k);
    }
  }
}

template <int MT, int IN, int OUT>
__global__ void __launch_bounds__(kWarps * 32) gemv_kernel(const Args p) {
  constexpr int NR = OUT == kOutSwiglu ? 2 : 1;  // W rows per unit
  constexpr int U = 8 / NR;                      // 16-byte chunks per lane, row and group (128 B per lane in flight)
  extern __shared__ uint4 gemv_smem[];
  __shared__ float red[33];
  uint16_t* sa = reinterpret_cast<uint16_t*>(gemv_smem);
  const int lane = threadIdx.x & 31;
  const int warp = blockIdx.x * kWarps + (threadIdx.x >> 5);
  const int units = OUT == kOutSwiglu ? p.N / 2 : p.N;
  const int half = p.N / 2;
  const int nchunks = p.K >> 3;
  const int groups = (nchunks + 32 * U - 1) / (32 * U);  // groups per unit
  const int u_begin = warp * p.units_per_warp;
  const int u_end = min(units, u_begin + p.units_per_warp);
  const int steps = u_end > u_begin ? (u_end - u_begin) * groups : 0;

  // Double-buffered stream of (unit, group) steps: step s + 2 is requested while step s is consumed.
  uint4 buf0[NR][U], buf1[NR][U];
  auto load = [&](uint4 (&b)[NR][U], int s) {
    const int u = u_begin + s / groups;
    const int c0 = lane + (s % groups) * 32 * U;
#pragma unroll
    for (int r = 0; r < NR; r++) {
      const uint16_t* row = p.w + static_cast<size_t>(r == 0 ? u : u + half) * p.ldw;
#pragma unroll
      for (int j = 0; j < U; j++) {
        const int c = c0 + 32 * j;
        b[r][j] = c < nchunks ? load_w(row + 8 * c) : make_uint4(0, 0, 0, 0);
      }
    }
  };
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  // Programmatic dependent launch (the launcher sets the attribute): let the next GEMV of the step be
  // scheduled as this grid's blocks retire, and start streaming W -- which no earlier kernel writes --
  // before waiting for the previous grid. Everything that reads A or writes C/act comes after the wait.
  // Without the launch attribute both instructions are no-ops.
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
  if (steps > 0) load(buf0, 0);
  if (steps > 1) load(buf1, 1);
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
  const bool vec = (reinterpret_cast<uintptr_t>(p.a) & 15) == 0 && (p.lda & 7) == 0;
  stage<MT, IN>(p, sa, red, vec);
  __syncthreads();

  const uint4* sa4 = reinterpret_cast<const uint4*>(sa);
  float acc[NR][MT];
#pragma unroll
  for (int r = 0; r < NR; r++)
#pragma unroll
    for (int m = 0; m < MT; m++) acc[r][m] = 0.0f;
  auto consume = [&](const uint4 (&b)[NR][U], int s) {
    const int g = s % groups;
    const int c0 = lane + g * 32 * U;
#pragma unroll
    for (int j = 0; j < U; j++) {
      const int c = c0 + 32 * j;
      if (c < nchunks) {
        float wf[NR][8];
#pragma unroll
        for (int r = 0; r < NR; r++) widen8(b[r][j], wf[r]);
#pragma unroll
        for (int m = 0; m < MT; m++) {
          const uint4 av = sa4[static_cast<size_t>(m) * nchunks + c];
#pragma unroll
          for (int r = 0; r < NR; r++) acc[r][m] = dot8(wf[r], av, acc[r][m]);
        }
      }
    }
    if (g != groups - 1) return;
    // last group of unit u: reduce over the warp, store, reset
    const int u = u_begin + s / groups;
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
#pragma unroll
    for (int r = 0; r < NR; r++)
#pragma unroll
      for (int m = 0; m < MT; m++) acc[r][m] = 0.0f;
  };
  for (int s = 0; s < steps; s += 2) {
    consume(buf0, s);
    if (s + 2 < steps) load(buf0, s + 2);
    if (s + 1 < steps) {
      consume(buf1, s + 1);
      if (s + 3 < steps) load(buf1, s + 3);
    }
  }
}

}  // namespace kvwalk::engine::gemv
