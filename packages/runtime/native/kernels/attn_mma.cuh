// Device helpers shared by the engine's tensor-core kernels (prefill attention in engine_kernels.cuh,
// prompt scoring in prefill_score.cuh): bf16 bit conversions and the mma.sync / ldmatrix / cp.async
// wrappers with the prefill tile configuration. Only inline device functions and types: including this
// header from several translation units defines no kernel twice.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace kvwalk::engine::kernels {

__device__ __forceinline__ uint16_t f32_to_bf16_bits(float f) {
  const uint32_t b = __float_as_uint(f);
  if ((b & 0x7f800000u) == 0x7f800000u && (b & 0x007fffffu) != 0u) return static_cast<uint16_t>((b >> 16) | 0x0040u);
  return static_cast<uint16_t>((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
}

__device__ __forceinline__ float bf16_bits_to_f32(uint32_t h) { return __uint_as_float((h & 0xffffu) << 16); }

// Two floats -> two bf16 in one 32-bit word, `lo` in the low half (hardware cvt: round to nearest even).
__device__ __forceinline__ uint32_t pack_bf16x2(float lo, float hi) {
  __nv_bfloat162 p = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&p);
}

namespace attn {

__device__ __forceinline__ void mma_bf16_16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3, const void* smem_row) {
  const unsigned addr = static_cast<unsigned>(__cvta_generic_to_shared(smem_row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
               : "r"(addr));
}

// 16-byte global -> shared copy; when !valid the destination is zero-filled (src-size 0).
__device__ __forceinline__ void cp_async_16(void* smem, const void* gmem, bool valid) {
  const unsigned addr = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  const int src_size = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(addr), "l"(gmem), "r"(src_size));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

template <int D, int NWARPS>
struct Config {
  static constexpr int BM = 16 * NWARPS;
  static constexpr int BN = 64;
  static constexpr int LD = D + 8;  // padded row length (bf16 elements): 16-byte aligned rows, conflict-free fragments
  static constexpr size_t smem_bytes = static_cast<size_t>(BM + 4 * BN) * LD * sizeof(uint16_t);
};

// A warp's 16 query rows as mma A fragments (m16n8k16, row major), from bf16 rows in shared memory with
// row stride LD; `rows` points at the warp's first row, (fr, fc) = (lane / 4, 2 * (lane % 4)).
template <int D, int LD>
__device__ __forceinline__ void load_a_fragments(const uint16_t* rows, int fr, int fc, uint32_t (&a)[D / 16][4]) {
  const uint16_t* base = rows + fr * LD + fc;
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    a[kk][0] = *reinterpret_cast<const uint32_t*>(base + kk * 16);
    a[kk][1] = *reinterpret_cast<const uint32_t*>(base + 8 * LD + kk * 16);
    a[kk][2] = *reinterpret_cast<const uint32_t*>(base + kk * 16 + 8);
    a[kk][3] = *reinterpret_cast<const uint32_t*>(base + 8 * LD + kk * 16 + 8);
  }
}

// True when every key of the tile [kb, kb + BN) is invisible to every row of the warp's [q_min, q_max]:
// in their future, or (window > 0) older than the window.
template <int BN>
__device__ __forceinline__ bool key_tile_masked(int kb, int q_min, int q_max, int window) {
  return kb > q_max || (window > 0 && q_min - (kb + BN - 1) >= window);
}

// Key tiles [tile_lo, tile_hi] of BN keys that query rows q0 .. min(q0 + BM, T) - 1 may see: causal, and
// (window > 0) no key older than the window of the tile's first row.
template <int BN, int BM>
__device__ __forceinline__ void key_tile_range(int q0, int T, int window, int& tile_lo, int& tile_hi) {
  const int q_last = min(q0 + BM, T) - 1;
  const int k_lo = window > 0 ? max(0, q0 - window + 1) : 0;
  tile_lo = k_lo / BN;
  tile_hi = q_last / BN;
}

// One S tile of a warp: s = (Q K^T) * scale_log2 for its 16 rows (lane rows row_a, row_b = row_a + 8)
// and the BN keys of the shared-memory tile sKs (row stride LD) starting at key kb, with every key a row
// may not see (key > row, key >= T, or outside the window) at -inf. The mask is evaluated only for
// tiles that straddle one of those boundaries.
template <int D, int BN, int LD>
__device__ __forceinline__ void masked_scores_tile(const uint32_t (&qf)[D / 16][4], const uint16_t* sKs, int fr, int fc, float scale_log2, int kb,
                                                   int row_a, int row_b, int q_min, int q_max, int T, int window, float (&s)[BN / 8][4]) {
#pragma unroll
  for (int nt = 0; nt < BN / 8; ++nt) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
#pragma unroll
    for (int nt = 0; nt < BN / 8; ++nt) {
      const uint16_t* kp = sKs + (nt * 8 + fr) * LD + kk * 16 + fc;
      mma_bf16_16816(s[nt], qf[kk], *reinterpret_cast<const uint32_t*>(kp), *reinterpret_cast<const uint32_t*>(kp + 8));
    }
  }
  const bool need_mask = kb + BN - 1 > q_min || kb + BN > T || (window > 0 && q_max - kb >= window);
#pragma unroll
  for (int nt = 0; nt < BN / 8; ++nt) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      float x = s[nt][e] * scale_log2;
      if (need_mask) {
        const int key = kb + nt * 8 + fc + (e & 1);
        const int row = e < 2 ? row_a : row_b;
        const bool ok = key <= row && key < T && (window <= 0 || row - key < window);
        if (!ok) x = -INFINITY;
      }
      s[nt][e] = x;
    }
  }
}

}  // namespace attn

}  // namespace kvwalk::engine::kernels
