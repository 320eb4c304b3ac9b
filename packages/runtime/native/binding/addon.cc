// Node-API binding of the decode engine (the only node-addon-api code for it; kernel-test bindings
// live in gemm_tests.cc and kernel_tests.cc). Argument errors name the parameter; engine and CUDA
// errors become JS exceptions (code KVWALK_ENGINE, or KVWALK_OUT_OF_MEMORY); nothing aborts.
#include <napi.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kvwalk/args.h"
#include "kvwalk/probe.h"
#include "test_registry.h"
#ifdef KVWALK_WITH_CUDA
#include "engine.h"
#endif

namespace {

using kvwalk::throw_invalid_argument;

Napi::Error engine_error(Napi::Env env, const std::string& msg) {
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, msg.rfind("out of GPU memory", 0) == 0 ? "KVWALK_OUT_OF_MEMORY" : "KVWALK_ENGINE"));
  return e;
}

int int_arg(const Napi::CallbackInfo& info, size_t i, const char* name, int lo, int hi) {
  const Napi::Value v = info[i];
  if (!v.IsNumber()) throw_invalid_argument(info.Env(), name, "an integer", v);
  const double d = v.As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<long long>(d)) || d < lo || d > hi)
    throw_invalid_argument(info.Env(), name, "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]", v, true);
  return static_cast<int>(d);
}

int int_field(Napi::Object o, const char* key, int lo, int hi, int fallback, bool required) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) {
    if (required) throw_invalid_argument(o.Env(), key, "an integer", v);
    return fallback;
  }
  if (!v.IsNumber()) throw_invalid_argument(o.Env(), key, "an integer", v);
  const double d = v.As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<long long>(d)) || d < lo || d > hi)
    throw_invalid_argument(o.Env(), key, "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]", v, true);
  return static_cast<int>(d);
}

template <typename T>
std::vector<T> typed_vector(const Napi::CallbackInfo& info, size_t i, const char* name, napi_typedarray_type type, const char* type_name) {
  const Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) throw_invalid_argument(info.Env(), name, type_name, v);
  auto a = v.As<Napi::TypedArrayOf<T>>();
  return std::vector<T>(a.Data(), a.Data() + a.ElementLength());
}

#ifdef KVWALK_WITH_CUDA
using kvwalk::engine::Engine;

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {InstanceMethod("upload", &EngineWrap::Upload), InstanceMethod("randomize", &EngineWrap::Randomize),
                        InstanceMethod("prefill", &EngineWrap::Prefill), InstanceMethod("decode", &EngineWrap::Decode), InstanceMethod("mixed", &EngineWrap::Mixed),
                        InstanceMethod("reset", &EngineWrap::Reset), InstanceMethod("setLength", &EngineWrap::SetLength),
                        InstanceMethod("lengths", &EngineWrap::Lengths), InstanceMethod("fillCacheRandom", &EngineWrap::FillCacheRandom),
                        InstanceMethod("info", &EngineWrap::Info), InstanceMethod("takeTimes", &EngineWrap::TakeTimes),
                        InstanceMethod("evictStats", &EngineWrap::EvictStats), InstanceMethod("positions", &EngineWrap::Positions),
                        InstanceMethod("timeline", &EngineWrap::Timeline), InstanceMethod("debugEvictionState", &EngineWrap::DebugEvictionState),
                        InstanceMethod("dispose", &EngineWrap::Dispose)});
  }

  EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw_invalid_argument(env, "shape", "an object", info[0]);
    if (!info[1].IsObject()) throw_invalid_argument(env, "options", "an object", info[1]);
    Napi::Object so = info[0].As<Napi::Object>(), oo = info[1].As<Napi::Object>();
    kvwalk::engine::ModelShape s;
    s.layers = int_field(so, "layers", 1, 1024, 0, true);
    s.hidden = int_field(so, "hidden", 1, 1 << 16, 0, true);
    s.heads = int_field(so, "heads", 1, 1024, 0, true);
    s.kv_heads = int_field(so, "kvHeads", 1, 1024, 0, true);
    s.head_dim = int_field(so, "headDim", 1, 1024, 0, true);
    s.intermediate = int_field(so, "intermediate", 1, 1 << 20, 0, true);
    s.vocab = int_field(so, "vocab", 1, 1 << 24, 0, true);
    s.max_positions = int_field(so, "maxPositions", 1, 1 << 24, 0, true);
    s.sliding_window = int_field(so, "slidingWindow", 0, 1 << 24, 0, false);
    s.rope_theta = so.Get("ropeTheta").IsNumber() ? so.Get("ropeTheta").As<Napi::Number>().FloatValue() : 10000.f;
    s.rms_eps = so.Get("rmsEps").IsNumber() ? so.Get("rmsEps").As<Napi::Number>().FloatValue() : 1e-5f;
    s.tied_embeddings = so.Get("tiedEmbeddings").ToBoolean().Value();
    if (s.heads % s.kv_heads != 0) throw_invalid_argument(env, "kvHeads", "a divisor of heads (" + std::to_string(s.heads) + ")", so.Get("kvHeads"), true);
    kvwalk::engine::EngineOptions o;
    o.max_batch = int_field(oo, "maxBatch", 1, 4096, 1, false);
    o.capacity = int_field(oo, "capacity", 2, 1 << 22, 4096, false);
    o.max_prefill_tokens = int_field(oo, "maxPrefillTokens", 1, 1 << 22, 4096, false);
    o.max_logit_rows = int_field(oo, "maxLogitRows", 1, 1 << 20, 1, false);
    o.graph = oo.Get("graph").ToBoolean().Value();
    o.profile = oo.Get("profile").ToBoolean().Value();
    o.cuda_graphs = oo.Get("cudaGraphs").IsUndefined() ? true : oo.Get("cudaGraphs").ToBoolean().Value();
    o.timeline = oo.Get("timeline").ToBoolean().Value();
    o.gemm = static_cast<kvwalk::engine::GemmBackend>(int_field(oo, "gemm", 0, 2, 0, false));
    o.fused_gemv_rows = int_field(oo, "gemvRows", 0, kvwalk::engine::kGemvMaxRows, 1, false);
    o.gemm_split_k = int_field(oo, "gemmSplitK", -1, kvwalk::engine::kSplitKMax, -1, false);
    o.grouped_decode = int_field(oo, "groupedDecode", 0, 2, 2, false);
    o.graph_write = int_field(oo, "graphWrite", 0, 3, 2, false);
    o.graph_heads = int_field(oo, "graphHeads", 0, 1, 1, false);
    o.stream_priorities = oo.Get("streamPriorities").ToBoolean().Value();
    if (oo.Get("evict").IsObject()) {
      Napi::Object ev = oo.Get("evict").As<Napi::Object>();
      auto& x = o.evict;
      x.policy = static_cast<kvwalk::engine::EvictPolicy>(int_field(ev, "policy", 0, 5, 0, true));
      x.budget = int_field(ev, "budget", 0, 1 << 22, 0, true);
      x.sinks = int_field(ev, "sinks", 0, 1 << 20, 4, false);
      x.recent = int_field(ev, "recent", 0, 1 << 20, 50, false);
      x.refresh = int_field(ev, "refresh", 1, 1 << 20, 32, false);
      x.walkers = int_field(ev, "walkers", 1, 1 << 20, 1024, false);
      x.steps = int_field(ev, "steps", 0, 1 << 10, 20, false);
      x.start_window = int_field(ev, "startWindow", 1, 1 << 22, 50, false);
      x.seed = static_cast<uint32_t>(int_field(ev, "seed", 0, 0x7fffffff, 1, false));
      auto num = [&](const char* k, float lo, float hi, float d) {
        Napi::Value v = ev.Get(k);
        if (v.IsUndefined()) return d;
        if (!v.IsNumber() || !(v.As<Napi::Number>().FloatValue() >= lo && v.As<Napi::Number>().FloatValue() <= hi))
          throw_invalid_argument(env, k, "a number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]", v, true);
        return v.As<Napi::Number>().FloatValue();
      };
      x.teleport = num("teleport", 0.f, 1.f, 0.15f);
      x.score_decay = num("scoreDecay", 0.f, 1.f, 0.5f);
      x.h2o_decay = num("h2oDecay", 0.f, 1.f, 1.f);
    }
    // Prompt scoring during prefill: default on when the policy reads scores or graph nodes.
    {
      const auto pol = o.evict.policy;
      const bool scored = pol == kvwalk::engine::EvictPolicy::H2O || pol == kvwalk::engine::EvictPolicy::Tova ||
                          pol == kvwalk::engine::EvictPolicy::Walker || pol == kvwalk::engine::EvictPolicy::PagerankTop4;
      Napi::Value sp = oo.Get("scorePrompt");
      o.score_prompt = sp.IsUndefined() ? scored : sp.ToBoolean().Value();
    }
    std::string err;
    engine_.reset(Engine::create(s, o, &err));
    if (!engine_) throw engine_error(env, err);
  }

 private:
  Engine* live(Napi::Env env) {
    if (!engine_) throw Napi::Error::New(env, "the engine was disposed");
    if (busy_) throw Napi::Error::New(env, "the engine is busy with another call (calls must be queued)");
    return engine_.get();
  }

  Napi::Value Upload(const Napi::CallbackInfo& info) {
    Engine* e = live(info.Env());
    const int kind = int_arg(info, 0, "kind", 0, 8);
    const int layer = int_arg(info, 1, "layer", 0, 1 << 20);
    const int row0 = int_arg(info, 2, "rowOffset", 0, 1 << 30);
    const int rows = int_arg(info, 3, "rows", 0, 1 << 30);
    const int cols = int_arg(info, 4, "cols", 1, 1 << 30);
    Napi::Value d = info[5];
    const size_t n = static_cast<size_t>(rows) * cols;
    std::string err;
    if (d.IsTypedArray() && d.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array && d.As<Napi::Float32Array>().ElementLength() == n) {
      err = e->upload(static_cast<kvwalk::engine::WeightKind>(kind), layer, row0, rows, cols, d.As<Napi::Float32Array>().Data(), nullptr);
    } else if (d.IsTypedArray() && d.As<Napi::TypedArray>().TypedArrayType() == napi_uint16_array && d.As<Napi::Uint16Array>().ElementLength() == n) {
      err = e->upload(static_cast<kvwalk::engine::WeightKind>(kind), layer, row0, rows, cols, nullptr, d.As<Napi::Uint16Array>().Data());
    } else {
      throw_invalid_argument(info.Env(), "data", "a Float32Array or Uint16Array (bf16) of length " + std::to_string(n), d);
    }
    if (!err.empty()) throw engine_error(info.Env(), "upload: " + err);
    return info.Env().Undefined();
  }

  Napi::Value Randomize(const Napi::CallbackInfo& info) {
    Engine* e = live(info.Env());
    const int seed = int_arg(info, 0, "seed", 0, 0x7fffffff);
    if (!info[1].IsNumber()) throw_invalid_argument(info.Env(), "amplitude", "a number", info[1]);
    std::string err = e->randomize(static_cast<uint32_t>(seed), info[1].As<Napi::Number>().FloatValue());
    if (!err.empty()) throw engine_error(info.Env(), err);
    return info.Env().Undefined();
  }

  // Runs fn on a worker thread; resolves with make(env) or rejects with the error string.
  class Job : public Napi::AsyncWorker {
   public:
    Job(Napi::Env env, EngineWrap* owner, std::function<std::string()> fn, std::function<Napi::Value(Napi::Env)> make)
        : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), owner_(owner), fn_(std::move(fn)), make_(std::move(make)) {
      owner_->busy_ = true;
      owner_->Ref();
    }
    Napi::Promise promise() { return deferred_.Promise(); }
    void Execute() override {
      err_ = fn_();
    }
    void OnOK() override {
      owner_->busy_ = false;
      owner_->Unref();
      if (!err_.empty()) {
        deferred_.Reject(engine_error(Env(), err_).Value());
        return;
      }
      try {
        deferred_.Resolve(make_(Env()));
      } catch (const Napi::Error& e) {
        deferred_.Reject(e.Value());
      }
    }
    void OnError(const Napi::Error& e) override {
      owner_->busy_ = false;
      owner_->Unref();
      deferred_.Reject(e.Value());
    }

   private:
    Napi::Promise::Deferred deferred_;
    EngineWrap* owner_;
    std::function<std::string()> fn_;
    std::function<Napi::Value(Napi::Env)> make_;
    std::string err_;
  };

  // prefill(regions: Int32Array, tokens: Int32Array, offsets: Int32Array, allLogits: boolean)
  //   -> Promise<{ last: Float32Array [n, vocab], all?: Float32Array [T, vocab] }>
  Napi::Value Prefill(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Engine* e = live(env);
    auto regions = typed_vector<int32_t>(info, 0, "regions", napi_int32_array, "an Int32Array");
    auto tokens = typed_vector<int32_t>(info, 1, "tokens", napi_int32_array, "an Int32Array");
    auto offsets = typed_vector<int32_t>(info, 2, "offsets", napi_int32_array, "an Int32Array");
    const bool want_all = info[3].ToBoolean().Value();
    const int n = static_cast<int>(regions.size());
    if (n < 1) throw_invalid_argument(env, "regions", "at least one region", info[0]);
    if (offsets.size() != regions.size() + 1 || offsets[0] != 0 || offsets[n] != static_cast<int>(tokens.size()))
      throw_invalid_argument(env, "offsets", "an Int32Array of length regions.length + 1 from 0 to tokens.length", info[2]);
    for (int i = 0; i < n; i++) {
      if (regions[i] < 0 || regions[i] >= e->options().max_batch)
        throw_invalid_argument(env, "regions", "region ids in [0, maxBatch " + std::to_string(e->options().max_batch) + ")", info[0], true);
      if (offsets[i + 1] <= offsets[i]) throw_invalid_argument(env, "offsets", "strictly increasing offsets (no empty prompt)", info[2], true);
    }
    if (want_all && n != 1) throw_invalid_argument(env, "allLogits", "false when prefilling more than one sequence", info[3]);
    const int V = e->shape().vocab;
    auto last = std::make_shared<std::vector<float>>(static_cast<size_t>(n) * V);
    auto all = std::make_shared<std::vector<float>>(want_all ? tokens.size() * V : 0);
    auto job = new Job(
        env, this,
        [e, regions, tokens, offsets, last, all, want_all]() {
          return e->prefill(regions, tokens, offsets, last->data(), want_all ? all->data() : nullptr);
        },
        [last, all, want_all](Napi::Env env) -> Napi::Value {
          Napi::Object o = Napi::Object::New(env);
          auto a = Napi::Float32Array::New(env, last->size());
          std::copy(last->begin(), last->end(), a.Data());
          o.Set("last", a);
          if (want_all) {
            auto b = Napi::Float32Array::New(env, all->size());
            std::copy(all->begin(), all->end(), b.Data());
            o.Set("all", b);
          }
          return o;
        });
    Napi::Promise p = job->promise();
    job->Queue();
    return p;
  }

  // { next, logprob, logits? } of a decode or mixed step.
  static Napi::Value sampled(Napi::Env env, const std::vector<int>& next, const std::vector<float>& logprob, const std::vector<float>& logits,
                             bool want_logits) {
    Napi::Object o = Napi::Object::New(env);
    auto a = Napi::Int32Array::New(env, next.size());
    std::copy(next.begin(), next.end(), a.Data());
    auto b = Napi::Float32Array::New(env, logprob.size());
    std::copy(logprob.begin(), logprob.end(), b.Data());
    o.Set("next", a);
    o.Set("logprob", b);
    if (want_logits) {
      auto c = Napi::Float32Array::New(env, logits.size());
      std::copy(logits.begin(), logits.end(), c.Data());
      o.Set("logits", c);
    }
    return o;
  }

  // decode(tokens: Int32Array [B], temperature: Float32Array [B], topP: Float32Array [B], seed, wantLogits)
  //   -> Promise<{ next: Int32Array, logprob: Float32Array, logits?: Float32Array [B, vocab] }>
  Napi::Value Decode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Engine* e = live(env);
    auto tokens = typed_vector<int32_t>(info, 0, "tokens", napi_int32_array, "an Int32Array");
    auto temp = typed_vector<float>(info, 1, "temperature", napi_float32_array, "a Float32Array");
    auto top_p = typed_vector<float>(info, 2, "topP", napi_float32_array, "a Float32Array");
    const int seed = int_arg(info, 3, "seed", 0, 0x7fffffff);
    const bool want_logits = info[4].ToBoolean().Value();
    const size_t B = tokens.size();
    if (B < 1 || B > static_cast<size_t>(e->options().max_batch))
      throw_invalid_argument(env, "tokens", "1 to maxBatch (" + std::to_string(e->options().max_batch) + ") tokens", info[0], true);
    if (temp.size() != B) throw_invalid_argument(env, "temperature", "a Float32Array of length " + std::to_string(B), info[1]);
    if (top_p.size() != B) throw_invalid_argument(env, "topP", "a Float32Array of length " + std::to_string(B), info[2]);
    auto next = std::make_shared<std::vector<int>>(B);
    auto logprob = std::make_shared<std::vector<float>>(B);
    auto logits = std::make_shared<std::vector<float>>(want_logits ? B * e->shape().vocab : 0);
    auto job = new Job(
        env, this,
        [e, tokens, temp, top_p, seed, next, logprob, logits, want_logits]() {
          return e->decode(tokens, temp.data(), top_p.data(), static_cast<uint32_t>(seed), next->data(), logprob->data(),
                           want_logits ? logits->data() : nullptr);
        },
        [next, logprob, logits, want_logits](Napi::Env env) { return sampled(env, *next, *logprob, *logits, want_logits); });
    Napi::Promise p = job->promise();
    job->Queue();
    return p;
  }

  // mixed(tokens: Int32Array [B], prompt: Int32Array [P], temperature: Float32Array [B + 1], topP: Float32Array [B + 1],
  //       seed, wantLogits) -> Promise<{ next: Int32Array [B + 1], logprob, logits?: Float32Array [B + 1, vocab] }>:
  //   sequences 0..B-1 decode one token and `prompt` is prefilled into region B, in one step.
  Napi::Value Mixed(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Engine* e = live(env);
    auto tokens = typed_vector<int32_t>(info, 0, "tokens", napi_int32_array, "an Int32Array");
    auto prompt = typed_vector<int32_t>(info, 1, "prompt", napi_int32_array, "an Int32Array");
    auto temp = typed_vector<float>(info, 2, "temperature", napi_float32_array, "a Float32Array");
    auto top_p = typed_vector<float>(info, 3, "topP", napi_float32_array, "a Float32Array");
    const int seed = int_arg(info, 4, "seed", 0, 0x7fffffff);
    const bool want_logits = info[5].ToBoolean().Value();
    if (prompt.empty()) throw_invalid_argument(env, "prompt", "a non-empty Int32Array", info[1]);
    // promptOffsets (optional): several prompts, prompt i = prompt[offsets[i]..offsets[i+1]), into regions B..B+n-1
    std::vector<int32_t> offsets{0, static_cast<int32_t>(prompt.size())};
    if (info.Length() > 6 && !info[6].IsUndefined()) {
      offsets = typed_vector<int32_t>(info, 6, "promptOffsets", napi_int32_array, "an Int32Array");
      bool increasing = offsets.size() >= 2 && offsets.front() == 0 && offsets.back() == static_cast<int32_t>(prompt.size());
      for (size_t i = 1; increasing && i < offsets.size(); i++) increasing = offsets[i] > offsets[i - 1];
      if (!increasing)
        throw_invalid_argument(env, "promptOffsets", "strictly increasing offsets from 0 to the prompt length " + std::to_string(prompt.size()), info[6]);
    }
    const size_t n = offsets.size() - 1;
    const size_t B = tokens.size();
    if (B < 1 || B + n > static_cast<size_t>(e->options().max_batch))
      throw_invalid_argument(env, "tokens",
                             "1 to maxBatch - prompts = " + std::to_string(e->options().max_batch - static_cast<int>(n)) + " tokens (maxBatch " +
                                 std::to_string(e->options().max_batch) + ", " + std::to_string(n) + " prompts)",
                             info[0], true);
    if (temp.size() != B + n) throw_invalid_argument(env, "temperature", "a Float32Array of length " + std::to_string(B + n), info[2]);
    if (top_p.size() != B + n) throw_invalid_argument(env, "topP", "a Float32Array of length " + std::to_string(B + n), info[3]);
    auto next = std::make_shared<std::vector<int>>(B + n);
    auto logprob = std::make_shared<std::vector<float>>(B + n);
    auto logits = std::make_shared<std::vector<float>>(want_logits ? (B + n) * e->shape().vocab : 0);
    auto job = new Job(
        env, this,
        [e, tokens, prompt, offsets, temp, top_p, seed, next, logprob, logits, want_logits]() {
          return e->mixed(tokens, prompt, offsets, temp.data(), top_p.data(), static_cast<uint32_t>(seed), next->data(), logprob->data(),
                          want_logits ? logits->data() : nullptr);
        },
        [next, logprob, logits, want_logits](Napi::Env env) { return sampled(env, *next, *logprob, *logits, want_logits); });
    Napi::Promise p = job->promise();
    job->Queue();
    return p;
  }

  Napi::Value Reset(const Napi::CallbackInfo& info) {
    Engine* e = live(info.Env());
    e->reset(int_arg(info, 0, "region", 0, e->options().max_batch - 1));
    return info.Env().Undefined();
  }

  Napi::Value SetLength(const Napi::CallbackInfo& info) {
    Engine* e = live(info.Env());
    const int r = int_arg(info, 0, "region", 0, e->options().max_batch - 1);
    const int len = int_arg(info, 1, "length", 0, e->options().capacity);
    std::string err = e->set_length(r, len);
    if (!err.empty()) throw engine_error(info.Env(), err);
    return info.Env().Undefined();
  }

  Napi::Value Lengths(const Napi::CallbackInfo& info) {
    Engine* e = live(info.Env());
    auto a = Napi::Int32Array::New(info.Env(), e->options().max_batch);
    for (int b = 0; b < e->options().max_batch; b++) a[b] = e->length(b);
    return a;
  }

  Napi::Value FillCacheRandom(const Napi::CallbackInfo& info) {
    Engine* e = live(info.Env());
    std::string err = e->fill_cache_random(static_cast<uint32_t>(int_arg(info, 0, "seed", 0, 0x7fffffff)));
    if (!err.empty()) throw engine_error(info.Env(), err);
    return info.Env().Undefined();
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Engine* e = live(info.Env());
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("gemm", e->gemm_name());
    o.Set("gemvRows", e->gemv_rows());
    {
      // K slices of the O and down projections in a 32-row decode step (1: not split).
      Napi::Object sk = Napi::Object::New(env);
      sk.Set("o", e->split_k_for(32, e->shape().heads * e->shape().head_dim));
      sk.Set("down", e->split_k_for(32, e->shape().intermediate));
      o.Set("gemmSplitK", sk);
    }
    o.Set("weightBytes", static_cast<double>(e->weight_bytes()));
    o.Set("kvBytes", static_cast<double>(e->kv_bytes()));
    o.Set("graphBytes", static_cast<double>(e->graph_bytes()));
    o.Set("activationBytes", static_cast<double>(e->activation_bytes()));
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    o.Set("deviceFreeBytes", static_cast<double>(free_b));
    o.Set("deviceTotalBytes", static_cast<double>(total_b));
    o.Set("steps", e->steps());
    return o;
  }

  Napi::Value TakeTimes(const Napi::CallbackInfo& info) {
    Engine* e = live(info.Env());
    auto t = e->take_times();
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("gemmMs", t.gemm_ms);
    o.Set("attentionMs", t.attention_ms);
    o.Set("otherMs", t.other_ms);
    o.Set("steps", static_cast<double>(t.steps));
    return o;
  }

  Napi::Value EvictStats(const Napi::CallbackInfo& info) {
    Engine* e = live(info.Env());
    auto t = e->evict_stats();
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("compactions", static_cast<double>(t.compactions));
    o.Set("evictedSlots", static_cast<double>(t.evicted_slots));
    o.Set("walkerLaunches", static_cast<double>(t.walker_launches));
    o.Set("walkerMs", t.walker_ms);
    o.Set("compactionMs", t.compaction_ms);
    return o;
  }

  // timeline() -> { kind: Int32Array (0 step, 1 walker, 2 compaction), start: Float64Array, end: Float64Array } in ms
  Napi::Value Timeline(const Napi::CallbackInfo& info) {
    Engine* e = live(info.Env());
    auto t = e->take_timeline();
    Napi::Env env = info.Env();
    auto kind = Napi::Int32Array::New(env, t.size());
    auto start = Napi::Float64Array::New(env, t.size());
    auto end = Napi::Float64Array::New(env, t.size());
    for (size_t i = 0; i < t.size(); i++) {
      kind[i] = t[i].kind;
      start[i] = t[i].start_ms;
      end[i] = t[i].end_ms;
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("kind", kind);
    o.Set("start", start);
    o.Set("end", end);
    return o;
  }

  // debugEvictionState(layer, region) -> { graph: Int32Array [G * C * 8] | null, scores: Float32Array [KVH * C] | null }
  // (G = the engine's graph heads: KV heads by default, query heads with graphHeads 0):
  // a copy of one (layer, region) slice of the graph cache (32-byte AoS nodes as 4 neighbour ints and
  // the 4 float weights' bit patterns) and of the eviction scores, after every queued kernel on the
  // device has finished (synchronizes the device). Tests only.
  Napi::Value DebugEvictionState(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Engine* e = live(env);
    const auto& s = e->shape();
    const int layer = int_arg(info, 0, "layer", 0, s.layers - 1);
    const int region = int_arg(info, 1, "region", 0, e->options().max_batch - 1);
    const size_t L = layer, R = e->options().max_batch, r = region, C = e->options().capacity;
    // the lazy graph write's pending rows get their nodes first
    const std::string flushed = e->flush_pending_graph();
    if (!flushed.empty()) throw engine_error(env, flushed);
    kvwalk::check_cuda(env, cudaDeviceSynchronize(), "debugEvictionState (synchronize)");
    Napi::Object o = Napi::Object::New(env);
    if (e->graph_device()) {
      const size_t n = static_cast<size_t>(e->graph_heads()) * C * 8;
      auto g = Napi::Int32Array::New(env, n);
      const char* src = static_cast<const char*>(e->graph_device()) + (L * R + r) * n * sizeof(int32_t);
      kvwalk::check_cuda(env, cudaMemcpy(g.Data(), src, n * sizeof(int32_t), cudaMemcpyDeviceToHost), "debugEvictionState (graph)");
      o.Set("graph", g);
    } else {
      o.Set("graph", env.Null());
    }
    if (e->scores_device()) {
      const size_t n = static_cast<size_t>(s.kv_heads) * C;
      auto a = Napi::Float32Array::New(env, n);
      kvwalk::check_cuda(env, cudaMemcpy(a.Data(), e->scores_device() + (L * R + r) * n, n * sizeof(float), cudaMemcpyDeviceToHost),
                         "debugEvictionState (scores)");
      o.Set("scores", a);
    } else {
      o.Set("scores", env.Null());
    }
    return o;
  }

  Napi::Value Positions(const Napi::CallbackInfo& info) {
    Engine* e = live(info.Env());
    auto a = Napi::Int32Array::New(info.Env(), e->options().max_batch);
    for (int b = 0; b < e->options().max_batch; b++) a[b] = e->position(b);
    return a;
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    if (busy_) throw Napi::Error::New(info.Env(), "dispose while a call is running");
    engine_.reset();
    return info.Env().Undefined();
  }

  std::unique_ptr<Engine> engine_;
  bool busy_ = false;
};
#endif

// memInfo() -> { free, total } in bytes (device-wide; for leak checks).
Napi::Value MemInfo(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
#ifdef KVWALK_WITH_CUDA
  size_t free_b = 0, total_b = 0;
  kvwalk::check_cuda(info.Env(), cudaMemGetInfo(&free_b, &total_b), "cudaMemGetInfo");
  o.Set("free", static_cast<double>(free_b));
  o.Set("total", static_cast<double>(total_b));
#else
  throw Napi::Error::New(info.Env(), "not compiled with CUDA");
#endif
  return o;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  kvwalk::export_probe(env, exports);
  exports.Set("memInfo", Napi::Function::New(env, MemInfo));
#ifdef KVWALK_WITH_CUDA
  exports.Set("Engine", EngineWrap::Define(env));
#endif
  register_gemm_tests(env, exports);
  register_kernel_tests(env, exports);
  register_evict_tests(env, exports);
  register_prefill_score_tests(env, exports);
  return exports;
}

NODE_API_MODULE(engine, Init)
