// Launchers of the built-in bf16 GEMM kernels (kernels/gemm.cuh); dispatched by launch_gemm
// (cublas_shim.cc) and called directly by the GEMM test binding.
//
// Measured on one H200 (copy D2D 4.22 TB/s read+write), Llama-2-7B shapes, fraction of copy bandwidth
// (cuBLAS 13.1 in brackets): M=1: qkv 0.63 (0.80), o 0.57 (0.46), gate+up 0.71 (0.90), down 0.61
// (0.75), lm head 0.74 (0.92); M=32: 0.61, 0.40, 0.58, 0.44, 0.74 (0.57-0.90). Prefill M=4096:
// 270-330 TFLOP/s (cuBLAS 650-810). The decode kernel issues its next loads only after the MMAs of
// the current chunk group (no register double-buffering); that, not the MMA rate, is the remaining gap.
#include "cublas_shim.h"
#include "gemm.cuh"

namespace kvwalk::engine {
namespace {

using gemm::gemm_decode_kernel;

int sm_count() {
  static int count = 0;
  if (count == 0) {
    int dev = 0, n = 0;
    if (cudaGetDevice(&dev) == cudaSuccess && cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) == cudaSuccess && n > 0) {
      count = n;
    } else {
      cudaGetLastError();
      return 108;
    }
  }
  return count;
}

template <int MT, int RT, int U>
cudaError_t decode_launch(const bf16_t* A, int lda, const bf16_t* W, int ldw, float* C, int ldc, int M, int N, int K, bool accumulate,
                          cudaStream_t stream) {
  const int rows = 16 * RT;
  const int ctas = (N + rows - 1) / rows;
  const int nchunks = (K + 31) / 32;
  // Measured on an H200: for M <= 16 more warps per CTA (more bytes in flight) moves the decode GEMM
  // toward copy bandwidth (16 warps: 0.59-0.74 of copy vs 0.51-0.70 with 8); for larger M, 8 warps
  // (16 was slower: the A-fragment loads compete). At least U chunks per warp.
  int warps = MT <= 2 ? gemm::decode_max_warps<MT, RT>() : 8;
  if (warps > gemm::decode_max_warps<MT, RT>()) warps = gemm::decode_max_warps<MT, RT>();
  const int max_by_k = (nchunks + U - 1) / U;
  if (warps > max_by_k) warps = max_by_k;
  if (warps < 1) warps = 1;
  gemm_decode_kernel<MT, RT, U><<<ctas, warps * 32, 0, stream>>>(A, lda, W, ldw, C, ldc, M, N, K, accumulate ? 1 : 0);
  return cudaGetLastError();
}

// M <= 64 (one launch). Tile choice (measured at the Llama-2-7B shapes): one 16-row W tile per CTA for
// small M; for M in (16, 32] four tiles per CTA (A fragments reused 4x) when that still gives >= 1 CTA
// per SM, else one tile with 4 chunks in flight.
cudaError_t decode_dispatch(const bf16_t* A, int lda, const bf16_t* W, int ldw, float* C, int ldc, int M, int N, int K, bool accumulate,
                            cudaStream_t stream) {
  const int mt = (M + 7) / 8;
  const bool wide = (N + 63) / 64 >= sm_count();
  switch (mt) {
    case 1: return decode_launch<1, 1, 4>(A, lda, W, ldw, C, ldc, M, N, K, accumulate, stream);
    case 2: return decode_launch<2, 1, 2>(A, lda, W, ldw, C, ldc, M, N, K, accumulate, stream);
    case 3:
      return wide ? decode_launch<3, 4, 1>(A, lda, W, ldw, C, ldc, M, N, K, accumulate, stream)
                  : decode_launch<3, 1, 4>(A, lda, W, ldw, C, ldc, M, N, K, accumulate, stream);
    case 4:
      return wide ? decode_launch<4, 4, 1>(A, lda, W, ldw, C, ldc, M, N, K, accumulate, stream)
                  : decode_launch<4, 1, 4>(A, lda, W, ldw, C, ldc, M, N, K, accumulate, stream);
    case 5: return decode_launch<5, 2, 1>(A, lda, W, ldw, C, ldc, M, N, K, accumulate, stream);
    case 6: return decode_launch<6, 2, 1>(A, lda, W, ldw, C, ldc, M, N, K, accumulate, stream);
    case 7: return decode_launch<7, 2, 1>(A, lda, W, ldw, C, ldc, M, N, K, accumulate, stream);
    default: return decode_launch<8, 2, 1>(A, lda, W, ldw, C, ldc, M, N, K, accumulate, stream);
  }
}

cudaError_t prefill_launch(const bf16_t* A, int lda, const bf16_t* W, int ldw, float* C, int ldc, int M, int N, int K, bool accumulate,
                           cudaStream_t stream) {
  static bool configured = false;
  if (!configured) {
    cudaError_t err = cudaFuncSetAttribute(gemm::gemm_prefill_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, gemm::kPrefillSmemBytes);
    if (err != cudaSuccess) return err;
    configured = true;
  }
  const dim3 grid((N + gemm::kPrefillBN - 1) / gemm::kPrefillBN, (M + gemm::kPrefillBM - 1) / gemm::kPrefillBM);
  if (grid.y > 65535) return cudaErrorInvalidConfiguration;
  gemm::gemm_prefill_kernel<<<grid, gemm::kPrefillThreads, gemm::kPrefillSmemBytes, stream>>>(A, lda, W, ldw, C, ldc, M, N, K,
                                                                                           accumulate ? 1 : 0);
  return cudaGetLastError();
}

cudaError_t generic_launch(const bf16_t* A, int lda, const bf16_t* W, int ldw, float* C, int ldc, int M, int N, int K, bool accumulate,
                           cudaStream_t stream) {
  const dim3 block(gemm::kGenericTile, gemm::kGenericTile);
  const dim3 grid((N + gemm::kGenericTile - 1) / gemm::kGenericTile, (M + gemm::kGenericTile - 1) / gemm::kGenericTile);
  if (grid.y > 65535) return cudaErrorInvalidConfiguration;
  gemm::gemm_generic_kernel<<<grid, block, 0, stream>>>(A, lda, W, ldw, C, ldc, M, N, K, accumulate ? 1 : 0);
  return cudaGetLastError();
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

}  // namespace

const char* gemm_path_name(GemmPath path) {
  switch (path) {
    case GemmPath::Decode: return "decode";
    case GemmPath::Prefill: return "prefill";
    case GemmPath::Generic: return "generic";
    default: return "auto";
  }
}

cudaError_t launch_gemm_builtin(const bf16_t* A, int lda, const bf16_t* W, int ldw, float* C, int ldc, int M, int N, int K,
                                bool accumulate, cudaStream_t stream, GemmPath path, GemmPath* path_used) {
  if (M < 1 || N < 1 || K < 1 || lda < K || ldw < K || ldc < N || !A || !W || !C) return cudaErrorInvalidValue;
  const bool vectorizable = K % 8 == 0 && lda % 8 == 0 && ldw % 8 == 0 && aligned16(A) && aligned16(W);
  if (!vectorizable) {
    path = GemmPath::Generic;
  } else if (path == GemmPath::Auto) {
    const long long prefill_ctas = static_cast<long long>((M + 127) / 128) * ((N + 127) / 128);
    path = (M <= 64 || (M <= 256 && prefill_ctas < sm_count())) ? GemmPath::Decode : GemmPath::Prefill;
  }
  if (path_used) *path_used = path;
  switch (path) {
    case GemmPath::Decode: {
      // 64 rows of A per launch; each launch streams W once.
      for (int m0 = 0; m0 < M; m0 += 64) {
        const int mc = M - m0 < 64 ? M - m0 : 64;
        cudaError_t err = decode_dispatch(A + static_cast<size_t>(m0) * lda, lda, W, ldw, C + static_cast<size_t>(m0) * ldc, ldc, mc, N,
                                          K, accumulate, stream);
        if (err != cudaSuccess) return err;
      }
      return cudaSuccess;
    }
    case GemmPath::Prefill: return prefill_launch(A, lda, W, ldw, C, ldc, M, N, K, accumulate, stream);
    default: return generic_launch(A, lda, W, ldw, C, ldc, M, N, K, accumulate, stream);
  }
}

cudaError_t launch_gemm_fill_random(bf16_t* out, size_t n, uint32_t seed, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  size_t blocks = (n + 255) / 256;
  if (blocks > 4096) blocks = 4096;
  gemm::gemm_fill_random_kernel<<<static_cast<unsigned>(blocks), 256, 0, stream>>>(out, n, seed);
  return cudaGetLastError();
}

}  // namespace kvwalk::engine
