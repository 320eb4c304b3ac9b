// Helpers shared by the engine's kernel-test bindings (kernel_tests.cc, evict_tests.cc): argument
// parsing with the project's error messages, typed-array conversion, CUDA error -> JS exception, RAII
// device buffers and event pairs. Binding layer only (Node-API).
#pragma once
#include <napi.h>
#include <kvwalk/args.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#ifdef KVWALK_WITH_CUDA
#include <cuda_runtime.h>

#include "engine_launchers.h"
#endif

// Every kernel-test binding starts with KVWALK_REQUIRE_CUDA(env): a no-op in a CUDA build, else a JS
// error naming the file's test group (KVWALK_TESTS_NAME, defined by the including file).
#ifdef KVWALK_WITH_CUDA
#define KVWALK_REQUIRE_CUDA(env) (void)(env)
#else
#define KVWALK_REQUIRE_CUDA(env) throw Napi::Error::New((env), KVWALK_TESTS_NAME ": @kvwalk/runtime engine addon not compiled with CUDA")
#endif

namespace kvwalk_test {

[[noreturn]] inline void bad_arg(Napi::Env env, const std::string& name, const std::string& expected, const Napi::Value& got, bool range = false) {
  kvwalk::throw_invalid_argument(env, name, expected, got, range);
}

inline Napi::Object args_of(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsObject()) bad_arg(info.Env(), "args", "an object", info.Length() ? info[0] : info.Env().Undefined());
  return info[0].As<Napi::Object>();
}

inline long long int_arg(const Napi::Object& o, const char* name, long long lo, long long hi) {
  Napi::Value v = o.Get(name);
  const std::string expected = "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  if (!v.IsNumber()) bad_arg(o.Env(), name, expected, v);
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d == std::floor(d)) || d < static_cast<double>(lo) || d > static_cast<double>(hi)) bad_arg(o.Env(), name, expected, v, true);
  return static_cast<long long>(d);
}

inline float num_arg(const Napi::Object& o, const char* name) {
  Napi::Value v = o.Get(name);
  if (!v.IsNumber() || !std::isfinite(v.As<Napi::Number>().DoubleValue())) bad_arg(o.Env(), name, "a finite number", v);
  return static_cast<float>(v.As<Napi::Number>().DoubleValue());
}

template <typename T>
struct ArrayKind;
template <>
struct ArrayKind<float> {
  static constexpr napi_typedarray_type type = napi_float32_array;
  static constexpr const char* name = "Float32Array";
};
template <>
struct ArrayKind<int32_t> {
  static constexpr napi_typedarray_type type = napi_int32_array;
  static constexpr const char* name = "Int32Array";
};
template <>
struct ArrayKind<uint32_t> {
  static constexpr napi_typedarray_type type = napi_uint32_array;
  static constexpr const char* name = "Uint32Array";
};
template <>
struct ArrayKind<uint16_t> {
  static constexpr napi_typedarray_type type = napi_uint16_array;
  static constexpr const char* name = "Uint16Array";
};

// A typed-array field with exactly `len` elements (copied out, so later JS cannot alias device copies).
template <typename T>
std::vector<T> array_arg(const Napi::Object& o, const char* name, size_t len) {
  Napi::Value v = o.Get(name);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != ArrayKind<T>::type || v.As<Napi::TypedArray>().ElementLength() != len) {
    bad_arg(o.Env(), name, std::string(ArrayKind<T>::name) + " of length " + std::to_string(len), v);
  }
  Napi::TypedArrayOf<T> a = v.As<Napi::TypedArrayOf<T>>();
  return std::vector<T>(a.Data(), a.Data() + len);
}

// True when the field is null or undefined (an optional array).
inline bool absent(const Napi::Object& o, const char* name) {
  Napi::Value v = o.Get(name);
  return v.IsNull() || v.IsUndefined();
}

template <typename T>
Napi::TypedArrayOf<T> to_js(Napi::Env env, const std::vector<T>& v) {
  Napi::TypedArrayOf<T> a = Napi::TypedArrayOf<T>::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(T));
  return a;
}

#ifdef KVWALK_WITH_CUDA

[[noreturn]] inline void throw_cuda(Napi::Env env, cudaError_t err, const std::string& op) {
  const std::string cuda_msg = std::string(cudaGetErrorName(err)) + " (" + cudaGetErrorString(err) + ")";
  Napi::Error e = Napi::Error::New(env, "CUDA error in " + op + ": " + cuda_msg);
  e.Set("code", Napi::String::New(env, "KVWALK_CUDA"));
  e.Set("operation", Napi::String::New(env, op));
  e.Set("cudaMessage", Napi::String::New(env, cuda_msg));
  cudaGetLastError();  // clear a non-sticky error so later calls can proceed
  throw e;
}

inline void check(Napi::Env env, cudaError_t err, const std::string& op) {
  if (err != cudaSuccess) throw_cuda(env, err, op);
}

// One device allocation, freed on scope exit (also when a JS exception unwinds).
template <typename T>
class Dev {
 public:
  Dev(Napi::Env env, size_t n, const char* what) : n_(n) {
    if (n > 0) check(env, cudaMalloc(reinterpret_cast<void**>(&ptr_), n * sizeof(T)), std::string("cudaMalloc(") + what + ")");
  }
  Dev(Napi::Env env, const std::vector<T>& host, const char* what) : Dev(env, host.size(), what) {
    if (n_ > 0) check(env, cudaMemcpy(ptr_, host.data(), n_ * sizeof(T), cudaMemcpyHostToDevice), std::string("cudaMemcpy(") + what + " to device)");
  }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  ~Dev() {
    if (ptr_ != nullptr) cudaFree(ptr_);
  }
  T* get() const { return ptr_; }
  size_t size() const { return n_; }
  std::vector<T> download(Napi::Env env, const char* what) const {
    std::vector<T> out(n_);
    if (n_ > 0) check(env, cudaMemcpy(out.data(), ptr_, n_ * sizeof(T), cudaMemcpyDeviceToHost), std::string("cudaMemcpy(") + what + " to host)");
    return out;
  }

 private:
  T* ptr_ = nullptr;
  size_t n_;
};

// Random prefill-attention inputs for the kernel benches: K and V uniform bf16, q f32 [T, H, D] holding
// bf16-representable values (drawn as bf16 into `qb`, widened on the host), as the prefill attention
// and prompt-scoring benches both use.
inline void fill_prefill_bench_inputs(Napi::Env env, Dev<float>& q, Dev<uint16_t>& qb, Dev<uint16_t>& k, Dev<uint16_t>& v) {
  check(env, kvwalk::engine::launch_fill_uniform_bf16(k.get(), k.size(), 1u, 1.0f, nullptr), "launch_fill_uniform_bf16(k)");
  check(env, kvwalk::engine::launch_fill_uniform_bf16(v.get(), v.size(), 2u, 1.0f, nullptr), "launch_fill_uniform_bf16(v)");
  check(env, kvwalk::engine::launch_fill_uniform_bf16(qb.get(), qb.size(), 3u, 1.0f, nullptr), "launch_fill_uniform_bf16(q)");
  std::vector<uint16_t> hb = qb.download(env, "q (bf16 staging)");
  std::vector<float> hq(hb.size());
  for (size_t i = 0; i < hb.size(); ++i) {
    const uint32_t bits = static_cast<uint32_t>(hb[i]) << 16;
    std::memcpy(&hq[i], &bits, 4);
  }
  check(env, cudaMemcpy(q.get(), hq.data(), hq.size() * sizeof(float), cudaMemcpyHostToDevice), "cudaMemcpy(q to device)");
}

// Two CUDA events, destroyed on scope exit.
class EventPair {
 public:
  explicit EventPair(Napi::Env env) {
    check(env, cudaEventCreate(&start), "cudaEventCreate");
    const cudaError_t err = cudaEventCreate(&stop);
    if (err != cudaSuccess) {
      cudaEventDestroy(start);
      start = nullptr;
      throw_cuda(env, err, "cudaEventCreate");
    }
  }
  EventPair(const EventPair&) = delete;
  EventPair& operator=(const EventPair&) = delete;
  ~EventPair() {
    if (start) cudaEventDestroy(start);
    if (stop) cudaEventDestroy(stop);
  }
  // Elapsed microseconds between the two recorded events (synchronizes on stop).
  double elapsed_us(Napi::Env env, const char* what) const {
    check(env, cudaEventSynchronize(stop), std::string(what) + " (execution)");
    float ms = 0.f;
    check(env, cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    return static_cast<double>(ms) * 1000.0;
  }
  cudaEvent_t start = nullptr, stop = nullptr;
};

// `iters` runs of `launch` (returns cudaError_t; default stream) each timed with CUDA events, after
// `warmup` untimed runs and a device synchronize: microseconds per run, in run order.
template <class F>
std::vector<double> time_launches_us(Napi::Env env, int iters, const std::string& what, F launch, int warmup = 2) {
  for (int i = 0; i < warmup; ++i) check(env, launch(), what + " (warm-up)");
  if (warmup > 0) check(env, cudaDeviceSynchronize(), what + " (warm-up execution)");
  EventPair ev(env);
  std::vector<double> us;
  us.reserve(iters > 0 ? iters : 0);
  for (int i = 0; i < iters; ++i) {
    check(env, cudaEventRecord(ev.start, nullptr), "cudaEventRecord");
    check(env, launch(), what);
    check(env, cudaEventRecord(ev.stop, nullptr), "cudaEventRecord");
    us.push_back(ev.elapsed_us(env, what.c_str()));
  }
  return us;
}

// Launch + synchronize, naming the launcher in the error.
inline void run(Napi::Env env, cudaError_t launch_err, const char* launcher) {
  check(env, launch_err, launcher);
  check(env, cudaDeviceSynchronize(), std::string(launcher) + " (kernel execution)");
}

inline double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0.0 : (n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]));
}
#endif  // KVWALK_WITH_CUDA

}  // namespace kvwalk_test
