// Node-API binding of @kvwalk/walker-cuda: the only node-addon-api code of the package.
//
// Exports (typed in src/addon-types.ts):
//   cudaCompiled(), probeDevice()                      device probe (kvwalk/probe.h)
//   philox4x32(c0, c1, c2, c3, k0, k1) -> Uint32Array  host build of native/kernels/philox.cuh
//   WalkerContext(numGraphs, capacity)                 device buffers + a private non-blocking stream
//   WalkerEvent                                        a cudaEvent_t recorded on a context's stream
//   benchBaselines(bytes, repeats)                     memcpy and empty-kernel timings (CUDA events)
//
// Every argument is validated before anything is enqueued; messages follow InvalidArgumentError:
// "Expected <what> for <param> but received <value>". CUDA failures throw (or reject) an Error whose
// message is "CUDA error in <operation>: <name> (<text>)" and which carries `code: "KVWALK_CUDA"` and
// `operation`. Asynchronous calls return Promises settled by an AsyncWorker that waits, off the
// JavaScript thread, on a blocking-sync event recorded after the enqueued work.
#include <napi.h>
#include <kvwalk/args.h>
#include <kvwalk/probe.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <algorithm>
#include <functional>
#include <type_traits>
#include <string>
#include <vector>

#include "philox.cuh"

#ifdef KVWALK_WITH_CUDA
#include "../src/walker.h"
#endif

namespace {


[[noreturn]] void throw_arg(Napi::Env env, const std::string& param, const std::string& expected, const Napi::Value& received) {
  kvwalk::throw_invalid_argument(env, param, expected, received);
}

// An integer in [lo, hi] (doubles represent every integer we accept exactly).
int64_t get_int(Napi::Env env, const Napi::Value& v, const std::string& param, int64_t lo, int64_t hi) {
  if (!v.IsNumber()) throw_arg(env, param, "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]", v);
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
    throw_arg(env, param, "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]", v);
  }
  return static_cast<int64_t>(d);
}

double get_number(Napi::Env env, const Napi::Value& v, const std::string& param, double lo, double hi) {
  if (!v.IsNumber()) throw_arg(env, param, "a finite number", v);
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < lo || d > hi) throw_arg(env, param, "a finite number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]", v);
  return d;
}

template <typename T>
constexpr napi_typedarray_type typed_kind() {
  return std::is_same<T, int32_t>::value ? napi_int32_array : std::is_same<T, uint32_t>::value ? napi_uint32_array : napi_float32_array;
}

template <typename T>
Napi::TypedArrayOf<T> get_typed(Napi::Env env, const Napi::Value& v, const std::string& param, const char* type, size_t length) {
  static_assert(std::is_same<T, int32_t>::value || std::is_same<T, uint32_t>::value || std::is_same<T, float>::value, "typed array kind");
  const std::string expected = std::string("a ") + type + " of length " + std::to_string(length);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != typed_kind<T>()) {
    throw_arg(env, param, expected, v);
  }
  Napi::TypedArrayOf<T> a = v.As<Napi::TypedArrayOf<T>>();
  if (a.ElementLength() != length) throw_arg(env, param, expected, v);
  return a;
}

Napi::Value philox(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t w[6];
  static const char* names[] = {"c0", "c1", "c2", "c3", "k0", "k1"};
  for (int i = 0; i < 6; ++i) w[i] = static_cast<uint32_t>(get_int(env, info[i], names[i], 0, 0xffffffffll));
  const kvwalk::Philox4 r = kvwalk::philox4x32_10(w[0], w[1], w[2], w[3], w[4], w[5]);
  Napi::Uint32Array out = Napi::Uint32Array::New(env, 4);
  for (int i = 0; i < 4; ++i) out.Data()[i] = r.x[i];
  return out;
}

#ifdef KVWALK_WITH_CUDA

Napi::Error cuda_error(Napi::Env env, cudaError_t err, const std::string& op) {
  const std::string cudaMessage = std::string(cudaGetErrorName(err)) + " (" + cudaGetErrorString(err) + ")";
  Napi::Error e = Napi::Error::New(env, "CUDA error in " + op + ": " + cudaMessage);
  e.Set("code", Napi::String::New(env, "KVWALK_CUDA"));
  e.Set("operation", Napi::String::New(env, op));
  e.Set("cudaMessage", Napi::String::New(env, cudaMessage));
  return e;
}

void check(Napi::Env env, cudaError_t err, const std::string& op) {
  if (err != cudaSuccess) throw cuda_error(env, err, op);
}

// Settles a Promise once `event` has completed; `finish` (main thread) builds the resolved value.
class EventWorker : public Napi::AsyncWorker {
 public:
  using Finish = std::function<Napi::Value(Napi::Env)>;
  EventWorker(Napi::Env env, cudaEvent_t event, bool ownsEvent, std::string op, Napi::Object keepAlive, Finish finish)
      : Napi::AsyncWorker(env, "kvwalk.walker"),
        deferred_(Napi::Promise::Deferred::New(env)),
        event_(event),
        owns_(ownsEvent),
        op_(std::move(op)),
        finish_(std::move(finish)) {
    if (!keepAlive.IsEmpty()) keep_ = Napi::Persistent(keepAlive);
  }
  ~EventWorker() override {
    if (owns_) cudaEventDestroy(event_);
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override { err_ = cudaEventSynchronize(event_); }
  void OnOK() override {
    Napi::Env env = Env();
    if (err_ != cudaSuccess) {
      deferred_.Reject(cuda_error(env, err_, op_).Value());
      return;
    }
    try {
      deferred_.Resolve(finish_ ? finish_(env) : env.Undefined());
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  cudaEvent_t event_;
  bool owns_;
  std::string op_;
  Finish finish_;
  Napi::ObjectReference keep_;
  cudaError_t err_ = cudaSuccess;
};

cudaEvent_t new_sync_event(Napi::Env env, const char* op) {
  cudaEvent_t ev = nullptr;
  check(env, cudaEventCreateWithFlags(&ev, cudaEventDisableTiming | cudaEventBlockingSync), op);
  return ev;
}

// Records a fresh event on `stream` and returns a Promise settled when the stream reaches it.
Napi::Promise settle_after(Napi::Env env, cudaStream_t stream, const std::string& op, Napi::Object keepAlive, EventWorker::Finish finish) {
  cudaEvent_t ev = new_sync_event(env, op.c_str());
  const cudaError_t err = cudaEventRecord(ev, stream);
  if (err != cudaSuccess) {
    cudaEventDestroy(ev);
    throw cuda_error(env, err, op + " (cudaEventRecord)");
  }
  auto* w = new EventWorker(env, ev, true, op, keepAlive, std::move(finish));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

napi_value to_bigint(Napi::Env env, const void* p) { return Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p))); }

class WalkerEvent : public Napi::ObjectWrap<WalkerEvent> {
 public:
  static Napi::FunctionReference* ctor;
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "WalkerEvent",
                       {InstanceMethod("query", &WalkerEvent::Query), InstanceMethod("synchronize", &WalkerEvent::Synchronize),
                        InstanceMethod("handle", &WalkerEvent::Handle)});
  }
  explicit WalkerEvent(const Napi::CallbackInfo& info) : Napi::ObjectWrap<WalkerEvent>(info) {
    check(info.Env(), cudaEventCreateWithFlags(&event_, cudaEventDisableTiming | cudaEventBlockingSync), "cudaEventCreate");
  }
  ~WalkerEvent() override {
    if (event_ != nullptr) cudaEventDestroy(event_);
  }
  cudaEvent_t event() const { return event_; }

 private:
  Napi::Value Query(const Napi::CallbackInfo& info) {
    const cudaError_t err = cudaEventQuery(event_);
    if (err == cudaErrorNotReady) return Napi::Boolean::New(info.Env(), false);
    check(info.Env(), err, "cudaEventQuery");
    return Napi::Boolean::New(info.Env(), true);
  }
  Napi::Value Synchronize(const Napi::CallbackInfo& info) {
    auto* w = new EventWorker(info.Env(), event_, false, "cudaEventSynchronize", info.This().As<Napi::Object>(), nullptr);
    Napi::Promise p = w->Promise();
    w->Queue();
    return p;
  }
  Napi::Value Handle(const Napi::CallbackInfo& info) { return Napi::Value(info.Env(), to_bigint(info.Env(), event_)); }

  cudaEvent_t event_ = nullptr;
};
Napi::FunctionReference* WalkerEvent::ctor = nullptr;

template <typename T>
void device_alloc(Napi::Env env, T** p, size_t count, const char* what) {
  if (*p != nullptr || count == 0) return;
  check(env, cudaMalloc(reinterpret_cast<void**>(p), count * sizeof(T)), std::string("cudaMalloc(") + what + ")");
}
template <typename T>
void host_alloc(Napi::Env env, T** p, size_t count, const char* what) {
  if (*p != nullptr || count == 0) return;
  check(env, cudaMallocHost(reinterpret_cast<void**>(p), count * sizeof(T)), std::string("cudaMallocHost(") + what + ")");
}

// Per-call walk settings read from a JS object, validated.
struct WalkArgs {
  kvwalk::WalkParams params{};
  kvwalk::WalkStaging staging = kvwalk::WalkStaging::kGlobal;
  bool reset = true;
  bool accumulate = false;
  float decay = 1.0f;
};

class WalkerContext : public Napi::ObjectWrap<WalkerContext> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "WalkerContext",
                       {InstanceMethod("uploadGraphs", &WalkerContext::UploadGraphs), InstanceMethod("walk", &WalkerContext::Walk),
                        InstanceMethod("readCounts", &WalkerContext::ReadCounts), InstanceMethod("readScores", &WalkerContext::ReadScores),
                        InstanceMethod("resetScores", &WalkerContext::ResetScores), InstanceMethod("pagerank", &WalkerContext::Pagerank),
                        InstanceMethod("recordEvent", &WalkerContext::RecordEvent), InstanceMethod("waitEvent", &WalkerContext::WaitEvent),
                        InstanceMethod("synchronize", &WalkerContext::Synchronize), InstanceMethod("streamHandle", &WalkerContext::StreamHandle),
                        InstanceMethod("timeWalk", &WalkerContext::TimeWalk), InstanceMethod("graphPointers", &WalkerContext::GraphPointersJs),
                        InstanceMethod("dispose", &WalkerContext::Dispose)});
  }

  explicit WalkerContext(const Napi::CallbackInfo& info) : Napi::ObjectWrap<WalkerContext>(info) {
    Napi::Env env = info.Env();
    numGraphs_ = get_int(env, info[0], "numGraphs", 0, 1ll << 24);
    capacity_ = static_cast<int32_t>(get_int(env, info[1], "capacity", 0, 1ll << 28));
    nodes_ = static_cast<size_t>(numGraphs_) * static_cast<size_t>(capacity_);
    if (nodes_ * 4 > static_cast<size_t>(0x7fffffff)) {
      throw_arg(env, "numGraphs * capacity * 4", "at most 2^31 - 1 entries", Napi::Number::New(env, static_cast<double>(nodes_ * 4)));
    }
    check(env, cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    try {
      device_alloc(env, &dNeighbors_, nodes_ * 4, "neighbors");
      device_alloc(env, &dWeights_, nodes_ * 4, "weights");
      device_alloc(env, &dNumNodes_, static_cast<size_t>(numGraphs_), "numNodes");
      device_alloc(env, &dCounts_, nodes_, "counts");
      device_alloc(env, &dScores_, nodes_, "scores");
      if (nodes_ > 0) {
        // Empty graphs until uploaded: every neighbour -1 (0xff bytes), every weight 0.
        check(env, cudaMemsetAsync(dNeighbors_, 0xff, nodes_ * 16, stream_), "cudaMemsetAsync(neighbors)");
        check(env, cudaMemsetAsync(dWeights_, 0, nodes_ * 16, stream_), "cudaMemsetAsync(weights)");
        check(env, cudaMemsetAsync(dCounts_, 0, nodes_ * 4, stream_), "cudaMemsetAsync(counts)");
        check(env, cudaMemsetAsync(dScores_, 0, nodes_ * 4, stream_), "cudaMemsetAsync(scores)");
      }
    } catch (...) {
      Release();
      throw;
    }
  }
  ~WalkerContext() override { Release(); }

 private:
  void Release() {
    if (stream_ != nullptr) cudaStreamSynchronize(stream_);
    cudaFree(dNeighbors_);
    cudaFree(dWeights_);
    cudaFree(dNumNodes_);
    cudaFree(dCounts_);
    cudaFree(dScores_);
    cudaFree(dX_);
    cudaFree(dY_);
    cudaFree(dRank_);
    cudaFree(dIters_);
    cudaFreeHost(hCounts_);
    cudaFreeHost(hScores_);
    cudaFreeHost(hRank_);
    cudaFreeHost(hIters_);
    dNeighbors_ = nullptr;
    dWeights_ = nullptr;
    dNumNodes_ = nullptr;
    dCounts_ = nullptr;
    dScores_ = nullptr;
    dX_ = dY_ = dRank_ = nullptr;
    dIters_ = nullptr;
    hCounts_ = nullptr;
    hScores_ = nullptr;
    hRank_ = nullptr;
    hIters_ = nullptr;
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
    stream_ = nullptr;
    disposed_ = true;
  }

  void Live(Napi::Env env) const {
    if (disposed_) {
      Napi::Error e = Napi::Error::New(env, "WalkerContext is disposed");
      e.Set("code", Napi::String::New(env, "KVWALK_DISPOSED"));
      throw e;
    }
  }

  Napi::Object Options(const Napi::CallbackInfo& info, const char* name) {
    if (!info[0].IsObject()) throw_arg(info.Env(), name, "an options object", info[0]);
    return info[0].As<Napi::Object>();
  }

  // Device graph pointers: the context's own buffers, or external ones (BigInt device addresses of
  // [numGraphs, capacity, 4] int32/float32 arrays owned by the caller, e.g. the graph cache).
  void GraphPointers(Napi::Env env, const Napi::Object& o, const int32_t** nb, const float** wt) {
    *nb = dNeighbors_;
    *wt = dWeights_;
    const Napi::Value pn = o.Get("neighborsPtr");
    const Napi::Value pw = o.Get("weightsPtr");
    if (pn.IsUndefined() && pw.IsUndefined()) return;
    const void* ptrs[2] = {nullptr, nullptr};
    const Napi::Value vals[2] = {pn, pw};
    const char* names[2] = {"neighborsPtr", "weightsPtr"};
    for (int i = 0; i < 2; ++i) {
      if (!vals[i].IsBigInt()) throw_arg(env, names[i], "a BigInt device address (both neighborsPtr and weightsPtr)", vals[i]);
      bool lossless = false;
      const uint64_t a = vals[i].As<Napi::BigInt>().Uint64Value(&lossless);
      if (!lossless || a == 0 || (a % 16) != 0) throw_arg(env, names[i], "a non-zero, 16-byte aligned device address", vals[i]);
      ptrs[i] = reinterpret_cast<const void*>(static_cast<uintptr_t>(a));
      cudaPointerAttributes attr{};
      const cudaError_t err = cudaPointerGetAttributes(&attr, ptrs[i]);
      if (err != cudaSuccess || (attr.type != cudaMemoryTypeDevice && attr.type != cudaMemoryTypeManaged)) {
        cudaGetLastError();
        throw_arg(env, names[i], "an address of device memory", vals[i]);
      }
    }
    *nb = static_cast<const int32_t*>(ptrs[0]);
    *wt = static_cast<const float*>(ptrs[1]);
  }

  void UploadNumNodes(Napi::Env env, const Napi::Object& o) {
    Napi::Int32Array nn = get_typed<int32_t>(env, o.Get("numNodes"), "numNodes", "Int32Array", static_cast<size_t>(numGraphs_));
    for (int64_t g = 0; g < numGraphs_; ++g) {
      const int32_t v = nn.Data()[g];
      if (v < 0 || v > capacity_) {
        throw_arg(env, "numNodes[" + std::to_string(g) + "]", "an integer in [0, " + std::to_string(capacity_) + "]", Napi::Number::New(env, v));
      }
    }
    if (numGraphs_ > 0) {
      check(env, cudaMemcpyAsync(dNumNodes_, nn.Data(), static_cast<size_t>(numGraphs_) * 4, cudaMemcpyHostToDevice, stream_),
            "cudaMemcpyAsync(numNodes)");
    }
  }

  WalkArgs ReadWalkArgs(Napi::Env env, const Napi::Object& o) {
    WalkArgs a;
    kvwalk::WalkParams& p = a.params;
    GraphPointers(env, o, &p.neighbors, &p.weights);
    p.numNodes = dNumNodes_;
    p.counts = dCounts_;
    p.numGraphs = numGraphs_;
    p.capacity = capacity_;
    p.walkers = static_cast<uint32_t>(get_int(env, o.Get("walkers"), "walkers", 0, 0x7fffffffll));
    p.steps = static_cast<uint32_t>(get_int(env, o.Get("steps"), "steps", 0, 0x7fffffffll));
    if (static_cast<uint64_t>(p.walkers) * p.steps > 0xffffffffull) {
      throw_arg(env, "walkers * steps", "at most 4294967295 (uint32 counts)", Napi::Number::New(env, static_cast<double>(p.walkers) * p.steps));
    }
    p.teleportThreshold = static_cast<uint64_t>(get_int(env, o.Get("teleportThreshold"), "teleportThreshold", 0, 1ll << 32));
    p.startWindow = static_cast<int32_t>(get_int(env, o.Get("startWindow"), "startWindow", 1, 0x7fffffffll));
    p.excludeBelow = static_cast<int32_t>(get_int(env, o.Get("excludeBelow"), "excludeBelow", 0, 0x7fffffffll));
    p.seed = static_cast<uint32_t>(get_int(env, o.Get("seed"), "seed", 0, 0xffffffffll));
    const int64_t gi = get_int(env, o.Get("graphIndex"), "graphIndex", 0, 0xffffffffll);
    if (numGraphs_ > 0 && gi + numGraphs_ - 1 > 0xffffffffll) {
      throw_arg(env, "graphIndex", "at most 2^32 - numGraphs", o.Get("graphIndex"));
    }
    p.graphIndexBase = static_cast<uint32_t>(gi);
    const Napi::Value reset = o.Get("reset");
    if (!reset.IsUndefined()) {
      if (!reset.IsBoolean()) throw_arg(env, "reset", "a boolean", reset);
      a.reset = reset.As<Napi::Boolean>().Value();
    }
    const Napi::Value staging = o.Get("staging");
    if (!staging.IsUndefined()) {
      const std::string st = staging.IsString() ? staging.As<Napi::String>().Utf8Value() : "";
      if (st == "shared" || st == "shared-counts") {
        const kvwalk::WalkStaging kind = st == "shared" ? kvwalk::WalkStaging::kShared : kvwalk::WalkStaging::kSharedCounts;
        const int64_t maxCap = kvwalk::max_shared_walk_capacity(kind);
        if (capacity_ > maxCap) {
          throw_arg(env, "staging", "\"global\" (\"" + st + "\" needs capacity <= " + std::to_string(maxCap) + " on this device, capacity is " +
                                        std::to_string(capacity_) + ")", staging);
        }
        a.staging = kind;
      } else if (st != "global") {
        throw_arg(env, "staging", "one of \"global\", \"shared\", \"shared-counts\"", staging);
      }
    }
    const Napi::Value decay = o.Get("decay");
    if (!decay.IsUndefined() && !decay.IsNull()) {
      a.accumulate = true;
      a.decay = static_cast<float>(get_number(env, decay, "decay", 0.0, 1.0));
    }
    return a;
  }

  void UploadGraphs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Live(env);
    Napi::Int32Array nb = get_typed<int32_t>(env, info[0], "neighbors", "Int32Array", nodes_ * 4);
    Napi::Float32Array wt = get_typed<float>(env, info[1], "weights", "Float32Array", nodes_ * 4);
    if (nodes_ == 0) return;
    // Pageable sources: cudaMemcpyAsync returns once the data is staged, so the arrays may be reused.
    check(env, cudaMemcpyAsync(dNeighbors_, nb.Data(), nodes_ * 16, cudaMemcpyHostToDevice, stream_), "cudaMemcpyAsync(neighbors)");
    check(env, cudaMemcpyAsync(dWeights_, wt.Data(), nodes_ * 16, cudaMemcpyHostToDevice, stream_), "cudaMemcpyAsync(weights)");
  }

  void EnqueueWalk(Napi::Env env, const WalkArgs& a) {
    if (a.reset && nodes_ > 0) check(env, cudaMemsetAsync(dCounts_, 0, nodes_ * 4, stream_), "cudaMemsetAsync(counts)");
    check(env, kvwalk::launch_walk(a.params, a.staging, 0, stream_), a.staging == kvwalk::WalkStaging::kGlobal ? "walk_kernel" : "walk_shared_kernel");
    if (a.accumulate) check(env, kvwalk::launch_accumulate(dScores_, dCounts_, static_cast<int64_t>(nodes_), a.decay, stream_), "accumulate_kernel");
  }

  Napi::Value Walk(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Live(env);
    Napi::Object o = Options(info, "walk options");
    WalkArgs a = ReadWalkArgs(env, o);
    UploadNumNodes(env, o);
    EnqueueWalk(env, a);
    return settle_after(env, stream_, "walk_kernel", info.This().As<Napi::Object>(), nullptr);
  }

  // Copies a device buffer into a pinned staging buffer on the stream; resolves with a fresh typed array.
  template <typename T>
  Napi::Value ReadBuffer(const Napi::CallbackInfo& info, const T* device, T** pinned, const char* what) {
    Napi::Env env = info.Env();
    Live(env);
    host_alloc(env, pinned, nodes_, what);
    if (nodes_ > 0) check(env, cudaMemcpyAsync(*pinned, device, nodes_ * sizeof(T), cudaMemcpyDeviceToHost, stream_), std::string("cudaMemcpyAsync(") + what + ")");
    const size_t n = nodes_;
    T* const* src = pinned;
    return settle_after(env, stream_, std::string("read ") + what, info.This().As<Napi::Object>(), [n, src](Napi::Env e) -> Napi::Value {
      if (n > 0 && *src == nullptr) throw Napi::Error::New(e, "WalkerContext was disposed before the read completed");
      Napi::TypedArrayOf<T> out = Napi::TypedArrayOf<T>::New(e, n);
      if (n > 0) std::memcpy(out.Data(), *src, n * sizeof(T));
      return out;
    });
  }
  Napi::Value ReadCounts(const Napi::CallbackInfo& info) { return ReadBuffer<uint32_t>(info, dCounts_, &hCounts_, "counts"); }
  Napi::Value ReadScores(const Napi::CallbackInfo& info) { return ReadBuffer<float>(info, dScores_, &hScores_, "scores"); }

  void ResetScores(const Napi::CallbackInfo& info) {
    Live(info.Env());
    if (nodes_ > 0) check(info.Env(), cudaMemsetAsync(dScores_, 0, nodes_ * 4, stream_), "cudaMemsetAsync(scores)");
  }

  Napi::Value Pagerank(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Live(env);
    Napi::Object o = Options(info, "pagerank options");
    kvwalk::PagerankParams p{};
    GraphPointers(env, o, &p.neighbors, &p.weights);
    p.teleportThreshold = static_cast<uint64_t>(get_int(env, o.Get("teleportThreshold"), "teleportThreshold", 0, 1ll << 32));
    p.startWindow = static_cast<int32_t>(get_int(env, o.Get("startWindow"), "startWindow", 1, 0x7fffffffll));
    p.excludeBelow = static_cast<int32_t>(get_int(env, o.Get("excludeBelow"), "excludeBelow", 0, 0x7fffffffll));
    p.tol = get_number(env, o.Get("tol"), "tol", 0.0, INFINITY);
    p.maxIter = static_cast<int32_t>(get_int(env, o.Get("maxIter"), "maxIter", 0, 0x7fffffffll));
    const bool causal = get_int(env, o.Get("method"), "method", 0, 1) == 1;  // 1: the causal backward sweep
    UploadNumNodes(env, o);
    if (!causal) {  // the causal sweep keeps its iterate in shared memory: no x / y
      device_alloc(env, &dX_, nodes_, "pagerank x");
      device_alloc(env, &dY_, nodes_, "pagerank y");
    }
    device_alloc(env, &dRank_, nodes_, "pagerank result");
    device_alloc(env, &dIters_, static_cast<size_t>(numGraphs_), "pagerank iterations");
    host_alloc(env, &hRank_, nodes_, "pagerank result");
    host_alloc(env, &hIters_, static_cast<size_t>(numGraphs_), "pagerank iterations");
    p.numNodes = dNumNodes_;
    p.x = causal ? nullptr : dX_;
    p.y = causal ? nullptr : dY_;
    p.result = dRank_;
    p.iterations = dIters_;
    p.numGraphs = numGraphs_;
    p.capacity = capacity_;
    if (causal) {
      check(env, kvwalk::launch_pagerank_causal(p, stream_), "pagerank_causal_kernel");
    } else {
      check(env, kvwalk::launch_pagerank(p, stream_), "pagerank_kernel");
    }
    if (nodes_ > 0) check(env, cudaMemcpyAsync(hRank_, dRank_, nodes_ * 8, cudaMemcpyDeviceToHost, stream_), "cudaMemcpyAsync(pagerank)");
    if (numGraphs_ > 0) check(env, cudaMemcpyAsync(hIters_, dIters_, numGraphs_ * 4, cudaMemcpyDeviceToHost, stream_), "cudaMemcpyAsync(iterations)");
    const size_t n = nodes_;
    const size_t g = static_cast<size_t>(numGraphs_);
    double* const* rank = &hRank_;
    int32_t* const* iters = &hIters_;
    return settle_after(env, stream_, "pagerank_kernel", info.This().As<Napi::Object>(), [n, g, rank, iters](Napi::Env e) -> Napi::Value {
      if ((n > 0 && *rank == nullptr) || (g > 0 && *iters == nullptr)) {
        throw Napi::Error::New(e, "WalkerContext was disposed before pagerank completed");
      }
      Napi::Object out = Napi::Object::New(e);
      Napi::Float64Array r = Napi::Float64Array::New(e, n);
      Napi::Int32Array it = Napi::Int32Array::New(e, g);
      if (n > 0) std::memcpy(r.Data(), *rank, n * 8);
      if (g > 0) std::memcpy(it.Data(), *iters, g * 4);
      out.Set("ranks", r);
      out.Set("iterations", it);
      return out;
    });
  }

  Napi::Value RecordEvent(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Live(env);
    Napi::Object ev = WalkerEvent::ctor->New({});
    check(env, cudaEventRecord(WalkerEvent::Unwrap(ev)->event(), stream_), "cudaEventRecord");
    return ev;
  }

  // Makes the context's stream wait for a WalkerEvent or a foreign cudaEvent_t given as a BigInt.
  void WaitEvent(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Live(env);
    cudaEvent_t ev = nullptr;
    if (info[0].IsBigInt()) {
      bool lossless = false;
      const uint64_t a = info[0].As<Napi::BigInt>().Uint64Value(&lossless);
      if (!lossless || a == 0) throw_arg(env, "event", "a WalkerEvent or a non-zero cudaEvent_t handle", info[0]);
      ev = reinterpret_cast<cudaEvent_t>(static_cast<uintptr_t>(a));
    } else if (info[0].IsObject() && info[0].As<Napi::Object>().InstanceOf(WalkerEvent::ctor->Value())) {
      ev = WalkerEvent::Unwrap(info[0].As<Napi::Object>())->event();
    } else {
      throw_arg(env, "event", "a WalkerEvent or a cudaEvent_t handle (BigInt)", info[0]);
    }
    check(env, cudaStreamWaitEvent(stream_, ev, 0), "cudaStreamWaitEvent");
  }

  Napi::Value Synchronize(const Napi::CallbackInfo& info) {
    Live(info.Env());
    return settle_after(info.Env(), stream_, "synchronize", info.This().As<Napi::Object>(), nullptr);
  }

  Napi::Value StreamHandle(const Napi::CallbackInfo& info) {
    Live(info.Env());
    return Napi::Value(info.Env(), to_bigint(info.Env(), stream_));
  }

  // Benchmark helper (blocks the calling thread): `repeats` walk launches, each bracketed by CUDA
  // events; returns the kernel times in ms. Counts are reset once before the first launch.
  Napi::Value TimeWalk(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Live(env);
    Napi::Object o = Options(info, "walk options");
    WalkArgs a = ReadWalkArgs(env, o);
    const int64_t repeats = get_int(env, info[1], "repeats", 1, 100000);
    const int mode = info[2].IsUndefined() ? 0 : static_cast<int>(get_int(env, info[2], "mode", 0, 3));
    if ((mode == 1 || mode == 2) && a.staging != kvwalk::WalkStaging::kGlobal) throw_arg(env, "mode", "0 or 3 unless staging is \"global\"", info[2]);
    if (mode == 3 && a.staging != kvwalk::WalkStaging::kSharedCounts) throw_arg(env, "mode", "3 only with staging \"shared-counts\"", info[2]);
    UploadNumNodes(env, o);
    if (nodes_ > 0) check(env, cudaMemsetAsync(dCounts_, 0, nodes_ * 4, stream_), "cudaMemsetAsync(counts)");
    WalkArgs b = a;
    b.reset = false;
    std::vector<cudaEvent_t> evs(static_cast<size_t>(repeats) * 2, nullptr);
    cudaError_t err = cudaSuccess;
    for (auto& e : evs) {
      if (err == cudaSuccess) err = cudaEventCreate(&e);
    }
    for (int64_t i = 0; i < repeats && err == cudaSuccess; ++i) {
      err = cudaEventRecord(evs[2 * i], stream_);
      if (err == cudaSuccess) err = kvwalk::launch_walk(b.params, b.staging, mode, stream_);
      if (err == cudaSuccess && b.accumulate) err = kvwalk::launch_accumulate(dScores_, dCounts_, static_cast<int64_t>(nodes_), b.decay, stream_);
      if (err == cudaSuccess) err = cudaEventRecord(evs[2 * i + 1], stream_);
    }
    if (err == cudaSuccess) err = cudaStreamSynchronize(stream_);
    Napi::Float64Array out = Napi::Float64Array::New(env, static_cast<size_t>(repeats));
    for (int64_t i = 0; i < repeats && err == cudaSuccess; ++i) {
      float ms = 0;
      err = cudaEventElapsedTime(&ms, evs[2 * i], evs[2 * i + 1]);
      out.Data()[i] = ms;
    }
    for (auto& e : evs) {
      if (e != nullptr) cudaEventDestroy(e);
    }
    check(env, err, "walk_kernel (timed)");
    return out;
  }

  // The context's own device graph buffers, for native code that writes graphs in place.
  Napi::Value GraphPointersJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Live(env);
    Napi::Object out = Napi::Object::New(env);
    out.Set("neighbors", Napi::Value(env, to_bigint(env, dNeighbors_)));
    out.Set("weights", Napi::Value(env, to_bigint(env, dWeights_)));
    return out;
  }

  void Dispose(const Napi::CallbackInfo&) {
    if (!disposed_) Release();
  }

  int64_t numGraphs_ = 0;
  int32_t capacity_ = 0;
  size_t nodes_ = 0;
  bool disposed_ = false;
  cudaStream_t stream_ = nullptr;
  int32_t* dNeighbors_ = nullptr;
  float* dWeights_ = nullptr;
  int32_t* dNumNodes_ = nullptr;
  uint32_t* dCounts_ = nullptr;
  float* dScores_ = nullptr;
  double* dX_ = nullptr;
  double* dY_ = nullptr;
  double* dRank_ = nullptr;
  int32_t* dIters_ = nullptr;
  uint32_t* hCounts_ = nullptr;
  float* hScores_ = nullptr;
  double* hRank_ = nullptr;
  int32_t* hIters_ = nullptr;
};

// Same-run hardware baselines for the benchmark, on a private stream, timed with CUDA events (ms):
// device-to-device copies of `bytes`, empty kernel launches, and a dependent-load chase (one thread
// following `chaseLoads` links of a random cycle over a `bytes`-sized buffer: the latency each walk
// step pays when its node is not in a nearby cache).
Napi::Value BenchBaselines(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t bytes = get_int(env, info[0], "bytes", 64, 1ll << 34);
  const int64_t repeats = get_int(env, info[1], "repeats", 1, 100000);
  const int32_t chaseLoads = static_cast<int32_t>(get_int(env, info[2], "chaseLoads", 1, 1 << 24));
  const size_t words = static_cast<size_t>(bytes) / 4;
  std::vector<uint32_t> perm(words);
  // Sattolo's algorithm (a single cycle through every word), xorshift64 as the source.
  for (size_t i = 0; i < words; ++i) perm[i] = static_cast<uint32_t>(i);
  uint64_t st = 0x9E3779B97F4A7C15ull;
  for (size_t i = words - 1; i > 0; --i) {
    st ^= st << 13;
    st ^= st >> 7;
    st ^= st << 17;
    const size_t j = static_cast<size_t>(st % i);
    std::swap(perm[i], perm[j]);
  }
  cudaStream_t stream = nullptr;
  void* a = nullptr;
  void* b = nullptr;
  uint32_t* chase = nullptr;
  uint32_t* sink = nullptr;
  std::vector<cudaEvent_t> evs(static_cast<size_t>(repeats) * 6, nullptr);
  cudaError_t err = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  if (err == cudaSuccess) err = cudaMalloc(&a, static_cast<size_t>(bytes));
  if (err == cudaSuccess) err = cudaMalloc(&b, static_cast<size_t>(bytes));
  if (err == cudaSuccess) err = cudaMalloc(reinterpret_cast<void**>(&chase), words * 4);
  if (err == cudaSuccess) err = cudaMalloc(reinterpret_cast<void**>(&sink), 4);
  if (err == cudaSuccess) err = cudaMemcpyAsync(chase, perm.data(), words * 4, cudaMemcpyHostToDevice, stream);
  if (err == cudaSuccess) err = cudaMemsetAsync(a, 1, static_cast<size_t>(bytes), stream);
  for (auto& e : evs) {
    if (err == cudaSuccess) err = cudaEventCreate(&e);
  }
  for (int64_t i = 0; i < repeats && err == cudaSuccess; ++i) {
    cudaEvent_t* e = &evs[6 * i];
    err = cudaEventRecord(e[0], stream);
    if (err == cudaSuccess) err = cudaMemcpyAsync(b, a, static_cast<size_t>(bytes), cudaMemcpyDeviceToDevice, stream);
    if (err == cudaSuccess) err = cudaEventRecord(e[1], stream);
    if (err == cudaSuccess) err = cudaEventRecord(e[2], stream);
    if (err == cudaSuccess) err = kvwalk::launch_empty(stream);
    if (err == cudaSuccess) err = cudaEventRecord(e[3], stream);
    if (err == cudaSuccess) err = cudaEventRecord(e[4], stream);
    if (err == cudaSuccess) err = kvwalk::launch_chase(chase, static_cast<uint32_t>(i % words), chaseLoads, sink, stream);
    if (err == cudaSuccess) err = cudaEventRecord(e[5], stream);
  }
  if (err == cudaSuccess) err = cudaStreamSynchronize(stream);
  Napi::Float64Array copy = Napi::Float64Array::New(env, static_cast<size_t>(repeats));
  Napi::Float64Array empty = Napi::Float64Array::New(env, static_cast<size_t>(repeats));
  Napi::Float64Array chaseMs = Napi::Float64Array::New(env, static_cast<size_t>(repeats));
  Napi::Float64Array* outs[3] = {&copy, &empty, &chaseMs};
  for (int64_t i = 0; i < repeats && err == cudaSuccess; ++i) {
    for (int k = 0; k < 3 && err == cudaSuccess; ++k) {
      float ms = 0;
      err = cudaEventElapsedTime(&ms, evs[6 * i + 2 * k], evs[6 * i + 2 * k + 1]);
      outs[k]->Data()[i] = ms;
    }
  }
  for (auto& e : evs) {
    if (e != nullptr) cudaEventDestroy(e);
  }
  cudaFree(a);
  cudaFree(b);
  cudaFree(chase);
  cudaFree(sink);
  if (stream != nullptr) cudaStreamDestroy(stream);
  check(env, err, "benchBaselines");
  Napi::Object out = Napi::Object::New(env);
  out.Set("memcpyMs", copy);
  out.Set("emptyKernelMs", empty);
  out.Set("chaseMs", chaseMs);
  return out;
}

// Largest capacity of the block-per-graph stagings: { shared, sharedCounts }.
Napi::Value MaxSharedCapacity(const Napi::CallbackInfo& info) {
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("shared", static_cast<double>(kvwalk::max_shared_walk_capacity(kvwalk::WalkStaging::kShared)));
  out.Set("sharedCounts", static_cast<double>(kvwalk::max_shared_walk_capacity(kvwalk::WalkStaging::kSharedCounts)));
  return out;
}

#endif  // KVWALK_WITH_CUDA

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  kvwalk::export_probe(env, exports);
  exports.Set("philox4x32", Napi::Function::New(env, philox));
#ifdef KVWALK_WITH_CUDA
  Napi::Function ev = WalkerEvent::Define(env);
  WalkerEvent::ctor = new Napi::FunctionReference(Napi::Persistent(ev));
  exports.Set("WalkerEvent", ev);
  exports.Set("WalkerContext", WalkerContext::Define(env));
  exports.Set("benchBaselines", Napi::Function::New(env, BenchBaselines));
  exports.Set("maxSharedWalkCapacity", Napi::Function::New(env, MaxSharedCapacity));
#endif
  return exports;
}

NODE_API_MODULE(walker, Init)
