// Kernel-test bindings of the engine GEMM (launch_gemm / launch_gemm_builtin): correctness runs on
// host arrays, CUDA-event benchmarks on device-resident random data, and the device-to-device copy
// bandwidth that bounds the decode GEMM. Arguments are validated (TypeError/RangeError naming the
// parameter, code KVWALK_INVALID_ARGUMENT); CUDA failures throw JS errors (code KVWALK_CUDA) and device
// memory is freed on every path.
#include <napi.h>
#include <kvwalk/args.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "test_registry.h"

#ifdef KVWALK_WITH_CUDA
#include "cublas_shim.h"
#endif

namespace {

[[noreturn]] void throw_arg(Napi::Env env, const std::string& name, const std::string& expected, const Napi::Value& got, bool range = false) {
  kvwalk::throw_invalid_argument(env, name, expected, got, range);
}

int int_arg(const Napi::CallbackInfo& info, size_t i, const char* name, long long lo, long long hi) {
  Napi::Value v = i < info.Length() ? info[i] : info.Env().Undefined();
  const std::string expected = "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  if (!v.IsNumber()) throw_arg(info.Env(), name, expected, v);
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d == std::floor(d)) || d < static_cast<double>(lo) || d > static_cast<double>(hi)) throw_arg(info.Env(), name, expected, v, true);
  return static_cast<int>(d);
}

// Optional integer field of an options object (absent/undefined -> fallback).
long long opt_int(Napi::Env env, const Napi::Object* o, const char* name, long long fallback, long long lo, long long hi) {
  if (!o) return fallback;
  Napi::Value v = o->Get(name);
  if (v.IsUndefined()) return fallback;
  const std::string expected = "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  if (!v.IsNumber()) throw_arg(env, std::string("options.") + name, expected, v);
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d == std::floor(d)) || d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
    throw_arg(env, std::string("options.") + name, expected, v, true);
  }
  return static_cast<long long>(d);
}

const Napi::Object* opt_object(const Napi::CallbackInfo& info, size_t i, const char* name, Napi::Object& holder) {
  if (i >= info.Length() || info[i].IsUndefined() || info[i].IsNull()) return nullptr;
  if (!info[i].IsObject()) throw_arg(info.Env(), name, "an object, null or undefined", info[i]);
  holder = info[i].As<Napi::Object>();
  return &holder;
}

std::string string_arg(const Napi::CallbackInfo& info, size_t i, const char* name, const std::vector<std::string>& allowed) {
  Napi::Value v = i < info.Length() ? info[i] : info.Env().Undefined();
  std::string expected = "one of";
  for (size_t k = 0; k < allowed.size(); k++) expected += (k ? ", \"" : " \"") + allowed[k] + "\"";
  if (!v.IsString()) throw_arg(info.Env(), name, expected, v);
  const std::string s = v.As<Napi::String>().Utf8Value();
  if (std::find(allowed.begin(), allowed.end(), s) == allowed.end()) throw_arg(info.Env(), name, expected, v, true);
  return s;
}

const std::vector<std::string> kBackends = {"builtin", "cublas", "auto"};
const std::vector<std::string> kPaths = {"auto", "decode", "prefill", "generic"};

#ifdef KVWALK_WITH_CUDA
// options.splitK (default 1): K slices for launch_gemm_split_k; more than 1 must split K into
// 16-byte aligned slices (gemm_split_k_valid).
int split_k_option(Napi::Env env, const Napi::Object* opts, int K) {
  const int split_k = static_cast<int>(opt_int(env, opts, "splitK", 1, 1, kvwalk::engine::kSplitKMax));
  if (split_k > 1 && !kvwalk::engine::gemm_split_k_valid(K, split_k)) {
    throw_arg(env, "options.splitK", "a slice count dividing K into multiples of 8 (K = " + std::to_string(K) + ")", opts->Get("splitK"), true);
  }
  return split_k;
}

using kvwalk::engine::GemmBackend;
using kvwalk::engine::GemmContext;
using kvwalk::engine::GemmPath;

[[noreturn]] void throw_cuda(Napi::Env env, cudaError_t err, const std::string& op) {
  const std::string cuda_msg = std::string(cudaGetErrorName(err)) + " (" + cudaGetErrorString(err) + ")";
  Napi::Error e = Napi::Error::New(env, "CUDA error in " + op + ": " + cuda_msg);
  e.Set("code", Napi::String::New(env, "KVWALK_CUDA"));
  e.Set("operation", Napi::String::New(env, op));
  e.Set("cudaMessage", Napi::String::New(env, cuda_msg));
  cudaGetLastError();
  throw e;
}

void check(Napi::Env env, cudaError_t err, const std::string& op) {
  if (err != cudaSuccess) throw_cuda(env, err, op);
}

class DeviceBuffer {
 public:
  DeviceBuffer(Napi::Env env, size_t bytes, const std::string& what) {
    if (bytes > 0) check(env, cudaMalloc(&ptr_, bytes), "cudaMalloc(" + what + ", " + std::to_string(bytes) + " bytes)");
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_) { o.ptr_ = nullptr; }
  ~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);
  }
  template <typename T>
  T* get() const { return static_cast<T*>(ptr_); }

 private:
  void* ptr_ = nullptr;
};

class Event {
 public:
  explicit Event(Napi::Env env) { check(env, cudaEventCreate(&e_), "cudaEventCreate"); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event() {
    if (e_) cudaEventDestroy(e_);
  }
  cudaEvent_t get() const { return e_; }

 private:
  cudaEvent_t e_ = nullptr;
};

cudaStream_t gemm_stream(Napi::Env env) {
  static cudaStream_t s = nullptr;
  if (!s) check(env, cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
  return s;
}

// One context per requested backend, created on first use and kept for the process (dlopen and
// cublasCreate are slow). A failed "cublas" creation is retried on the next call and throws.
GemmContext* context_for(Napi::Env env, const std::string& backend) {
  static std::map<std::string, GemmContext*> contexts;
  auto it = contexts.find(backend);
  if (it != contexts.end()) return it->second;
  const GemmBackend b = backend == "builtin" ? GemmBackend::Builtin : backend == "cublas" ? GemmBackend::Cublas : GemmBackend::Auto;
  std::string error;
  GemmContext* ctx = kvwalk::engine::gemm_context_create(b, &error);
  if (!ctx) {
    Napi::Error e = Napi::Error::New(env, "gemm_context_create(" + backend + ") failed: " + error);
    e.Set("code", Napi::String::New(env, "KVWALK_BACKEND_UNAVAILABLE"));
    throw e;
  }
  contexts[backend] = ctx;
  return ctx;
}

GemmPath path_from(const std::string& p) {
  return p == "decode" ? GemmPath::Decode : p == "prefill" ? GemmPath::Prefill : p == "generic" ? GemmPath::Generic : GemmPath::Auto;
}

// Runs one GEMM through `backend` ("builtin" honours a forced path). Returns the path name that ran.
// split_k > 1: launch_gemm_split_k into `parts` (f32 [split_k, M, N]) and the engine's epilogue
// (launch_residual_rmsnorm without a norm) adds the slices to C (zeroed first unless accumulating);
// compact strides only.
std::string run_gemm(Napi::Env env, const std::string& backend, GemmPath path, const uint16_t* A, int lda, const uint16_t* W, int ldw, float* C,
                     int ldc, int M, int N, int K, bool accumulate, cudaStream_t s, int split_k = 1, float* parts = nullptr) {
  GemmContext* ctx = context_for(env, backend);
  if (split_k > 1) {
    const std::string what = " M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K) + " splitK=" + std::to_string(split_k);
    check(env, kvwalk::engine::launch_gemm_split_k(ctx, A, lda, W, ldw, parts, M, N, K, split_k, s), "launch_gemm_split_k" + what);
    if (!accumulate) check(env, cudaMemsetAsync(C, 0, static_cast<size_t>(M) * N * 4, s), "cudaMemset C");
    check(env, kvwalk::engine::launch_residual_rmsnorm(C, parts, split_k, C, nullptr, M, N, 0.f, nullptr, s), "launch_residual_rmsnorm" + what);
    return "split-k " + std::to_string(split_k) + " (" + (kvwalk::engine::gemm_context_backend(ctx) == GemmBackend::Builtin ? "builtin" : "cublas") + ")";
  }
  const bool builtin = kvwalk::engine::gemm_context_backend(ctx) == GemmBackend::Builtin;
  if (builtin) {
    GemmPath used = GemmPath::Auto;
    check(env, kvwalk::engine::launch_gemm_builtin(A, lda, W, ldw, C, ldc, M, N, K, accumulate, s, path, &used),
          "launch_gemm_builtin M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K));
    return kvwalk::engine::gemm_path_name(used);
  }
  check(env, kvwalk::engine::launch_gemm(ctx, A, lda, W, ldw, C, ldc, M, N, K, accumulate, s),
        "launch_gemm(" + kvwalk::engine::gemm_backend_name(ctx) + ") M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" +
            std::to_string(K));
  return "cublas";
}
#endif

template <typename T>
T* typed_array_arg(const Napi::CallbackInfo& info, size_t i, const char* name, napi_typedarray_type type, const char* type_name, size_t len) {
  Napi::Value v = i < info.Length() ? info[i] : info.Env().Undefined();
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type || v.As<Napi::TypedArray>().ElementLength() != len) {
    throw_arg(info.Env(), name, std::string(type_name) + " of length " + std::to_string(len), v);
  }
  return v.As<Napi::TypedArrayOf<T>>().Data();
}

// gemmTest(M, N, K, A: Uint16Array [M*lda] bf16, W: Uint16Array [N*ldw] bf16, C0: Float32Array [M*ldc] | null,
//          backend, options?: { path?, lda?, ldw?, ldc? }) -> Float32Array [M*ldc]
// C0 given: C = C0 + A.W^T (accumulate). C0 null: the device C starts as NaN everywhere, so an output
// that read C, or a write outside [m, 0..N), shows as NaN/garbage; padding columns come back NaN.
Napi::Value GemmTest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int M = int_arg(info, 0, "M", 1, 1 << 20);
  const int N = int_arg(info, 1, "N", 1, 1 << 20);
  const int K = int_arg(info, 2, "K", 1, 1 << 20);
  Napi::Object holder;
  const Napi::Object* opts = opt_object(info, 7, "options", holder);
  const int lda = static_cast<int>(opt_int(env, opts, "lda", K, K, 1 << 24));
  const int ldw = static_cast<int>(opt_int(env, opts, "ldw", K, K, 1 << 24));
  const int ldc = static_cast<int>(opt_int(env, opts, "ldc", N, N, 1 << 24));
  std::string path_s = "auto";
  if (opts && !opts->Get("path").IsUndefined()) {
    Napi::Value p = opts->Get("path");
    if (!p.IsString() || std::find(kPaths.begin(), kPaths.end(), p.As<Napi::String>().Utf8Value()) == kPaths.end()) {
      throw_arg(env, "options.path", "one of \"auto\", \"decode\", \"prefill\", \"generic\"", p);
    }
    path_s = p.As<Napi::String>().Utf8Value();
  }
  const size_t a_len = static_cast<size_t>(M) * lda, w_len = static_cast<size_t>(N) * ldw, c_len = static_cast<size_t>(M) * ldc;
  const uint16_t* A = typed_array_arg<uint16_t>(info, 3, "A", napi_uint16_array, "Uint16Array", a_len);
  const uint16_t* W = typed_array_arg<uint16_t>(info, 4, "W", napi_uint16_array, "Uint16Array", w_len);
  const float* C0 = nullptr;
  if (info.Length() > 5 && !info[5].IsNull() && !info[5].IsUndefined()) {
    C0 = typed_array_arg<float>(info, 5, "C0", napi_float32_array, "Float32Array", c_len);
  }
  const std::string backend = string_arg(info, 6, "backend", kBackends);
#ifdef KVWALK_WITH_CUDA
  const int split_k = split_k_option(env, opts, K);
  if (split_k > 1 && (lda != K || ldw != K || ldc != N)) throw_arg(env, "options.splitK", "compact strides (lda = ldw = K, ldc = N)", opts->Get("splitK"), true);
  cudaStream_t s = gemm_stream(env);
  DeviceBuffer dA(env, a_len * 2, "A"), dW(env, w_len * 2, "W"), dC(env, c_len * 4, "C");
  check(env, cudaMemcpyAsync(dA.get<void>(), A, a_len * 2, cudaMemcpyHostToDevice, s), "cudaMemcpy H2D A");
  check(env, cudaMemcpyAsync(dW.get<void>(), W, w_len * 2, cudaMemcpyHostToDevice, s), "cudaMemcpy H2D W");
  if (C0) {
    check(env, cudaMemcpyAsync(dC.get<void>(), C0, c_len * 4, cudaMemcpyHostToDevice, s), "cudaMemcpy H2D C0");
  } else {
    check(env, cudaMemsetAsync(dC.get<void>(), 0xFF, c_len * 4, s), "cudaMemset C (NaN sentinel)");
  }
  DeviceBuffer dP(env, split_k > 1 ? c_len * 4 * split_k : 4, "split-K parts");
  const std::string used = run_gemm(env, backend, path_from(path_s), dA.get<uint16_t>(), lda, dW.get<uint16_t>(), ldw, dC.get<float>(), ldc, M,
                                    N, K, C0 != nullptr, s, split_k, dP.get<float>());
  Napi::Float32Array out = Napi::Float32Array::New(env, c_len);
  check(env, cudaMemcpyAsync(out.Data(), dC.get<void>(), c_len * 4, cudaMemcpyDeviceToHost, s), "cudaMemcpy D2H C");
  check(env, cudaStreamSynchronize(s), "gemm (" + used + " path) M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K));
  out.Set("path", Napi::String::New(env, used));
  return out;
#else
  (void)A;
  (void)W;
  (void)C0;
  throw Napi::Error::New(env, "gemmTest: not compiled with CUDA");
#endif
}

// gemmBench(M, N, K, backend, iters, options?: { path?, accumulate? }) -> { medianUs, minUs, backend,
// path, launchesPerSample, wCopies, samples }. Random bf16 data made on the device; W is replicated
// (rotating copies, >= 256 MiB in all) so repeated launches do not run from L2. Each sample times
// launchesPerSample back-to-back launches (>= ~200 us) with CUDA events; medianUs is per launch.
Napi::Value GemmBench(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int M = int_arg(info, 0, "M", 1, 1 << 20);
  const int N = int_arg(info, 1, "N", 1, 1 << 20);
  const int K = int_arg(info, 2, "K", 1, 1 << 20);
  const std::string backend = string_arg(info, 3, "backend", kBackends);
  const int iters = int_arg(info, 4, "iters", 1, 100000);
  Napi::Object holder;
  const Napi::Object* opts = opt_object(info, 5, "options", holder);
  std::string path_s = "auto";
  bool accumulate = false;
  if (opts) {
    Napi::Value p = opts->Get("path");
    if (!p.IsUndefined()) {
      if (!p.IsString() || std::find(kPaths.begin(), kPaths.end(), p.As<Napi::String>().Utf8Value()) == kPaths.end()) {
        throw_arg(env, "options.path", "one of \"auto\", \"decode\", \"prefill\", \"generic\"", p);
      }
      path_s = p.As<Napi::String>().Utf8Value();
    }
    Napi::Value a = opts->Get("accumulate");
    if (!a.IsUndefined()) {
      if (!a.IsBoolean()) throw_arg(env, "options.accumulate", "a boolean", a);
      accumulate = a.As<Napi::Boolean>().Value();
    }
  }
#ifdef KVWALK_WITH_CUDA
  const int split_k = split_k_option(env, opts, K);
  cudaStream_t s = gemm_stream(env);
  GemmContext* ctx = context_for(env, backend);
  const size_t a_len = static_cast<size_t>(M) * K, w_len = static_cast<size_t>(N) * K, c_len = static_cast<size_t>(M) * N;
  const size_t w_bytes = w_len * 2;
  const size_t min_total = 256ull << 20;
  int copies = static_cast<int>(std::min<size_t>(64, (min_total + w_bytes - 1) / w_bytes));
  if (copies < 1) copies = 1;
  DeviceBuffer dA(env, a_len * 2, "A"), dW(env, w_len * 2 * copies, "W copies"), dC(env, c_len * 4, "C");
  DeviceBuffer dP(env, split_k > 1 ? c_len * 4 * split_k : 4, "split-K parts");
  check(env, kvwalk::engine::launch_gemm_fill_random(dA.get<uint16_t>(), a_len, 1234u, s), "fill A");
  check(env, kvwalk::engine::launch_gemm_fill_random(dW.get<uint16_t>(), w_len * copies, 5678u, s), "fill W");
  check(env, cudaMemsetAsync(dC.get<void>(), 0, c_len * 4, s), "cudaMemset C");
  const GemmPath path = path_from(path_s);
  int next = 0;
  std::string used;
  auto launch = [&]() {
    const uint16_t* w = dW.get<uint16_t>() + static_cast<size_t>(next) * w_len;
    next = (next + 1) % copies;
    used = run_gemm(env, backend, path, dA.get<uint16_t>(), K, w, K, dC.get<float>(), N, M, N, K, accumulate, s, split_k, dP.get<float>());
  };
  Event e0(env), e1(env);
  for (int i = 0; i < 3; i++) launch();
  check(env, cudaEventRecord(e0.get(), s), "cudaEventRecord");
  for (int i = 0; i < 3; i++) launch();
  check(env, cudaEventRecord(e1.get(), s), "cudaEventRecord");
  check(env, cudaEventSynchronize(e1.get()), "gemm warm-up");
  float ms = 0;
  check(env, cudaEventElapsedTime(&ms, e0.get(), e1.get()), "cudaEventElapsedTime");
  const double per = std::max(1e-4, static_cast<double>(ms) / 3);
  const int reps = static_cast<int>(std::min(1000.0, std::max(1.0, std::ceil(0.2 / per))));
  std::vector<double> samples;
  samples.reserve(iters);
  for (int it = 0; it < iters; it++) {
    check(env, cudaEventRecord(e0.get(), s), "cudaEventRecord");
    for (int r = 0; r < reps; r++) launch();
    check(env, cudaEventRecord(e1.get(), s), "cudaEventRecord");
    check(env, cudaEventSynchronize(e1.get()), "gemm bench");
    check(env, cudaEventElapsedTime(&ms, e0.get(), e1.get()), "cudaEventElapsedTime");
    samples.push_back(1000.0 * ms / reps);
  }
  std::vector<double> sorted = samples;
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  const double median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  Napi::Object out = Napi::Object::New(env);
  out.Set("medianUs", median);
  out.Set("minUs", sorted.front());
  out.Set("backend", kvwalk::engine::gemm_backend_name(ctx));
  out.Set("path", used);
  out.Set("launchesPerSample", reps);
  out.Set("wCopies", copies);
  out.Set("samples", static_cast<double>(n));
  return out;
#else
  (void)M;
  (void)N;
  (void)K;
  (void)iters;
  (void)accumulate;
  throw Napi::Error::New(env, "gemmBench: not compiled with CUDA");
#endif
}

// copyBandwidth(bytes, iters) -> GB/s of cudaMemcpyAsync device-to-device, counting bytes read plus
// bytes written (2 * bytes per copy), median over iters timed copies after one warm-up.
Napi::Value CopyBandwidth(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value bv = info.Length() > 0 ? info[0] : env.Undefined();
  if (!bv.IsNumber()) throw_arg(env, "bytes", "an integer in [1, 2^36]", bv);
  const double bd = bv.As<Napi::Number>().DoubleValue();
  if (!(bd == std::floor(bd)) || bd < 1 || bd > 68719476736.0) throw_arg(env, "bytes", "an integer in [1, 2^36]", bv, true);
  const int iters = int_arg(info, 1, "iters", 1, 100000);
#ifdef KVWALK_WITH_CUDA
  const size_t bytes = static_cast<size_t>(bd);
  cudaStream_t s = gemm_stream(env);
  DeviceBuffer src(env, bytes, "copy source"), dst(env, bytes, "copy destination");
  check(env, cudaMemsetAsync(src.get<void>(), 1, bytes, s), "cudaMemset copy source");
  Event e0(env), e1(env);
  check(env, cudaMemcpyAsync(dst.get<void>(), src.get<void>(), bytes, cudaMemcpyDeviceToDevice, s), "cudaMemcpy D2D warm-up");
  std::vector<double> gbs;
  for (int i = 0; i < iters; i++) {
    check(env, cudaEventRecord(e0.get(), s), "cudaEventRecord");
    check(env, cudaMemcpyAsync(dst.get<void>(), src.get<void>(), bytes, cudaMemcpyDeviceToDevice, s), "cudaMemcpy D2D");
    check(env, cudaEventRecord(e1.get(), s), "cudaEventRecord");
    check(env, cudaEventSynchronize(e1.get()), "cudaMemcpy D2D");
    float ms = 0;
    check(env, cudaEventElapsedTime(&ms, e0.get(), e1.get()), "cudaEventElapsedTime");
    gbs.push_back(2.0 * static_cast<double>(bytes) / (static_cast<double>(ms) * 1e-3) / 1e9);
  }
  std::sort(gbs.begin(), gbs.end());
  const size_t n = gbs.size();
  return Napi::Number::New(env, n % 2 ? gbs[n / 2] : 0.5 * (gbs[n / 2 - 1] + gbs[n / 2]));
#else
  (void)iters;
  throw Napi::Error::New(env, "copyBandwidth: not compiled with CUDA");
#endif
}

// gemmBackend(backend) -> { ok: true, name, backend: "builtin" | "cublas" } or { ok: false, error }.
// Never throws for an unavailable backend: says why (dlopen/dlsym/cublasCreate message).
Napi::Value GemmBackendInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string backend = string_arg(info, 0, "backend", kBackends);
  Napi::Object out = Napi::Object::New(env);
#ifdef KVWALK_WITH_CUDA
  try {
    GemmContext* ctx = context_for(env, backend);
    out.Set("ok", true);
    out.Set("name", kvwalk::engine::gemm_backend_name(ctx));
    out.Set("backend", kvwalk::engine::gemm_context_backend(ctx) == GemmBackend::Cublas ? "cublas" : "builtin");
  } catch (const Napi::Error& e) {
    out.Set("ok", false);
    out.Set("error", e.Message());
  }
#else
  out.Set("ok", false);
  out.Set("error", "not compiled with CUDA");
#endif
  return out;
}

}  // namespace

void register_gemm_tests(Napi::Env env, Napi::Object exports) {
  exports.Set("gemmTest", Napi::Function::New(env, GemmTest, "gemmTest"));
  exports.Set("gemmBench", Napi::Function::New(env, GemmBench, "gemmBench"));
  exports.Set("copyBandwidth", Napi::Function::New(env, CopyBandwidth, "copyBandwidth"));
  exports.Set("gemmBackend", Napi::Function::New(env, GemmBackendInfo, "gemmBackend"));
}
