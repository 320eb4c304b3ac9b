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
#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
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

// ---- the part of the cuBLASLt API the decode-GEMM tuner uses (cublasLt.h, by value) ----
using LtHandle = void*;
using LtDesc = void*;
using LtLayout = void*;
using LtPref = void*;
struct LtAlgo {
  uint64_t data[8];
};
struct LtHeuristic {  // cublasLtMatmulHeuristicResult_t
  LtAlgo algo;
  size_t workspace_size;
  cublasStatus_t state;
  float waves;
  int reserved[4];
};
static_assert(sizeof(LtHeuristic) == 96, "cublasLtMatmulHeuristicResult_t is 96 bytes");
constexpr int kLtDescTransA = 3, kLtDescTransB = 4;                         // cublasLtMatmulDescAttributes_t (int32 values)
constexpr int kLtLayoutBatchCount = 5, kLtLayoutBatchStride = 6;            // cublasLtMatrixLayoutAttribute_t (int32, int64)
constexpr int kLtPrefMaxWorkspace = 1;                                      // uint64
constexpr int kLtPrefAlignA = 5, kLtPrefAlignB = 6, kLtPrefAlignC = 7, kLtPrefAlignD = 8;  // uint32 bytes (default 256)
using LtCreateFn = cublasStatus_t (*)(LtHandle*);
using LtDescCreateFn = cublasStatus_t (*)(LtDesc*, int, cudaDataType_t);
using LtSetFn = cublasStatus_t (*)(void*, int, const void*, size_t);  // the three *SetAttribute functions
using LtDestroyFn = cublasStatus_t (*)(void*);                        // the three *Destroy functions
using LtLayoutCreateFn = cublasStatus_t (*)(LtLayout*, cudaDataType_t, uint64_t, uint64_t, int64_t);
using LtPrefCreateFn = cublasStatus_t (*)(LtPref*);
using LtHeuristicFn = cublasStatus_t (*)(LtHandle, LtDesc, LtLayout, LtLayout, LtLayout, LtLayout, LtPref, int, LtHeuristic*, int*);
using LtMatmulFn = cublasStatus_t (*)(LtHandle, LtDesc, const void*, const void*, LtLayout, const void*, LtLayout, const void*, const void*,
                                      LtLayout, void*, LtLayout, const LtAlgo*, void*, size_t, cudaStream_t);

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

struct LtLibrary {
  void* lib = nullptr;
  LtCreateFn create = nullptr;
  LtDestroyFn destroy = nullptr;
  LtDescCreateFn desc_create = nullptr;
  LtSetFn desc_set = nullptr;
  LtDestroyFn desc_destroy = nullptr;
  LtLayoutCreateFn layout_create = nullptr;
  LtSetFn layout_set = nullptr;
  LtDestroyFn layout_destroy = nullptr;
  LtPrefCreateFn pref_create = nullptr;
  LtSetFn pref_set = nullptr;
  LtDestroyFn pref_destroy = nullptr;
  LtHeuristicFn heuristic = nullptr;
  LtMatmulFn matmul = nullptr;
};

// libcublasLt (libcublas's own dependency, so normally already in the process): $KVWALK_CUBLASLT, else
// the loaded libcublas path with "libcublas." replaced by "libcublasLt.", else the usual sonames.
// nullptr when it cannot be loaded or lacks an entry point (the tuner then keeps cublasGemmEx).
const LtLibrary* load_cublas_lt(const CublasLibrary& cublas) {
  static std::mutex mu;
  static LtLibrary loaded;
  static bool done = false;
  std::lock_guard<std::mutex> lock(mu);
  if (done) return loaded.lib ? &loaded : nullptr;
  done = true;
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("KVWALK_CUBLASLT"); env && *env) candidates.push_back(env);
  if (const size_t at = cublas.path.rfind("libcublas."); at != std::string::npos) {
    candidates.push_back(cublas.path.substr(0, at) + "libcublasLt." + cublas.path.substr(at + 10));
  }
  for (const char* c : {"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"}) candidates.push_back(c);
  for (const std::string& c : candidates) {
    if ((loaded.lib = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL)) != nullptr) break;
  }
  if (!loaded.lib) return nullptr;
  auto sym = [&](const char* name) -> void* {
    dlerror();
    void* p = dlsym(loaded.lib, name);
    return dlerror() ? nullptr : p;
  };
  loaded.create = reinterpret_cast<LtCreateFn>(sym("cublasLtCreate"));
  loaded.destroy = reinterpret_cast<LtDestroyFn>(sym("cublasLtDestroy"));
  loaded.desc_create = reinterpret_cast<LtDescCreateFn>(sym("cublasLtMatmulDescCreate"));
  loaded.desc_set = reinterpret_cast<LtSetFn>(sym("cublasLtMatmulDescSetAttribute"));
  loaded.desc_destroy = reinterpret_cast<LtDestroyFn>(sym("cublasLtMatmulDescDestroy"));
  loaded.layout_create = reinterpret_cast<LtLayoutCreateFn>(sym("cublasLtMatrixLayoutCreate"));
  loaded.layout_set = reinterpret_cast<LtSetFn>(sym("cublasLtMatrixLayoutSetAttribute"));
  loaded.layout_destroy = reinterpret_cast<LtDestroyFn>(sym("cublasLtMatrixLayoutDestroy"));
  loaded.pref_create = reinterpret_cast<LtPrefCreateFn>(sym("cublasLtMatmulPreferenceCreate"));
  loaded.pref_set = reinterpret_cast<LtSetFn>(sym("cublasLtMatmulPreferenceSetAttribute"));
  loaded.pref_destroy = reinterpret_cast<LtDestroyFn>(sym("cublasLtMatmulPreferenceDestroy"));
  loaded.heuristic = reinterpret_cast<LtHeuristicFn>(sym("cublasLtMatmulAlgoGetHeuristic"));
  loaded.matmul = reinterpret_cast<LtMatmulFn>(sym("cublasLtMatmul"));
  if (!loaded.create || !loaded.destroy || !loaded.desc_create || !loaded.desc_set || !loaded.desc_destroy || !loaded.layout_create ||
      !loaded.layout_set || !loaded.layout_destroy || !loaded.pref_create || !loaded.pref_set || !loaded.pref_destroy || !loaded.heuristic ||
      !loaded.matmul) {
    loaded = LtLibrary{};  // keep the handle open: libcublas itself depends on it
  }
  return loaded.lib ? &loaded : nullptr;
}

// One decode-sized GEMM call as the dispatch sees it (splits > 1: launch_gemm_split_k's batched form,
// C = the compact parts [splits, M, N]).
struct GemmCall {
  const bf16_t* A;
  int lda;
  const bf16_t* W;
  int ldw;
  float* C;
  int ldc;
  int M, N, K;
  bool accumulate;
  int splits;
};

// Largest power of two (<= 256) dividing every value: the alignment cuBLASLt may assume.
unsigned alignment_of(std::initializer_list<uintptr_t> values) {
  uintptr_t bits = 256;
  for (uintptr_t v : values) bits |= v;
  return static_cast<unsigned>(bits & (~bits + 1));
}

// The tuner's choice for one shape, strides, accumulate flag, split count and alignment: process-wide,
// so every engine of a process runs the same kernels for the same shape (bit-identical results across
// engines; a new process may choose differently where two candidates time within noise).
struct TuneKey {
  int device, M, N, K, lda, ldw, ldc, splits;
  bool accumulate;
  unsigned align_a, align_w, align_c;
  bool operator<(const TuneKey& o) const {
    return std::tie(device, M, N, K, lda, ldw, ldc, splits, accumulate, align_a, align_w, align_c) <
           std::tie(o.device, o.M, o.N, o.K, o.lda, o.ldw, o.ldc, o.splits, o.accumulate, o.align_a, o.align_w, o.align_c);
  }
};
struct TunedGemm {
  bool lt = false;  // false: cublasGemmEx / cublasGemmStridedBatchedEx (what runs untuned)
  LtDesc desc = nullptr;
  LtLayout a = nullptr, b = nullptr, c = nullptr;
  LtAlgo algo{};
  size_t workspace = 0;
  float default_us = 0, best_us = 0;
  int candidates = 0;
};
std::mutex g_tune_mu;
std::map<TuneKey, TunedGemm>& tune_cache() {
  static std::map<TuneKey, TunedGemm> cache;
  return cache;
}

TuneKey key_of(const GemmCall& c) {
  int dev = 0;
  cudaGetDevice(&dev);
  const uintptr_t ks_bytes = c.splits > 1 ? static_cast<uintptr_t>(c.K / c.splits) * 2 : 0;
  const uintptr_t part_bytes = c.splits > 1 ? static_cast<uintptr_t>(c.M) * c.N * 4 : 0;
  return TuneKey{dev, c.M, c.N, c.K, c.lda, c.ldw, c.ldc, c.splits, c.accumulate,
                 alignment_of({reinterpret_cast<uintptr_t>(c.A), static_cast<uintptr_t>(c.lda) * 2, ks_bytes}),
                 alignment_of({reinterpret_cast<uintptr_t>(c.W), static_cast<uintptr_t>(c.ldw) * 2, ks_bytes}),
                 alignment_of({reinterpret_cast<uintptr_t>(c.C), static_cast<uintptr_t>(c.ldc) * 4, part_bytes})};
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
  // decode-GEMM tuning (gemm_context_set_tuning)
  bool tune = false;
  const LtLibrary* lt_lib = nullptr;
  LtHandle lt = nullptr;
  bool lt_tried = false;
  std::vector<GemmCall> pending;  // met during a stream capture, tuned by gemm_tune_flush
  int tuned = 0, tuned_lt = 0;    // shapes this context tuned / of which cuBLASLt won
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
  if (ctx->lt && ctx->lt_lib) ctx->lt_lib->destroy(ctx->lt);
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
    std::string tuning;
    if (ctx->tune) {
      tuning = " (decode GEMMs tuned: " + std::to_string(ctx->tuned) + " shapes, cuBLASLt faster on " + std::to_string(ctx->tuned_lt) +
               (ctx->lt_tried && !ctx->lt ? "; cuBLASLt not loaded" : "") + ")";
    }
    return "cublas " + ver + tuning;
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

// The untuned cuBLAS call: cublasGemmEx, or cublasGemmStridedBatchedEx for split-K (batch s: columns
// [s*ks, (s+1)*ks) of A and W, a pointer offset of ks elements per batch, into parts[s]).
cublasStatus_t run_default(GemmContext* ctx, const GemmCall& c, float* C) {
  const float alpha = 1.0f, beta = c.accumulate ? 1.0f : 0.0f;
  if (c.splits <= 1) {
    // Row-major C[M,N] = A[M,K] W[N,K]^T is column-major C^T[N,M] = W^T(op T of col-major [K,N]) * A^T
    // (col-major [K,M]).
    return ctx->cublas->gemm_ex(ctx->handle, kCublasOpT, kCublasOpN, c.N, c.M, c.K, &alpha, c.W, CUDA_R_16BF, c.ldw, c.A, CUDA_R_16BF, c.lda,
                                &beta, C, CUDA_R_32F, c.ldc, kCublasCompute32F, kCublasGemmDefault);
  }
  const int ks = c.K / c.splits;
  return ctx->cublas->gemm_strided_batched_ex(ctx->handle, kCublasOpT, kCublasOpN, c.N, c.M, ks, &alpha, c.W, CUDA_R_16BF, c.ldw, ks, c.A,
                                              CUDA_R_16BF, c.lda, ks, &beta, C, CUDA_R_32F, c.N, static_cast<long long>(c.M) * c.N, c.splits,
                                              kCublasCompute32F, kCublasGemmDefault);
}

cublasStatus_t run_lt(GemmContext* ctx, const TunedGemm& t, const GemmCall& c, float* C, cudaStream_t stream) {
  const float alpha = 1.0f, beta = c.accumulate ? 1.0f : 0.0f;
  return ctx->lt_lib->matmul(ctx->lt, t.desc, &alpha, c.W, t.a, c.A, t.b, &beta, C, t.c, C, t.c, &t.algo, ctx->workspace,
                             ctx->workspace ? kCublasWorkspaceBytes : 0, stream);
}

void destroy_lt_objects(const LtLibrary* lib, TunedGemm* t) {
  if (t->desc) lib->desc_destroy(t->desc);
  for (LtLayout l : {t->a, t->b, t->c}) {
    if (l) lib->layout_destroy(l);
  }
  t->desc = t->a = t->b = t->c = nullptr;
}

// Times one candidate: 2 warm-up launches, then 7 launches each after an L2 flush (a memset of twice
// the L2, so weights come from HBM as they do in a decode step), each between two events; the median.
// Returns a negative time when a launch fails.
template <typename Launch>
float time_candidate(Launch launch, void* flush, size_t flush_bytes, cudaStream_t stream, cudaEvent_t e0, cudaEvent_t e1) {
  for (int i = 0; i < 2; i++) {
    if (!launch()) return -1.0f;
  }
  std::vector<float> us;
  for (int i = 0; i < 7; i++) {
    if (flush) cudaMemsetAsync(flush, i, flush_bytes, stream);
    cudaEventRecord(e0, stream);
    if (!launch()) return -1.0f;
    cudaEventRecord(e1, stream);
    if (cudaEventSynchronize(e1) != cudaSuccess) return -1.0f;
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    us.push_back(1000.0f * ms);
  }
  std::sort(us.begin(), us.end());
  return us[us.size() / 2];
}

// Tunes one call (not capturing): cublasGemmEx (or the strided-batched split-K call) against up to 16
// cuBLASLt heuristic candidates on the call's own A and W, writing a scratch C; cuBLASLt wins only when
// at least 3% faster. Always leaves an entry (lt = false on any failure) so a shape is tuned once.
cudaError_t tune_now(GemmContext* ctx, const GemmCall& c, const TuneKey& key, cudaStream_t stream) {
  TunedGemm t;
  if (!ctx->lt_tried) {
    ctx->lt_tried = true;
    ctx->lt_lib = load_cublas_lt(*ctx->cublas);
    if (ctx->lt_lib && ctx->lt_lib->create(&ctx->lt) != 0) ctx->lt = nullptr;
  }
  const size_t c_elems = c.splits > 1 ? static_cast<size_t>(c.splits) * c.M * c.N : static_cast<size_t>(c.M) * c.ldc;
  float* scratch = nullptr;
  void* flush = nullptr;
  size_t flush_bytes = 0;
  cudaEvent_t e0 = nullptr, e1 = nullptr;
  std::vector<LtHeuristic> found(16);
  int nfound = 0;
  LtPref pref = nullptr;
  int l2 = 0, dev = 0;
  cudaGetDevice(&dev);
  if (cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev) == cudaSuccess && l2 > 0) flush_bytes = 2 * static_cast<size_t>(l2);
  cudaError_t err = cudaMalloc(&scratch, c_elems * 4);
  if (err == cudaSuccess && flush_bytes && cudaMalloc(&flush, flush_bytes) != cudaSuccess) {
    cudaGetLastError();
    flush = nullptr;  // time without the flush rather than not at all
  }
  if (err == cudaSuccess) err = cudaMemsetAsync(scratch, 0, c_elems * 4, stream);
  if (err == cudaSuccess) err = cudaEventCreate(&e0);
  if (err == cudaSuccess) err = cudaEventCreate(&e1);
  if (err == cudaSuccess) {
    t.default_us = time_candidate([&] { return run_default(ctx, c, scratch) == 0; }, flush, flush_bytes, stream, e0, e1);
    t.best_us = t.default_us;
  }
  const LtLibrary* lib = ctx->lt_lib;
  if (err == cudaSuccess && t.default_us > 0 && ctx->lt) {
    // op(A) = W^T: W is column-major [ks, N] (ld ldw) transposed; B = A, column-major [ks, M] (ld lda);
    // C = column-major [N, M] (ld ldc, or N for the compact split-K parts).
    const int ks = c.K / std::max(1, c.splits);
    const int32_t op_t = kCublasOpT, op_n = kCublasOpN;
    TunedGemm cand;
    bool ok = lib->desc_create(&cand.desc, kCublasCompute32F, CUDA_R_32F) == 0 &&
              lib->desc_set(cand.desc, kLtDescTransA, &op_t, sizeof(op_t)) == 0 && lib->desc_set(cand.desc, kLtDescTransB, &op_n, sizeof(op_n)) == 0 &&
              lib->layout_create(&cand.a, CUDA_R_16BF, ks, c.N, c.ldw) == 0 && lib->layout_create(&cand.b, CUDA_R_16BF, ks, c.M, c.lda) == 0 &&
              lib->layout_create(&cand.c, CUDA_R_32F, c.N, c.M, c.splits > 1 ? c.N : c.ldc) == 0;
    if (ok && c.splits > 1) {
      const int32_t count = c.splits;
      const int64_t sa = ks, sc = static_cast<int64_t>(c.M) * c.N;
      for (LtLayout l : {cand.a, cand.b, cand.c}) ok = ok && lib->layout_set(l, kLtLayoutBatchCount, &count, sizeof(count)) == 0;
      ok = ok && lib->layout_set(cand.a, kLtLayoutBatchStride, &sa, sizeof(sa)) == 0 && lib->layout_set(cand.b, kLtLayoutBatchStride, &sa, sizeof(sa)) == 0 &&
           lib->layout_set(cand.c, kLtLayoutBatchStride, &sc, sizeof(sc)) == 0;
    }
    const uint64_t ws = ctx->workspace ? kCublasWorkspaceBytes : 0;
    const uint32_t al_w = key.align_w, al_a = key.align_a, al_c = key.align_c;
    ok = ok && lib->pref_create(&pref) == 0 && lib->pref_set(pref, kLtPrefMaxWorkspace, &ws, sizeof(ws)) == 0 &&
         lib->pref_set(pref, kLtPrefAlignA, &al_w, sizeof(al_w)) == 0 && lib->pref_set(pref, kLtPrefAlignB, &al_a, sizeof(al_a)) == 0 &&
         lib->pref_set(pref, kLtPrefAlignC, &al_c, sizeof(al_c)) == 0 && lib->pref_set(pref, kLtPrefAlignD, &al_c, sizeof(al_c)) == 0;
    ok = ok && lib->heuristic(ctx->lt, cand.desc, cand.a, cand.b, cand.c, cand.c, pref, static_cast<int>(found.size()), found.data(), &nfound) == 0;
    if (ok) {
      int best = -1;
      float best_us = 0;
      for (int i = 0; i < nfound; i++) {
        if (found[i].state != 0 || found[i].workspace_size > ws) continue;
        cand.algo = found[i].algo;
        const float us = time_candidate([&] { return run_lt(ctx, cand, c, scratch, stream) == 0; }, flush, flush_bytes, stream, e0, e1);
        t.candidates++;
        if (us > 0 && (best < 0 || us < best_us)) {
          best = i;
          best_us = us;
        }
      }
      if (best >= 0 && best_us < 0.97f * t.default_us) {
        t.lt = true;
        t.best_us = best_us;
        t.algo = found[best].algo;
        t.workspace = found[best].workspace_size;
        t.desc = cand.desc;
        t.a = cand.a;
        t.b = cand.b;
        t.c = cand.c;
        cand.desc = cand.a = cand.b = cand.c = nullptr;
      }
    }
    destroy_lt_objects(lib, &cand);
  }
  if (pref) lib->pref_destroy(pref);
  if (e0) cudaEventDestroy(e0);
  if (e1) cudaEventDestroy(e1);
  // clear what a failed candidate launch may have left (no stream capture is active here)
  cudaStreamSynchronize(stream);
  cudaGetLastError();
  if (flush) cudaFree(flush);
  if (scratch) cudaFree(scratch);
  ctx->tuned++;
  if (t.lt) ctx->tuned_lt++;
  std::lock_guard<std::mutex> lock(g_tune_mu);
  auto [it, inserted] = tune_cache().emplace(key, t);
  if (!inserted && t.lt) destroy_lt_objects(lib, &t);  // another context tuned it meanwhile: keep the first
  return err;
}

// The tuned choice for a decode-sized call (M <= kSplitKMaxRows) on a tuning context, tuning it first
// when the stream is not capturing; nullptr: run the untuned call (and, while capturing, remember the
// shape for gemm_tune_flush).
const TunedGemm* tuned_for(GemmContext* ctx, const GemmCall& c, cudaStream_t stream) {
  if (!ctx->tune || c.M > kSplitKMaxRows) return nullptr;
  const TuneKey key = key_of(c);
  {
    std::lock_guard<std::mutex> lock(g_tune_mu);
    auto it = tune_cache().find(key);
    if (it != tune_cache().end()) return &it->second;
  }
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(stream, &status) != cudaSuccess || status != cudaStreamCaptureStatusNone) {
    cudaGetLastError();
    ctx->pending.push_back(c);
    return nullptr;
  }
  if (tune_now(ctx, c, key, stream) != cudaSuccess) cudaGetLastError();
  std::lock_guard<std::mutex> lock(g_tune_mu);
  auto it = tune_cache().find(key);
  return it != tune_cache().end() ? &it->second : nullptr;
}

cudaError_t dispatch_cublas(GemmContext* ctx, const GemmCall& c, float* C, cudaStream_t stream) {
  if (!bind_stream(ctx, stream)) return cudaErrorUnknown;
  const TunedGemm* t = tuned_for(ctx, c, stream);
  const cublasStatus_t s = t && t->lt ? run_lt(ctx, *t, c, C, stream) : run_default(ctx, c, C);
  return s != 0 ? cublas_error(s) : cudaSuccess;
}

}  // namespace

void gemm_context_set_tuning(GemmContext* ctx, bool on) {
  if (ctx) ctx->tune = on && ctx->backend == GemmBackend::Cublas;
}

bool gemm_tuning_default() {
  const char* env = std::getenv("KVWALK_GEMM_TUNE");
  return env && *env ? std::string(env) != "0" : true;
}

bool gemm_tune_pending(const GemmContext* ctx) { return ctx && !ctx->pending.empty(); }

cudaError_t gemm_tune_flush(GemmContext* ctx, cudaStream_t stream) {
  if (!ctx) return cudaErrorInvalidValue;
  std::vector<GemmCall> calls;
  calls.swap(ctx->pending);
  for (const GemmCall& c : calls) {
    if (!bind_stream(ctx, stream)) return cudaErrorUnknown;
    (void)tuned_for(ctx, c, stream);
  }
  return cudaGetLastError();
}

cudaError_t launch_gemm(GemmContext* ctx, const bf16_t* A, int lda, const bf16_t* W, int ldw, float* C, int ldc, int M, int N, int K,
                        bool accumulate, cudaStream_t stream) {
  if (!ctx) return cudaErrorInvalidValue;
  if (ctx->backend != GemmBackend::Cublas) return launch_gemm_builtin(A, lda, W, ldw, C, ldc, M, N, K, accumulate, stream);
  if (M < 1 || N < 1 || K < 1 || lda < K || ldw < K || ldc < N || !A || !W || !C) return cudaErrorInvalidValue;
  return dispatch_cublas(ctx, GemmCall{A, lda, W, ldw, C, ldc, M, N, K, accumulate, 1}, C, stream);
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
  return dispatch_cublas(ctx, GemmCall{A, lda, W, ldw, parts, N, M, N, K, false, splits}, parts, stream);
}

bool gemm_split_k_valid(int K, int splits) { return splits >= 1 && K % splits == 0 && (K / splits) % 8 == 0; }

#endif  // KVWALK_WITH_CUDA

}  // namespace kvwalk::engine
