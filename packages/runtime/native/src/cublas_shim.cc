// GEMM contexts and dispatch (engine_launchers.h, "GEMM"): the built-in kernels (gemm.cu) or cuBLAS
// loaded at run time. cuBLAS is optional and never linked: libcublas is opened with dlopen
// ($KVWALK_CUBLAS, else the usual sonames) and the handful of entry points used here are resolved with
// dlsym against prototypes declared below from the public cuBLAS API documentation.
// Compiled only with CUDA: the declarations come from engine_launchers.h (cuda_runtime.h), and no
// code of a build without CUDA calls into the GEMM dispatch.
#ifdef KVWALK_WITH_CUDA
#include "cublas_shim.h"

#include <dlfcn.h>
#include <library_types.h>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>
#endif

namespace kvwalk::engine {

#ifdef KVWALK_WITH_CUDA
namespace {

// ---- the part of the cuBLAS API this file uses (cublas_api.h, by value) ----
using cublasHandle_t = void*;
using cublasStatus_t = int;            // CUBLAS_STATUS_SUCCESS = 0
constexpr int kCublasOpN = 0;          // CUBLAS_OP_N
constexpr int kCublasOpT = 1;          // CUBLAS_OP_T
constexpr int kCublasCompute32F = 68;  // CUBLAS_COMPUTE_32F
constexpr int kCublasGemmDefault = -1; // CUBLAS_GEMM_DEFAULT
using CreateFn = cublasStatus_t (*)(cublasHandle_t*);
using DestroyFn = cublasStatus_t (*)(cublasHandle_t);
using SetStreamFn = cublasStatus_t (*)(cublasHandle_t, cudaStream_t);
using GetVersionFn = cublasStatus_t (*)(cublasHandle_t, int*);
using SetWorkspaceFn = cublasStatus_t (*)(cublasHandle_t, void*, size_t);
// cublasGemmEx(handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb, beta, C, Ctype, ldc,
//              computeType, algo); the enums are C enums (int-sized).
using GemmExFn = cublasStatus_t (*)(cublasHandle_t, int, int, int, int, int, const void*, const void*, cudaDataType_t, int, const void*,
                                    cudaDataType_t, int, const void*, void*, cudaDataType_t, int, int, int);
// cublasGemmStridedBatchedEx: as cublasGemmEx plus a 64-bit element stride after each matrix and the
// batch count before computeType.
using GemmStridedBatchedExFn = cublasStatus_t (*)(cublasHandle_t, int, int, int, int, int, const void*, const void*, cudaDataType_t, int,
                                                  long long, const void*, cudaDataType_t, int, long long, const void*, void*, cudaDataType_t, int,
                                                  long long, int, int, int);

constexpr size_t kCublasWorkspaceBytes = 32u << 20;

const char* cublas_status_name(cublasStatus_t s) {
  switch (s) {
    case 0: return "CUBLAS_STATUS_SUCCESS";
    case 1: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case 3: return "CUBLAS_STATUS_ALLOC_FAILED";
    case 7: return "CUBLAS_STATUS_INVALID_VALUE";
    case 8: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case 11: return "CUBLAS_STATUS_MAPPING_ERROR";
    case 13: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case 14: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case 15: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case 16: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return "CUBLAS_STATUS_UNKNOWN";
  }
}

// The loaded library, shared by all contexts (dlopen once per process; never closed, as cuBLAS keeps
// per-process state).
struct CublasLibrary {
  void* lib = nullptr;
  std::string path;
  CreateFn create = nullptr;
  DestroyFn destroy = nullptr;
  SetStreamFn set_stream = nullptr;
  GetVersionFn get_version = nullptr;
  SetWorkspaceFn set_workspace = nullptr;
  GemmExFn gemm_ex = nullptr;
  GemmStridedBatchedExFn gemm_strided_batched_ex = nullptr;  // optional: split-K falls back to one cublasGemmEx per slice
};

// Loads libcublas or returns nullptr with the reason in *why (every attempt and its dlerror).
const CublasLibrary* load_cublas(std::string* why) {
  static std::mutex mu;
  static CublasLibrary loaded;
  static bool done = false;
  static std::string failure;
  std::lock_guard<std::mutex> lock(mu);
  if (!done) {
    done = true;
    std::vector<std::string> candidates;
    const char* env = std::getenv("KVWALK_CUBLAS");
    if (env && *env) {
      candidates.push_back(env);
    } else {
      candidates = {"libcublas.so.13", "libcublas.so.12", "libcublas.so"};
    }
    std::string attempts;
    for (const std::string& c : candidates) {
      dlerror();
      void* h = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (h) {
        loaded.lib = h;
        loaded.path = c;
        break;
      }
      const char* e = dlerror();
      if (!attempts.empty()) attempts += "; ";
      attempts += std::string("dlopen(\"") + c + "\") failed: " + (e ? e : "unknown error");
    }
    if (!loaded.lib) {
      failure = attempts + (env && *env ? "" : " (set KVWALK_CUBLAS to the path of libcublas.so to use it)");
    } else {
      auto sym = [&](const char* name) -> void* {
        dlerror();
        void* p = dlsym(loaded.lib, name);
        return dlerror() ? nullptr : p;
      };
      loaded.create = reinterpret_cast<CreateFn>(sym("cublasCreate_v2"));
      loaded.destroy = reinterpret_cast<DestroyFn>(sym("cublasDestroy_v2"));
      loaded.set_stream = reinterpret_cast<SetStreamFn>(sym("cublasSetStream_v2"));
      loaded.get_version = reinterpret_cast<GetVersionFn>(sym("cublasGetVersion_v2"));
      loaded.set_workspace = reinterpret_cast<SetWorkspaceFn>(sym("cublasSetWorkspace_v2"));
      loaded.gemm_ex = reinterpret_cast<GemmExFn>(sym("cublasGemmEx"));
      loaded.gemm_strided_batched_ex = reinterpret_cast<GemmStridedBatchedExFn>(sym("cublasGemmStridedBatchedEx"));
      std::string missing;
      if (!loaded.create) missing += " cublasCreate_v2";
      if (!loaded.destroy) missing += " cublasDestroy_v2";
      if (!loaded.set_stream) missing += " cublasSetStream_v2";
      if (!loaded.get_version) missing += " cublasGetVersion_v2";
      if (!loaded.gemm_ex) missing += " cublasGemmEx";
      if (!missing.empty()) {
        failure = loaded.path + " lacks" + missing;
        dlclose(loaded.lib);
        loaded = CublasLibrary{};
      }
    }
  }
  if (!loaded.lib) {
    if (why) *why = failure;
    return nullptr;
  }
  return &loaded;
}

}  // namespace

struct GemmContext {
  GemmBackend backend = GemmBackend::Builtin;
  std::string fallback_reason;  // Auto that fell back to the built-in kernels: why
  const CublasLibrary* cublas = nullptr;
  cublasHandle_t handle = nullptr;
  void* workspace = nullptr;
  int version = 0;
  cudaStream_t bound_stream = nullptr;
  bool stream_bound = false;
};

GemmContext* gemm_context_create(GemmBackend backend, std::string* error) {
  auto* ctx = new GemmContext();
  if (backend == GemmBackend::Builtin) return ctx;
  std::string why;
  const CublasLibrary* lib = load_cublas(&why);
  if (lib) {
    cublasHandle_t h = nullptr;
    const cublasStatus_t s = lib->create(&h);
    if (s != 0) {
      why = "cublasCreate_v2 returned " + std::string(cublas_status_name(s)) + " (" + std::to_string(s) + ") from " + lib->path;
      lib = nullptr;
    } else {
      ctx->cublas = lib;
      ctx->handle = h;
      lib->get_version(h, &ctx->version);
      // A fixed workspace keeps cuBLAS from allocating during launches (CUDA graph capture safe).
      if (lib->set_workspace && cudaMalloc(&ctx->workspace, kCublasWorkspaceBytes) == cudaSuccess) {
        if (lib->set_workspace(h, ctx->workspace, kCublasWorkspaceBytes) != 0) {
          cudaFree(ctx->workspace);
          ctx->workspace = nullptr;
        }
      } else {
        cudaGetLastError();
        ctx->workspace = nullptr;
      }
      ctx->backend = GemmBackend::Cublas;
      return ctx;
    }
  }
  if (backend == GemmBackend::Cublas) {
    delete ctx;
    if (error) *error = "cuBLAS backend unavailable: " + why;
    return nullptr;
  }
  ctx->backend = GemmBackend::Builtin;
  ctx->fallback_reason = why;
  return ctx;
}

void gemm_context_destroy(GemmContext* ctx) {
  if (!ctx) return;
  if (ctx->handle && ctx->cublas) ctx->cublas->destroy(ctx->handle);
  if (ctx->workspace) cudaFree(ctx->workspace);
  delete ctx;
}

std::string gemm_backend_name(const GemmContext* ctx) {
  if (!ctx) return "none";
  if (ctx->backend == GemmBackend::Cublas) {
    const int v = ctx->version;
    // cuBLAS encodes major*10000 + minor*100 + patch from 12.0 on (120304), major*1000 + minor*100 + patch before (11401).
    const int major = v >= 100000 ? v / 10000 : v / 1000;
    const int minor = v >= 100000 ? (v / 100) % 100 : (v / 100) % 10;
    const std::string ver = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(v % 100);
    return "cublas " + ver;
  }
  if (!ctx->fallback_reason.empty()) return "builtin (cuBLAS not loaded: " + ctx->fallback_reason + ")";
  return "builtin";
}

GemmBackend gemm_context_backend(const GemmContext* ctx) { return ctx ? ctx->backend : GemmBackend::Builtin; }

namespace {

// Binds the handle to `stream` (and our workspace) when it is not already.
bool bind_stream(GemmContext* ctx, cudaStream_t stream) {
  if (ctx->stream_bound && ctx->bound_stream == stream) return true;
  if (ctx->cublas->set_stream(ctx->handle, stream) != 0) return false;
  // cublasSetStream resets the workspace to cuBLAS's own pool: set ours again.
  if (ctx->workspace && ctx->cublas->set_workspace(ctx->handle, ctx->workspace, kCublasWorkspaceBytes) != 0) return false;
  ctx->bound_stream = stream;
  ctx->stream_bound = true;
  return true;
}

// The CUDA error behind a failed cuBLAS call when there is one; else a generic failure.
cudaError_t cublas_error(cublasStatus_t s) {
  const cudaError_t e = cudaGetLastError();
  return e != cudaSuccess ? e : (s == 7 ? cudaErrorInvalidValue : s == 15 ? cudaErrorNotSupported : cudaErrorUnknown);
}

}  // namespace

cudaError_t launch_gemm(GemmContext* ctx, const bf16_t* A, int lda, const bf16_t* W, int ldw, float* C, int ldc, int M, int N, int K,
                        bool accumulate, cudaStream_t stream) {
  if (!ctx) return cudaErrorInvalidValue;
  if (ctx->backend != GemmBackend::Cublas) return launch_gemm_builtin(A, lda, W, ldw, C, ldc, M, N, K, accumulate, stream);
  if (M < 1 || N < 1 || K < 1 || lda < K || ldw < K || ldc < N || !A || !W || !C) return cudaErrorInvalidValue;
  if (!bind_stream(ctx, stream)) return cudaErrorUnknown;
  // Row-major C[M,N] = A[M,K] W[N,K]^T is column-major C^T[N,M] = W^T(op T of col-major [K,N]) * A^T
  // (col-major [K,M]).
  const float alpha = 1.0f;
  const float beta = accumulate ? 1.0f : 0.0f;
  const cublasStatus_t s = ctx->cublas->gemm_ex(ctx->handle, kCublasOpT, kCublasOpN, N, M, K, &alpha, W, CUDA_R_16BF, ldw, A, CUDA_R_16BF, lda,
                                                &beta, C, CUDA_R_32F, ldc, kCublasCompute32F, kCublasGemmDefault);
  return s != 0 ? cublas_error(s) : cudaSuccess;
}

cudaError_t launch_gemm_split_k(GemmContext* ctx, const bf16_t* A, int lda, const bf16_t* W, int ldw, float* parts, int M, int N, int K,
                                int splits, cudaStream_t stream) {
  if (!ctx || M < 1 || N < 1 || K < 1 || lda < K || ldw < K || !A || !W || !parts || !gemm_split_k_valid(K, splits)) return cudaErrorInvalidValue;
  const int ks = K / splits;
  const size_t part = static_cast<size_t>(M) * N;
  if (ctx->backend != GemmBackend::Cublas || !ctx->cublas->gemm_strided_batched_ex) {
    for (int s = 0; s < splits; s++) {
      const cudaError_t e = launch_gemm(ctx, A + static_cast<size_t>(s) * ks, lda, W + static_cast<size_t>(s) * ks, ldw, parts + s * part, N, M, N,
                                        ks, false, stream);
      if (e != cudaSuccess) return e;
    }
    return cudaSuccess;
  }
  if (!bind_stream(ctx, stream)) return cudaErrorUnknown;
  // Batch s: columns [s*ks, (s+1)*ks) of A and W (a pointer offset of ks elements per batch, strides
  // unchanged) into parts[s] (column-major C^T [N, M], ldc N).
  const float alpha = 1.0f, beta = 0.0f;
  const cublasStatus_t st = ctx->cublas->gemm_strided_batched_ex(ctx->handle, kCublasOpT, kCublasOpN, N, M, ks, &alpha, W, CUDA_R_16BF, ldw, ks, A,
                                                                 CUDA_R_16BF, lda, ks, &beta, parts, CUDA_R_32F, N,
                                                                 static_cast<long long>(part), splits, kCublasCompute32F, kCublasGemmDefault);
  return st != 0 ? cublas_error(st) : cudaSuccess;
}

bool gemm_split_k_valid(int K, int splits) { return splits >= 1 && K % splits == 0 && (K / splits) % 8 == 0; }

#endif  // KVWALK_WITH_CUDA

}  // namespace kvwalk::engine
