// Skinny weight-streaming GEMM of decode steps (M <= 64 rows of activations), raw pointers, no Node.
//
//   C_s[m, n] = (accumulate ? C_s[m, n] : 0) + sum_{k in slice s} A[m, k] * W[n, k]
//   A bf16 [M, K_total] (row stride lda), W bf16 [N, K_total] (row stride ldw), C f32; slice s of
//   `splits` covers k in [s * K, (s + 1) * K) and writes C + s * c_split_stride (split-K partials,
//   summed by the engine's residual epilogue; splits = 1 is a plain GEMM).
//
// Why another kernel: at M = 8..64 the product is bound by streaming W once (M << the ~300 flop/byte
// a tensor core could absorb), but cuBLAS and gemm_decode_kernel (gemm.cuh) leave 15-50 % of the copy
// bandwidth on the table at the 7B shapes: gemm_decode_kernel issues a warp's next W loads only after
// its MMAs and re-reads A from L2 once per warp (its warps split K); cuBLAS tiles for reuse that does
// not exist here and cannot be chained by programmatic dependent launch (PDL).
//
// Layout: a CTA owns `warps` 16-row tiles of W (one per warp) and one K slice (blockIdx.y). The K
// slice advances in stages of kSkinnyKc = 64 k through a STAGES-deep cp.async ring in shared memory:
// - W: every lane copies the 16 bytes it will itself feed to the MMA (rows g and g + 8 of its warp's
//   tile, k = 32 c + 8 t .. +8 of each 32-wide chunk c), so a warp's W slots need no barrier and are
//   laid out lane-contiguous (conflict-free 128-bit shared loads).
// - A: the stage's [8 MT, 64] activations, copied once per CTA and read by all its warps (rows
//   padded to 96 elements: the two rows of one 8-lane load phase fall into disjoint bank halves).
// MMA: as in gemm_decode_kernel, a lane's 8 consecutive k of a W row and of an A row are fed to two
// m16n8k16 MMAs as if they sat at the fragment's k slots {2t, 2t+1, 2t+8, 2t+9} (the same permutation
// on both operands; a dot product does not care about the order of k). W is the MMA's A operand (16
// rows of n), the activations its B operand (8 columns of m, zero-filled past M).
// PDL: W does not depend on the previous kernel, so the first STAGES - 1 stages of W are requested
// before griddepcontrol.wait; A is read and C written only after it. Without the launch attribute both
// griddepcontrol instructions are no-ops.
// Needs K % 8 == 0, lda % 8 == 0, ldw % 8 == 0 and 16-byte aligned A and W (the launcher checks).
// Results: f32 accumulation in the MMA's k order; deterministic (no atomics).
#pragma once
#include <cuda_runtime.h>
#include <cstdint>

#include "gemm.cuh"

namespace kvwalk::engine::gemm {

constexpr int kSkinnyKc = 64;                          // k per pipeline stage
constexpr int kSkinnyARow = kSkinnyKc + 32;            // A row in shared memory, elements (192 bytes)
constexpr int kSkinnyWarpStageBytes = 16 * kSkinnyKc * 2;  // one warp's W per stage (2 KiB)
constexpr int kSkinnyMaxWarps = 8;

struct SkinnyParams {
  const uint16_t* A;
  int lda;
  const uint16_t* W;
  int ldw;
  float* C;
  int ldc;
  int M, N, K;  // K: the length of one slice
  size_t c_split_stride;  // elements between the C blocks of consecutive slices
  int accumulate;
};

template <int MT>
__host__ __device__ constexpr int skinny_a_stage_bytes() { return MT * 8 * kSkinnyARow * 2; }

__host__ __device__ constexpr int skinny_stage_bytes(int mt, int warps) { return warps * kSkinnyWarpStageBytes + mt * 8 * kSkinnyARow * 2; }

__device__ __forceinline__ uint4 lds128(uint32_t addr) {
  uint4 v;
  asm volatile("ld.shared.v4.u32 {%0,%1,%2,%3}, [%4];\n" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "r"(addr));
  return v;
}

// MT: 8-row tiles of M (M <= 8 MT). STAGES: depth of the cp.async ring (>= 2). Block: warps * 32
// threads, warps in [1, kSkinnyMaxWarps]. Grid: (ceil(N / (16 warps)), splits). Dynamic shared memory:
// STAGES * skinny_stage_bytes(MT, warps).
template <int MT, int STAGES>
__global__ void __launch_bounds__(kSkinnyMaxWarps * 32) gemm_skinny_kernel(const SkinnyParams p) {
  static_assert(STAGES >= 2, "pipeline depth");
  extern __shared__ __align__(16) uint8_t skinny_smem[];
  const int warps = blockDim.x >> 5;
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int g = lane >> 2;
  const int t = lane & 3;
  const int split = blockIdx.y;
  const uint16_t* A = p.A + static_cast<size_t>(split) * p.K;
  const uint16_t* W = p.W + static_cast<size_t>(split) * p.K;
  float* C = p.C + static_cast<size_t>(split) * p.c_split_stride;
  const int n0 = (blockIdx.x * warps + warp) * 16;
  const int w_bytes = warps * kSkinnyWarpStageBytes;
  const int stage_bytes = w_bytes + skinny_a_stage_bytes<MT>();
  const uint32_t base = static_cast<uint32_t>(__cvta_generic_to_shared(skinny_smem));
  const int nst = (p.K + kSkinnyKc - 1) / kSkinnyKc;

  // This lane's two W rows (clamped past N: loaded, never stored), at its 8-element offset t * 8.
  const int r0 = min(n0 + g, p.N - 1), r1 = min(n0 + g + 8, p.N - 1);
  const uint16_t* w0 = W + static_cast<size_t>(r0) * p.ldw + t * 8;
  const uint16_t* w1 = W + static_cast<size_t>(r1) * p.ldw + t * 8;
  const uint32_t w_lane = base + warp * kSkinnyWarpStageBytes + lane * 16;

  // W slot of a stage: [chunk c (2)][row half h (2)][lane] x 16 bytes per warp.
  auto load_w = [&](int slot, int st) {
    const uint32_t dst = w_lane + slot * stage_bytes;
#pragma unroll
    for (int c = 0; c < kSkinnyKc / 32; c++) {
      const int k = st * kSkinnyKc + c * 32;
      const bool in = k + t * 8 < p.K;  // K % 8 == 0: a 16-byte group is wholly inside or outside
      cp_async_16(dst + (c * 2 + 0) * 512, in ? w0 + k : W, in ? 16 : 0);
      cp_async_16(dst + (c * 2 + 1) * 512, in ? w1 + k : W, in ? 16 : 0);
    }
  };
  // A slot: [8 MT rows][kSkinnyARow] bf16; rows >= M and k >= K are zero-filled.
  auto load_a = [&](int slot, int st) {
    const uint32_t dst = base + slot * stage_bytes + w_bytes;
    for (int i = threadIdx.x; i < MT * 8 * (kSkinnyKc / 8); i += blockDim.x) {
      const int row = i / (kSkinnyKc / 8), gr = i % (kSkinnyKc / 8);
      const int k = st * kSkinnyKc + gr * 8;
      const bool in = row < p.M && k < p.K;
      cp_async_16(dst + (row * kSkinnyARow + gr * 8) * 2, in ? A + static_cast<size_t>(row) * p.lda + k : A, in ? 16 : 0);
    }
  };

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
#pragma unroll
  for (int s = 0; s < STAGES - 1; s++)
    if (s < nst) load_w(s, s);
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
  // Commit group s holds A of stage s (group 0 also every prologue W copy).
#pragma unroll
  for (int s = 0; s < STAGES - 1; s++) {
    if (s < nst) load_a(s, s);
    cp_async_commit();
  }

  float acc[MT][4];
#pragma unroll
  for (int mt = 0; mt < MT; mt++)
#pragma unroll
    for (int i = 0; i < 4; i++) acc[mt][i] = 0.f;

  for (int kt = 0; kt < nst; kt++) {
    cp_async_wait<STAGES - 2>();  // groups 0..kt are complete (this thread's copies)
    __syncthreads();              // ... and every thread's: stage kt's A is visible; slot (kt - 1) % STAGES is free
    const int nx = kt + STAGES - 1;
    if (nx < nst) {
      load_w(nx % STAGES, nx);
      load_a(nx % STAGES, nx);
    }
    cp_async_commit();
    const int slot = kt % STAGES;
    const uint32_t ws = w_lane + slot * stage_bytes;
    const uint32_t as = base + slot * stage_bytes + w_bytes + (g * kSkinnyARow + t * 8) * 2;
#pragma unroll
    for (int c = 0; c < kSkinnyKc / 32; c++) {
      const uint4 lo = lds128(ws + (c * 2 + 0) * 512);
      const uint4 hi = lds128(ws + (c * 2 + 1) * 512);
#pragma unroll
      for (int mt = 0; mt < MT; mt++) {
        const uint4 a = lds128(as + (mt * 8 * kSkinnyARow + c * 32) * 2);
        mma_16816(acc[mt], lo.x, hi.x, lo.y, hi.y, a.x, a.y);
        mma_16816(acc[mt], lo.z, hi.z, lo.w, hi.w, a.z, a.w);
      }
    }
  }
  cp_async_wait<0>();

  // Accumulator element i of lane (g, t) in tile mt is C[m = 8 mt + 2t + (i & 1)][n = n0 + g + 8 (i >> 1)].
  const bool accumulate = p.accumulate != 0;
#pragma unroll
  for (int mt = 0; mt < MT; mt++)
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const int m = mt * 8 + 2 * t + (i & 1);
      const int n = n0 + g + 8 * (i >> 1);
      if (m < p.M && n < p.N) store_out(C, static_cast<size_t>(m) * p.ldc + n, acc[mt][i], accumulate);
    }
}

}  // namespace kvwalk::engine::gemm
