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
// - W (ROWCOPY false): every lane copies the 16 bytes it will itself feed to the MMA (rows g and g + 8
//   of its warp's tile, k = 32 c + 8 t .. +8 of each 32-wide chunk c), laid out lane-contiguous; one
//   copy instruction of a warp touches 8 rows x 64 bytes (half of 8 cache lines).
//   (ROWCOPY true): the warp copies whole 128-byte row segments (lane L: row L / 8 + 4 j, 16-byte
//   chunk L % 8), so one instruction fills 4 complete lines; rows are stored with the 16-byte chunk
//   index XOR 4 on odd rows, so the MMA lanes' 128-bit reads (rows g and g + 1 in one 8-lane phase)
//   fall into disjoint bank halves.
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

// Accumulator element i of lane (g, t) in tile mt is C[m = 8 mt + 2t + (i & 1)][n = n0 + g + 8 (i >> 1)].
template <int MT>
__device__ __forceinline__ void skinny_store(const SkinnyParams& p, float* C, int n0, int g, int t, const float (&acc)[MT][4]) {
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

// MT: 8-row tiles of M (M <= 8 MT). STAGES: depth of the cp.async ring (>= 2). ROWCOPY: W copy pattern
// (above). Block: warps * 32
// threads, warps in [1, kSkinnyMaxWarps]. Grid: (ceil(N / (16 warps)), splits). Dynamic shared memory:
// STAGES * skinny_stage_bytes(MT, warps).
template <int MT, int STAGES, bool ROWCOPY>
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

  // Rows past N are clamped (loaded, never stored).
  const uint32_t w_warp = base + warp * kSkinnyWarpStageBytes;
  // ROWCOPY false: this lane's two W rows at its 8-element offset t * 8. ROWCOPY true: the rows this
  // lane copies (lane / 8 + 4 j) at its 16-byte chunk lane % 8.
  const uint16_t* wsrc[4];
  uint32_t wdst[4];
  if constexpr (!ROWCOPY) {
    wsrc[0] = W + static_cast<size_t>(min(n0 + g, p.N - 1)) * p.ldw + t * 8;
    wsrc[1] = W + static_cast<size_t>(min(n0 + g + 8, p.N - 1)) * p.ldw + t * 8;
  } else {
    const int q = lane & 7;
#pragma unroll
    for (int j = 0; j < 4; j++) {
      const int r = (lane >> 3) + 4 * j;
      wsrc[j] = W + static_cast<size_t>(min(n0 + r, p.N - 1)) * p.ldw + q * 8;
      wdst[j] = w_warp + r * 128 + ((q ^ ((r & 1) << 2)) << 4);
    }
  }

  // W slot of a stage, per warp (2 KiB). ROWCOPY false: [chunk c (2)][row half h (2)][lane] x 16 bytes;
  // ROWCOPY true: [row (16)][chunk (8), swizzled] x 16 bytes.
  auto load_w = [&](int slot, int st) {
    if constexpr (!ROWCOPY) {
      const uint32_t dst = w_warp + lane * 16 + slot * stage_bytes;
#pragma unroll
      for (int c = 0; c < kSkinnyKc / 32; c++) {
        const int k = st * kSkinnyKc + c * 32;
        const bool in = k + t * 8 < p.K;  // K % 8 == 0: a 16-byte group is wholly inside or outside
        cp_async_16(dst + (c * 2 + 0) * 512, in ? wsrc[0] + k : W, in ? 16 : 0);
        cp_async_16(dst + (c * 2 + 1) * 512, in ? wsrc[1] + k : W, in ? 16 : 0);
      }
    } else {
      const int k = st * kSkinnyKc;
      const bool in = k + (lane & 7) * 8 < p.K;
#pragma unroll
      for (int j = 0; j < 4; j++) cp_async_16(wdst[j] + slot * stage_bytes, in ? wsrc[j] + k : W, in ? 16 : 0);
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
    const uint32_t ws = w_warp + slot * stage_bytes;
    const uint32_t as = base + slot * stage_bytes + w_bytes + (g * kSkinnyARow + t * 8) * 2;
#pragma unroll
    for (int c = 0; c < kSkinnyKc / 32; c++) {
      uint4 lo, hi;
      if constexpr (!ROWCOPY) {
        lo = lds128(ws + lane * 16 + (c * 2 + 0) * 512);
        hi = lds128(ws + lane * 16 + (c * 2 + 1) * 512);
      } else {
        const uint32_t chunk = static_cast<uint32_t>(((c * 4 + t) ^ ((g & 1) << 2)) << 4);
        lo = lds128(ws + g * 128 + chunk);
        hi = lds128(ws + (g + 8) * 128 + chunk);
      }
#pragma unroll
      for (int mt = 0; mt < MT; mt++) {
        const uint4 a = lds128(as + (mt * 8 * kSkinnyARow + c * 32) * 2);
        mma_16816(acc[mt], lo.x, hi.x, lo.y, hi.y, a.x, a.y);
        mma_16816(acc[mt], lo.z, hi.z, lo.w, hi.w, a.z, a.w);
      }
    }
  }
  cp_async_wait<0>();
  skinny_store<MT>(p, C, n0, g, t, acc);
}

// ---------------------------------------------------------------- bulk-copy (TMA) variant
//
// Same work split, MMA and epilogue as gemm_skinny_kernel, but every stage's bytes arrive by
// cp.async.bulk (the Hopper tensor-memory accelerator, sm_90+): lanes 0..15 of each warp copy one
// 128-byte W row segment each, completing on the warp's own mbarrier; warp 0 copies the M activation
// rows, completing on the stage's A mbarrier. The SM issues one instruction per 128 bytes instead of
// eight 16-byte cp.async, and waits on a barrier instead of a commit group. Rows are stored at a
// 192-byte stride (two rows of one 8-lane 128-bit read phase fall into disjoint bank halves); A rows
// M .. 8 MT - 1 are zeroed once and never copied. Needs the slice length K % 64 == 0 (a bulk copy
// cannot zero-fill a partial stage; the launcher uses gemm_skinny_kernel otherwise).
constexpr int kSkinnyRowBytes = 192;
constexpr int kSkinnyBulkWarpStageBytes = 16 * kSkinnyRowBytes;

__host__ __device__ constexpr int skinny_bulk_stage_bytes(int mt, int warps) {
  return warps * kSkinnyBulkWarpStageBytes + mt * 8 * kSkinnyRowBytes;
}
// Barriers after the stages: per slot one per warp (W) and one for A, 8 bytes each.
__host__ __device__ constexpr int skinny_bulk_smem_bytes(int mt, int warps, int stages) {
  return stages * skinny_bulk_stage_bytes(mt, warps) + stages * (warps + 1) * 8;
}

__device__ __forceinline__ void mbar_init(uint32_t bar, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count));
}
__device__ __forceinline__ void mbar_expect_tx(uint32_t bar, int bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_wait(uint32_t bar, int parity) {
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "SKINNY_WAIT_%=:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 p, [%0], %1;\n"
      "@!p bra SKINNY_WAIT_%=;\n"
      "}\n" ::"r"(bar),
      "r"(parity)
      : "memory");
}
__device__ __forceinline__ void bulk_copy(uint32_t dst, const void* src, int bytes, uint32_t bar) {
  asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n" ::"r"(dst), "l"(src), "r"(bytes),
               "r"(bar)
               : "memory");
}

template <int MT, int STAGES>
__global__ void __launch_bounds__(kSkinnyMaxWarps * 32) gemm_skinny_bulk_kernel(const SkinnyParams p) {
  static_assert(STAGES >= 2, "pipeline depth");
  extern __shared__ __align__(128) uint8_t skinny_bulk_smem[];
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
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
  const int w_bytes = warps * kSkinnyBulkWarpStageBytes;
  const int stage_bytes = w_bytes + MT * 8 * kSkinnyRowBytes;
  const uint32_t base = static_cast<uint32_t>(__cvta_generic_to_shared(skinny_bulk_smem));
  const uint32_t bars = base + STAGES * stage_bytes;  // [slot][warps + 1]: W barriers, then A's
  auto wbar = [&](int slot) { return bars + (slot * (warps + 1) + warp) * 8; };
  auto abar = [&](int slot) { return bars + (slot * (warps + 1) + warps) * 8; };
  const int nst = p.K / kSkinnyKc;  // K % 64 == 0

  // Zero the activation rows past M in every slot (never copied); set up the barriers.
  for (int i = threadIdx.x; i < STAGES * (MT * 8 - p.M) * (kSkinnyRowBytes / 16); i += blockDim.x) {
    const int per_slot = (MT * 8 - p.M) * (kSkinnyRowBytes / 16);
    const int slot = i / per_slot, r = (i % per_slot) / (kSkinnyRowBytes / 16) + p.M, q = i % (kSkinnyRowBytes / 16);
    const uint32_t addr = base + slot * stage_bytes + w_bytes + r * kSkinnyRowBytes + q * 16;
    asm volatile("st.shared.v4.u32 [%0], {%1, %1, %1, %1};\n" ::"r"(addr), "r"(0));
  }
  if (threadIdx.x < STAGES * (warps + 1)) mbar_init(bars + threadIdx.x * 8, 1);
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  __syncthreads();

  // This lane's W row (lanes 0..15; rows past N clamped: copied, never stored).
  const uint16_t* wrow = W + static_cast<size_t>(min(n0 + (lane & 15), p.N - 1)) * p.ldw;
  auto load_w = [&](int slot, int st) {
    if (lane == 0) mbar_expect_tx(wbar(slot), 16 * kSkinnyKc * 2);
    __syncwarp();
    if (lane < 16) bulk_copy(base + slot * stage_bytes + warp * kSkinnyBulkWarpStageBytes + lane * kSkinnyRowBytes, wrow + st * kSkinnyKc, kSkinnyKc * 2, wbar(slot));
  };
  auto load_a = [&](int slot, int st) {  // warp 0
    if (lane == 0) mbar_expect_tx(abar(slot), p.M * kSkinnyKc * 2);
    __syncwarp();
    for (int r = lane; r < p.M; r += 32) {
      bulk_copy(base + slot * stage_bytes + w_bytes + r * kSkinnyRowBytes, A + static_cast<size_t>(r) * p.lda + st * kSkinnyKc, kSkinnyKc * 2, abar(slot));
    }
  };

  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#pragma unroll
  for (int s = 0; s < STAGES - 1; s++)
    if (s < nst) load_w(s, s);
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
  if (warp == 0) {
#pragma unroll
    for (int s = 0; s < STAGES - 1; s++)
      if (s < nst) load_a(s, s);
  }

  float acc[MT][4];
#pragma unroll
  for (int mt = 0; mt < MT; mt++)
#pragma unroll
    for (int i = 0; i < 4; i++) acc[mt][i] = 0.f;

  for (int kt = 0; kt < nst; kt++) {
    // Every warp is done with slot (kt - 1) % STAGES (its A part is shared); refill it with stage
    // kt + STAGES - 1 (the generic-proxy reads of that slot are ordered before the async-proxy writes).
    __syncthreads();
    const int nx = kt + STAGES - 1;
    if (nx < nst) {
      asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
      load_w(nx % STAGES, nx);
      if (warp == 0) load_a(nx % STAGES, nx);
    }
    const int slot = kt % STAGES;
    const int parity = (kt / STAGES) & 1;
    mbar_wait(wbar(slot), parity);
    mbar_wait(abar(slot), parity);
    const uint32_t ws = base + slot * stage_bytes + warp * kSkinnyBulkWarpStageBytes + g * kSkinnyRowBytes + t * 16;
    const uint32_t as = base + slot * stage_bytes + w_bytes + g * kSkinnyRowBytes + t * 16;
#pragma unroll
    for (int c = 0; c < kSkinnyKc / 32; c++) {
      const uint4 lo = lds128(ws + c * 64);
      const uint4 hi = lds128(ws + 8 * kSkinnyRowBytes + c * 64);
#pragma unroll
      for (int mt = 0; mt < MT; mt++) {
        const uint4 a = lds128(as + mt * 8 * kSkinnyRowBytes + c * 64);
        mma_16816(acc[mt], lo.x, hi.x, lo.y, hi.y, a.x, a.y);
        mma_16816(acc[mt], lo.z, hi.z, lo.w, hi.w, a.z, a.w);
      }
    }
  }
  skinny_store<MT>(p, C, n0, g, t, acc);
#endif
}

}  // namespace kvwalk::engine::gemm
