// Built-in bf16 tensor-core GEMM kernels of the decode engine (raw pointers, no Node).
//
//   C[m, n] = (accumulate ? C[m, n] : 0) + sum_k A[m, k] * W[n, k]
//   A bf16 [M, K] (row stride lda), W bf16 [N, K] (row stride ldw), C f32 [M, N] (row stride ldc).
//
// Three kernels (the launcher in gemm.cu picks one):
// - gemm_decode_kernel (M <= 64, memory-bound on W): one CTA owns 16*RT rows of W and streams them
//   once with 128-bit loads; its warps split K and are reduced through shared memory (deterministic,
//   no atomics). Each lane loads 8 consecutive k of a W row and of an A row; because a dot product
//   does not care about the order of k, those 8 values are fed to two m16n8k16 MMAs as if they sat at
//   the fragment's k positions {2t, 2t+1, 2t+8, 2t+9} (the same permutation on both operands), so no
//   shuffles or shared-memory staging are needed. W plays the MMA's A operand (16 rows of n), the
//   activations its B operand (8 columns of m; M is padded to MT*8 by predicated-off loads).
// - gemm_prefill_kernel (large M): 128x128x32 CTA tiles, 8 warps of 64x32, 4-stage cp.async pipeline
//   into XOR-swizzled shared memory, ldmatrix + mma.sync m16n8k16, f32 accumulation.
// Both need K % 8 == 0, lda % 8 == 0, ldw % 8 == 0 and 16-byte aligned A and W.
// - gemm_generic_kernel: anything else (odd K or strides, unaligned pointers), f32 FMA, slow but exact
//   up to f32 rounding.
#pragma once
// (Non-template kernels are static: each translation unit that includes this header gets its own copy.)
#include <cuda_runtime.h>
#include <cstdint>

namespace kvwalk::engine::gemm {

__device__ __forceinline__ float bf16_bits_to_f32(uint16_t b) { return __uint_as_float(static_cast<uint32_t>(b) << 16); }

// D = A(16x16, row) * B(16x8, col) + D, bf16 inputs, f32 accumulators.
__device__ __forceinline__ void mma_16816(float (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t b0,
                                          uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// Streaming 128-bit load (W is read once: do not keep it in L1).
__device__ __forceinline__ uint4 load_stream(const uint16_t* p) {
  uint4 v;
  asm volatile("ld.global.cs.v4.u32 {%0,%1,%2,%3}, [%4];\n" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
  return v;
}

// Read-only 128-bit load through L1 (activations are re-read by every CTA).
__device__ __forceinline__ uint4 load_ro(const uint16_t* p) { return __ldg(reinterpret_cast<const uint4*>(p)); }

__device__ __forceinline__ void cp_async_16(uint32_t smem_addr, const void* gmem, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr), "l"(gmem), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t smem_addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr));
}

__device__ __forceinline__ void store_out(float* C, size_t idx, float v, bool accumulate) {
  C[idx] = accumulate ? C[idx] + v : v;
}

// ---------------------------------------------------------------- decode (M <= 64)

// Threads per CTA of the decode kernel is 32 * warps, warps in [1, decode_max_warps<MT, RT>()]: 16 for
// the small-accumulator variants (registers <= 128), 8 for the large ones.
template <int MT, int RT>
__host__ __device__ constexpr int decode_max_warps() { return MT * RT >= 8 ? 8 : 16; }
// Shared reduction buffer: warps x tiles-per-pass x 128 floats (32 KiB).
constexpr int kDecodeRedFloats = 8192;

// MT: 8-column tiles of M (M <= 8 * MT). RT: 16-row tiles of W per CTA. U: 32-wide k chunks in flight
// per warp. Grid: ceil(N / (16 * RT)) CTAs. Warp w handles chunks [w*U, w*U+U) + j * warps * U.
template <int MT, int RT, int U>
__global__ void __launch_bounds__(decode_max_warps<MT, RT>() * 32)
    gemm_decode_kernel(const uint16_t* __restrict__ A, int lda, const uint16_t* __restrict__ W, int ldw, float* __restrict__ C,
                       int ldc, int M, int N, int K, int accumulate) {
  __shared__ float red[kDecodeRedFloats];
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int nwarps = blockDim.x >> 5;
  const int g = lane >> 2;
  const int t = lane & 3;
  const int n0 = blockIdx.x * 16 * RT;

  // Row pointers at this lane's 8-element offset within a chunk. Rows past N are clamped (their
  // results are never stored); rows past M are not loaded (zeros).
  const uint16_t* wrow[RT][2];
#pragma unroll
  for (int rt = 0; rt < RT; rt++)
#pragma unroll
    for (int h = 0; h < 2; h++) {
      int n = n0 + rt * 16 + h * 8 + g;
      n = n < N ? n : N - 1;
      wrow[rt][h] = W + static_cast<size_t>(n) * ldw + t * 8;
    }
  const uint16_t* arow[MT];
  bool avalid[MT];
#pragma unroll
  for (int mt = 0; mt < MT; mt++) {
    const int m = mt * 8 + g;
    avalid[mt] = m < M;
    arow[mt] = A + static_cast<size_t>(m < M ? m : 0) * lda + t * 8;
  }

  float acc[RT][MT][4];
#pragma unroll
  for (int rt = 0; rt < RT; rt++)
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
      for (int i = 0; i < 4; i++) acc[rt][mt][i] = 0.f;

  const int nchunks = (K + 31) >> 5;
  const uint4 zero = make_uint4(0, 0, 0, 0);
  for (int c0 = warp * U; c0 < nchunks; c0 += nwarps * U) {
    uint4 wv[U][RT][2];
    uint4 av[U][MT];
#pragma unroll
    for (int u = 0; u < U; u++) {
      const int k = (c0 + u) * 32;  // the row pointers already include this lane's t * 8
      const bool kin = k + t * 8 < K;  // K % 8 == 0: an 8-element group is wholly inside or outside
#pragma unroll
      for (int rt = 0; rt < RT; rt++)
#pragma unroll
        for (int h = 0; h < 2; h++) wv[u][rt][h] = kin ? load_stream(wrow[rt][h] + k) : zero;
#pragma unroll
      for (int mt = 0; mt < MT; mt++) av[u][mt] = (kin && avalid[mt]) ? load_ro(arow[mt] + k) : zero;
    }
#pragma unroll
    for (int u = 0; u < U; u++)
#pragma unroll
      for (int rt = 0; rt < RT; rt++)
#pragma unroll
        for (int mt = 0; mt < MT; mt++) {
          const uint4 lo = wv[u][rt][0], hi = wv[u][rt][1], a = av[u][mt];
          mma_16816(acc[rt][mt], lo.x, hi.x, lo.y, hi.y, a.x, a.y);
          mma_16816(acc[rt][mt], lo.z, hi.z, lo.w, hi.w, a.z, a.w);
        }
  }

  // Cross-warp reduction, `tiles_per_pass` (rt, mt) tiles at a time. Accumulator element i of lane
  // (g, t) in tile (rt, mt) is C[m = mt*8 + 2t + (i & 1)][n = n0 + rt*16 + g + 8*(i >> 1)].
  constexpr int kTiles = RT * MT;
  int tiles_per_pass = kDecodeRedFloats / (nwarps * 128);
  if (tiles_per_pass > kTiles) tiles_per_pass = kTiles;
  for (int base = 0; base < kTiles; base += tiles_per_pass) {
    const int count = base + tiles_per_pass <= kTiles ? tiles_per_pass : kTiles - base;
#pragma unroll
    for (int tile = 0; tile < kTiles; tile++) {
      if (tile >= base && tile < base + count) {
        const int rt = tile / MT, mt = tile % MT;
        float* dst = red + (warp * tiles_per_pass + (tile - base)) * 128;
#pragma unroll
        for (int i = 0; i < 4; i++) dst[i * 32 + lane] = acc[rt][mt][i];
      }
    }
    __syncthreads();
    for (int e = threadIdx.x; e < count * 128; e += blockDim.x) {
      const int tile = base + e / 128;
      const int local = e % 128;
      const int nn = local & 15, ml = local >> 4;
      const int rt = tile / MT, mt = tile % MT;
      const int m = mt * 8 + ml;
      const int n = n0 + rt * 16 + nn;
      const int src_lane = (nn & 7) * 4 + (ml >> 1);
      const int i = (nn >> 3) * 2 + (ml & 1);
      float s = 0.f;
      for (int w = 0; w < nwarps; w++) s += red[(w * tiles_per_pass + (tile - base)) * 128 + i * 32 + src_lane];
      if (m < M && n < N) store_out(C, static_cast<size_t>(m) * ldc + n, s, accumulate != 0);
    }
    __syncthreads();
  }
}

// ---------------------------------------------------------------- prefill (large M)

constexpr int kPrefillBM = 128;
constexpr int kPrefillBN = 128;
constexpr int kPrefillBK = 32;
constexpr int kPrefillStages = 4;
constexpr int kPrefillThreads = 256;
constexpr int kPrefillSmemBytes = kPrefillStages * (kPrefillBM + kPrefillBN) * kPrefillBK * 2;  // 64 KiB

// Element offset of 16-byte chunk `chunk` (0..3) of tile row `row` (64-byte rows): XOR swizzle so the
// 8 rows read by one ldmatrix phase fall into 8 distinct 16-byte bank groups.
__device__ __forceinline__ int prefill_swizzle(int row, int chunk) { return row * kPrefillBK + ((chunk ^ ((row >> 1) & 3)) << 3); }

static __global__ void __launch_bounds__(kPrefillThreads, 2)
    gemm_prefill_kernel(const uint16_t* __restrict__ A, int lda, const uint16_t* __restrict__ W, int ldw, float* __restrict__ C,
                        int ldc, int M, int N, int K, int accumulate) {
  extern __shared__ __align__(16) uint16_t prefill_smem[];
  uint16_t* sA = prefill_smem;                                       // [stages][BM][BK]
  uint16_t* sW = prefill_smem + kPrefillStages * kPrefillBM * kPrefillBK;  // [stages][BN][BK]
  const uint32_t sA_addr = static_cast<uint32_t>(__cvta_generic_to_shared(sA));
  const uint32_t sW_addr = static_cast<uint32_t>(__cvta_generic_to_shared(sW));

  const int tid = threadIdx.x;
  const int lane = tid & 31;
  const int warp = tid >> 5;
  const int wm = warp >> 2;  // 0..1: rows wm*64
  const int wn = warp & 3;   // 0..3: cols wn*32
  const int m0 = blockIdx.y * kPrefillBM;
  const int n0 = blockIdx.x * kPrefillBN;
  const int ktiles = (K + kPrefillBK - 1) / kPrefillBK;

  // Each thread copies 2 chunks of A and 2 of W per stage (128 rows x 4 chunks = 512 chunks each).
  auto load_tile = [&](int stage, int kt) {
#pragma unroll
    for (int j = 0; j < 2; j++) {
      const int i = tid + j * kPrefillThreads;
      const int row = i >> 2, ch = i & 3;
      const int k = kt * kPrefillBK + ch * 8;
      const int gm = m0 + row, gn = n0 + row;
      const bool va = gm < M && k < K, vw = gn < N && k < K;
      const uint16_t* srcA = va ? A + static_cast<size_t>(gm) * lda + k : A;
      const uint16_t* srcW = vw ? W + static_cast<size_t>(gn) * ldw + k : W;
      const int off = stage * kPrefillBM * kPrefillBK + prefill_swizzle(row, ch);
      cp_async_16(sA_addr + off * 2, srcA, va ? 16 : 0);
      cp_async_16(sW_addr + off * 2, srcW, vw ? 16 : 0);
    }
  };

  float acc[4][4][4];
#pragma unroll
  for (int a = 0; a < 4; a++)
#pragma unroll
    for (int b = 0; b < 4; b++)
#pragma unroll
      for (int c = 0; c < 4; c++) acc[a][b][c] = 0.f;

#pragma unroll
  for (int s = 0; s < kPrefillStages - 1; s++) {
    if (s < ktiles) load_tile(s, s);
    cp_async_commit();
  }

  for (int kt = 0; kt < ktiles; kt++) {
    cp_async_wait<kPrefillStages - 2>();
    __syncthreads();
    const int next = kt + kPrefillStages - 1;
    if (next < ktiles) load_tile(next % kPrefillStages, next);
    cp_async_commit();

    const int stage = kt % kPrefillStages;
    const uint32_t a_base = sA_addr + stage * kPrefillBM * kPrefillBK * 2;
    const uint32_t w_base = sW_addr + stage * kPrefillBN * kPrefillBK * 2;
#pragma unroll
    for (int kk = 0; kk < kPrefillBK / 16; kk++) {
      uint32_t af[4][4];
      uint32_t bf[2][4];
#pragma unroll
      for (int mi = 0; mi < 4; mi++) {
        const int row = wm * 64 + mi * 16 + (lane & 15);
        const int ch = kk * 2 + (lane >> 4);
        ldmatrix_x4(af[mi], a_base + prefill_swizzle(row, ch) * 2);
      }
#pragma unroll
      for (int nj = 0; nj < 2; nj++) {
        const int row = wn * 32 + nj * 16 + (lane & 7) + ((lane >> 4) << 3);
        const int ch = kk * 2 + ((lane >> 3) & 1);
        ldmatrix_x4(bf[nj], w_base + prefill_swizzle(row, ch) * 2);
      }
#pragma unroll
      for (int mi = 0; mi < 4; mi++)
#pragma unroll
        for (int ni = 0; ni < 4; ni++) {
          const uint32_t* b = &bf[ni >> 1][(ni & 1) * 2];
          mma_16816(acc[mi][ni], af[mi][0], af[mi][1], af[mi][2], af[mi][3], b[0], b[1]);
        }
    }
  }
  cp_async_wait<0>();

  const int g = lane >> 2, t = lane & 3;
  const bool acc_flag = accumulate != 0;
#pragma unroll
  for (int mi = 0; mi < 4; mi++)
#pragma unroll
    for (int ni = 0; ni < 4; ni++)
#pragma unroll
      for (int h = 0; h < 2; h++) {
        const int m = m0 + wm * 64 + mi * 16 + g + h * 8;
        const int n = n0 + wn * 32 + ni * 8 + t * 2;
        if (m >= M) continue;
        const size_t idx = static_cast<size_t>(m) * ldc + n;
        if (n < N) store_out(C, idx, acc[mi][ni][h * 2], acc_flag);
        if (n + 1 < N) store_out(C, idx + 1, acc[mi][ni][h * 2 + 1], acc_flag);
      }
}

// ---------------------------------------------------------------- generic (any shape, stride, alignment)

constexpr int kGenericTile = 16;

static __global__ void __launch_bounds__(kGenericTile * kGenericTile)
    gemm_generic_kernel(const uint16_t* __restrict__ A, int lda, const uint16_t* __restrict__ W, int ldw, float* __restrict__ C,
                        int ldc, int M, int N, int K, int accumulate) {
  __shared__ float sA[kGenericTile][kGenericTile + 1];
  __shared__ float sW[kGenericTile][kGenericTile + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int m0 = blockIdx.y * kGenericTile, n0 = blockIdx.x * kGenericTile;
  float s = 0.f;
  for (int k0 = 0; k0 < K; k0 += kGenericTile) {
    const int k = k0 + tx;
    sA[ty][tx] = (m0 + ty < M && k < K) ? bf16_bits_to_f32(A[static_cast<size_t>(m0 + ty) * lda + k]) : 0.f;
    sW[ty][tx] = (n0 + ty < N && k < K) ? bf16_bits_to_f32(W[static_cast<size_t>(n0 + ty) * ldw + k]) : 0.f;
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kGenericTile; kk++) s = fmaf(sA[ty][kk], sW[tx][kk], s);
    __syncthreads();
  }
  const int m = m0 + ty, n = n0 + tx;
  if (m < M && n < N) store_out(C, static_cast<size_t>(m) * ldc + n, s, accumulate != 0);
}

// ---------------------------------------------------------------- test/bench data

// out[i] = bf16 of a uniform value in [-1, 1) from a hash of (seed, i); for benchmarks only.
static __global__ void gemm_fill_random_kernel(uint16_t* out, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    uint32_t x = static_cast<uint32_t>(i) * 0x9E3779B1u ^ static_cast<uint32_t>(i >> 32) * 0x85EBCA77u ^ seed * 0xC2B2AE3Du;
    x ^= x >> 16;
    x *= 0x7FEB352Du;
    x ^= x >> 15;
    x *= 0x846CA68Bu;
    x ^= x >> 16;
    const float v = static_cast<float>(x >> 8) * (2.0f / 16777216.0f) - 1.0f;
    out[i] = static_cast<uint16_t>(__float_as_uint(v) >> 16);
  }
}

}  // namespace kvwalk::engine::gemm
