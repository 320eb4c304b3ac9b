// Internal interface between the GEMM dispatch (cublas_shim.cc), the built-in kernels (gemm.cu) and
// the GEMM test binding (binding/gemm_tests.cc). Plain C++ (cuda_runtime.h types only).
#pragma once
#include "engine_launchers.h"

namespace kvwalk::engine {

// Which built-in kernel runs. Auto: decode kernel for M <= 64 (and for M <= 256 when the prefill grid
// would not fill the GPU, in 64-row slices), the tiled prefill kernel otherwise; both fall back to the
// generic kernel when K, lda or ldw is not a multiple of 8 or A/W is not 16-byte aligned. A forced
// Decode/Prefill path still falls back to Generic on such inputs (it cannot run them).
enum class GemmPath : int { Auto = 0, Decode = 1, Prefill = 2, Generic = 3 };

// Built-in kernels (gemm.cu). Same contract as launch_gemm. `path_used` (optional) receives the path
// that ran. Returns cudaErrorInvalidValue for M, N or K < 1, or strides smaller than the rows.
cudaError_t launch_gemm_builtin(const bf16_t* A, int lda, const bf16_t* W, int ldw, float* C, int ldc, int M, int N, int K,
                                bool accumulate, cudaStream_t stream, GemmPath path = GemmPath::Auto, GemmPath* path_used = nullptr);

const char* gemm_path_name(GemmPath path);

// Fills out[0..n) with bf16 values uniform in [-1, 1) (hash of seed and index); benchmark data.
cudaError_t launch_gemm_fill_random(bf16_t* out, size_t n, uint32_t seed, cudaStream_t stream);

}  // namespace kvwalk::engine
