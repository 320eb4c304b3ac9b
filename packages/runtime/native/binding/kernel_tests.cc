// Kernel-test bindings of the engine's element-wise, attention, sampling and fill launchers
// (native/src/kernels.cu). Each function takes one argument object of plain typed arrays and numbers,
// copies inputs to fresh device buffers, launches, synchronizes, copies back and frees (RAII, also on
// every error path), and returns typed arrays. Bad arguments throw TypeError/RangeError naming the
// parameter (code KVWALK_INVALID_ARGUMENT); CUDA failures throw an Error with code KVWALK_CUDA naming the
// launcher. Used by src/engine/gpu/kernel-cases.ts and src/engine/bench/kernels.ts.
#include <napi.h>
#include <kvwalk/args.h>
#include <kvwalk/probe.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "test_registry.h"
#define KVWALK_TESTS_NAME "kernel tests"
#include "test_util.h"

#ifdef KVWALK_WITH_CUDA
#include <cuda_runtime.h>

#include "engine_launchers.h"
#endif

namespace {

using namespace kvwalk_test;


constexpr long long kMaxElems = 1LL << 31;

// { tokens: Int32Array [T], table: Uint16Array [vocab*hidden], vocab, hidden } -> { x: Float32Array [T*hidden], errorFlag }
Napi::Value kernel_embed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KVWALK_REQUIRE_CUDA(env);
#ifdef KVWALK_WITH_CUDA
  Napi::Object a = args_of(info);
  const int vocab = static_cast<int>(int_arg(a, "vocab", 1, 1 << 24)), hidden = static_cast<int>(int_arg(a, "hidden", 1, 1 << 20));
  Napi::Value tv = a.Get("tokens");
  if (!tv.IsTypedArray() || tv.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) bad_arg(env, "tokens", "an Int32Array", tv);
  const size_t T = tv.As<Napi::TypedArray>().ElementLength();
  const auto tokens = array_arg<int32_t>(a, "tokens", T);
  const auto table = array_arg<uint16_t>(a, "table", static_cast<size_t>(vocab) * hidden);
  Dev<int32_t> d_tokens(env, tokens, "tokens");
  Dev<uint16_t> d_table(env, table, "table");
  Dev<float> d_x(env, T * hidden, "x");
  Dev<int32_t> d_flag(env, std::vector<int32_t>{0}, "errorFlag");
  run(env, kvwalk::engine::launch_embed(d_tokens.get(), static_cast<int>(T), d_table.get(), vocab, hidden, d_x.get(), d_flag.get(), nullptr),
      "launch_embed");
  Napi::Object out = Napi::Object::New(env);
  out.Set("x", to_js(env, d_x.download(env, "x")));
  out.Set("errorFlag", Napi::Number::New(env, d_flag.download(env, "errorFlag")[0]));
  return out;
#endif
}

// { x: Float32Array [T*hidden], w: Uint16Array [hidden], T, hidden, eps } -> Uint16Array [T*hidden]
Napi::Value kernel_rmsnorm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KVWALK_REQUIRE_CUDA(env);
#ifdef KVWALK_WITH_CUDA
  Napi::Object a = args_of(info);
  const int T = static_cast<int>(int_arg(a, "T", 0, 1 << 20)), hidden = static_cast<int>(int_arg(a, "hidden", 1, 1 << 20));
  const float eps = num_arg(a, "eps");
  Dev<float> d_x(env, array_arg<float>(a, "x", static_cast<size_t>(T) * hidden), "x");
  Dev<uint16_t> d_w(env, array_arg<uint16_t>(a, "w", hidden), "w");
  Dev<uint16_t> d_out(env, static_cast<size_t>(T) * hidden, "out");
  run(env, kvwalk::engine::launch_rmsnorm(d_x.get(), d_w.get(), T, hidden, eps, d_out.get(), nullptr), "launch_rmsnorm");
  return to_js(env, d_out.download(env, "out"));
#endif
}

// { x: Float32Array [T*hidden], parts: Float32Array [numParts*T*hidden], numParts, w?: Uint16Array [hidden], T, hidden, eps }
//   -> { x: Float32Array (x + sum of parts), out?: Uint16Array (its RMSNorm, when w is given) }
Napi::Value kernel_residual_rmsnorm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KVWALK_REQUIRE_CUDA(env);
#ifdef KVWALK_WITH_CUDA
  Napi::Object a = args_of(info);
  const int T = static_cast<int>(int_arg(a, "T", 0, 1 << 20)), hidden = static_cast<int>(int_arg(a, "hidden", 1, 1 << 20));
  const int parts_n = static_cast<int>(int_arg(a, "numParts", 1, 64));
  const float eps = num_arg(a, "eps");
  const size_t n = static_cast<size_t>(T) * hidden;
  Dev<float> d_x(env, array_arg<float>(a, "x", n), "x");
  Dev<float> d_parts(env, array_arg<float>(a, "parts", n * parts_n), "parts");
  const bool norm = !absent(a, "w");
  Dev<uint16_t> d_w(env, norm ? array_arg<uint16_t>(a, "w", hidden) : std::vector<uint16_t>{}, "w");
  Dev<uint16_t> d_out(env, norm ? n : 0, "out");
  run(env, kvwalk::engine::launch_residual_rmsnorm(d_x.get(), d_parts.get(), parts_n, d_x.get(), norm ? d_w.get() : nullptr, T, hidden, eps, d_out.get(), nullptr),
      "launch_residual_rmsnorm");
  Napi::Object r = Napi::Object::New(env);
  r.Set("x", to_js(env, d_x.download(env, "x")));
  if (norm) r.Set("out", to_js(env, d_out.download(env, "out")));
  return r;
#endif
}

// { qkv: Float32Array [T*(H+2KVH)*D], T, H, KVH, D, invFreq: Float32Array [D/2], positions, region, slot: Int32Array [T],
//   regions, capacity, kCache, vCache: Uint16Array [regions*KVH*capacity*D] (initial contents) }
//   -> { q: Float32Array [T*H*D], kCache, vCache: Uint16Array }
Napi::Value kernel_rope_append(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KVWALK_REQUIRE_CUDA(env);
#ifdef KVWALK_WITH_CUDA
  Napi::Object a = args_of(info);
  const int T = static_cast<int>(int_arg(a, "T", 0, 1 << 20)), H = static_cast<int>(int_arg(a, "H", 1, 1024));
  const int KVH = static_cast<int>(int_arg(a, "KVH", 1, 1024)), D = static_cast<int>(int_arg(a, "D", 2, 4096));
  if (D % 2 != 0) bad_arg(env, "D", "an even integer", a.Get("D"), true);
  const int regions = static_cast<int>(int_arg(a, "regions", 1, 1 << 20)), capacity = static_cast<int>(int_arg(a, "capacity", 1, 1 << 24));
  const size_t cache_n = static_cast<size_t>(regions) * KVH * capacity * D;
  const auto region = array_arg<int32_t>(a, "region", T);
  const auto slot = array_arg<int32_t>(a, "slot", T);
  for (int t = 0; t < T; ++t) {
    if (region[t] < 0 || region[t] >= regions) bad_arg(env, "region[" + std::to_string(t) + "]", "an integer in [0, regions)", Napi::Number::New(env, region[t]), true);
    if (slot[t] < 0 || slot[t] >= capacity) bad_arg(env, "slot[" + std::to_string(t) + "]", "an integer in [0, capacity)", Napi::Number::New(env, slot[t]), true);
  }
  Dev<float> d_qkv(env, array_arg<float>(a, "qkv", static_cast<size_t>(T) * (H + 2 * KVH) * D), "qkv");
  Dev<float> d_inv(env, array_arg<float>(a, "invFreq", D / 2), "invFreq");
  Dev<int32_t> d_pos(env, array_arg<int32_t>(a, "positions", T), "positions");
  Dev<int32_t> d_region(env, region, "region");
  Dev<int32_t> d_slot(env, slot, "slot");
  Dev<uint16_t> d_k(env, array_arg<uint16_t>(a, "kCache", cache_n), "kCache");
  Dev<uint16_t> d_v(env, array_arg<uint16_t>(a, "vCache", cache_n), "vCache");
  Dev<float> d_q(env, static_cast<size_t>(T) * H * D, "q");
  run(env,
      kvwalk::engine::launch_rope_append(d_qkv.get(), T, H, KVH, D, d_inv.get(), d_pos.get(), d_region.get(), d_slot.get(), capacity, d_q.get(),
                                         d_k.get(), d_v.get(), nullptr),
      "launch_rope_append");
  Napi::Object out = Napi::Object::New(env);
  out.Set("q", to_js(env, d_q.download(env, "q")));
  out.Set("kCache", to_js(env, d_k.download(env, "kCache")));
  out.Set("vCache", to_js(env, d_v.download(env, "vCache")));
  return out;
#endif
}

// { q: Float32Array [T*H*D], k, v: Uint16Array [KVH*capacity*D], T, H, KVH, D, capacity, window, scale } -> Uint16Array [T*H*D]
Napi::Value kernel_prefill_attention(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KVWALK_REQUIRE_CUDA(env);
#ifdef KVWALK_WITH_CUDA
  Napi::Object a = args_of(info);
  const int T = static_cast<int>(int_arg(a, "T", 0, 1 << 20)), H = static_cast<int>(int_arg(a, "H", 1, 1024));
  const int KVH = static_cast<int>(int_arg(a, "KVH", 1, 1024)), D = static_cast<int>(int_arg(a, "D", 64, 128));
  if (D != 64 && D != 128) bad_arg(env, "D", "64 or 128", a.Get("D"), true);
  if (H % KVH != 0) bad_arg(env, "KVH", "a divisor of H = " + std::to_string(H), a.Get("KVH"), true);
  const int capacity = static_cast<int>(int_arg(a, "capacity", std::max(T, 1), 1 << 24));
  const int window = static_cast<int>(int_arg(a, "window", -1, 1 << 30));
  const float scale = num_arg(a, "scale");
  const size_t kv_n = static_cast<size_t>(KVH) * capacity * D;
  Dev<float> d_q(env, array_arg<float>(a, "q", static_cast<size_t>(T) * H * D), "q");
  Dev<uint16_t> d_k(env, array_arg<uint16_t>(a, "k", kv_n), "k");
  Dev<uint16_t> d_v(env, array_arg<uint16_t>(a, "v", kv_n), "v");
  Dev<uint16_t> d_out(env, static_cast<size_t>(T) * H * D, "out");
  run(env, kvwalk::engine::launch_prefill_attention(d_q.get(), d_k.get(), d_v.get(), T, H, KVH, D, capacity, window, scale, d_out.get(), nullptr),
      "launch_prefill_attention");
  return to_js(env, d_out.download(env, "out"));
#endif
}

// { gu: Float32Array [T*2I], T, I } -> Uint16Array [T*I]
Napi::Value kernel_swiglu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KVWALK_REQUIRE_CUDA(env);
#ifdef KVWALK_WITH_CUDA
  Napi::Object a = args_of(info);
  const int T = static_cast<int>(int_arg(a, "T", 0, 1 << 20)), I = static_cast<int>(int_arg(a, "I", 1, 1 << 20));
  Dev<float> d_gu(env, array_arg<float>(a, "gu", static_cast<size_t>(T) * 2 * I), "gu");
  Dev<uint16_t> d_act(env, static_cast<size_t>(T) * I, "act");
  run(env, kvwalk::engine::launch_swiglu(d_gu.get(), T, I, d_act.get(), nullptr), "launch_swiglu");
  return to_js(env, d_act.download(env, "act"));
#endif
}

// { values: Float32Array } -> Uint16Array of the same length
Napi::Value kernel_f32_to_bf16(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KVWALK_REQUIRE_CUDA(env);
#ifdef KVWALK_WITH_CUDA
  Napi::Object a = args_of(info);
  Napi::Value vv = a.Get("values");
  if (!vv.IsTypedArray() || vv.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) bad_arg(env, "values", "a Float32Array", vv);
  const size_t n = vv.As<Napi::TypedArray>().ElementLength();
  Dev<float> d_in(env, array_arg<float>(a, "values", n), "values");
  Dev<uint16_t> d_out(env, n, "out");
  run(env, kvwalk::engine::launch_f32_to_bf16(d_in.get(), n, d_out.get(), nullptr), "launch_f32_to_bf16");
  return to_js(env, d_out.download(env, "out"));
#endif
}

// { logits: Float32Array [B*V], B, V, temperature, topP: Float32Array [B], seed, step } -> { tokens: Int32Array [B], logprob: Float32Array [B] }
Napi::Value kernel_sample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KVWALK_REQUIRE_CUDA(env);
#ifdef KVWALK_WITH_CUDA
  Napi::Object a = args_of(info);
  const int B = static_cast<int>(int_arg(a, "B", 0, 1 << 16)), V = static_cast<int>(int_arg(a, "V", 1, 1 << 24));
  const uint32_t seed = static_cast<uint32_t>(int_arg(a, "seed", 0, 0xffffffffLL)), step = static_cast<uint32_t>(int_arg(a, "step", 0, 0xffffffffLL));
  Dev<float> d_logits(env, array_arg<float>(a, "logits", static_cast<size_t>(B) * V), "logits");
  Dev<float> d_temp(env, array_arg<float>(a, "temperature", B), "temperature");
  Dev<float> d_topp(env, array_arg<float>(a, "topP", B), "topP");
  Dev<int32_t> d_tokens(env, B, "tokens");
  Dev<float> d_lp(env, B, "logprob");
  run(env, kvwalk::engine::launch_sample(d_logits.get(), B, V, d_temp.get(), d_topp.get(), seed, step, d_tokens.get(), d_lp.get(), nullptr),
      "launch_sample");
  Napi::Object out = Napi::Object::New(env);
  out.Set("tokens", to_js(env, d_tokens.download(env, "tokens")));
  out.Set("logprob", to_js(env, d_lp.download(env, "logprob")));
  return out;
#endif
}

// { n, seed, amplitude } -> Uint16Array [n]
Napi::Value kernel_fill_uniform_bf16(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KVWALK_REQUIRE_CUDA(env);
#ifdef KVWALK_WITH_CUDA
  Napi::Object a = args_of(info);
  const size_t n = static_cast<size_t>(int_arg(a, "n", 0, kMaxElems));
  const uint32_t seed = static_cast<uint32_t>(int_arg(a, "seed", 0, 0xffffffffLL));
  const float amplitude = num_arg(a, "amplitude");
  Dev<uint16_t> d_out(env, n, "out");
  run(env, kvwalk::engine::launch_fill_uniform_bf16(d_out.get(), n, seed, amplitude, nullptr), "launch_fill_uniform_bf16");
  return to_js(env, d_out.download(env, "out"));
#endif
}

// { n, value } -> Uint16Array [n]
Napi::Value kernel_fill_const_bf16(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KVWALK_REQUIRE_CUDA(env);
#ifdef KVWALK_WITH_CUDA
  Napi::Object a = args_of(info);
  const size_t n = static_cast<size_t>(int_arg(a, "n", 0, kMaxElems));
  Napi::Value vv = a.Get("value");
  if (!vv.IsNumber()) bad_arg(env, "value", "a number", vv);
  const float value = static_cast<float>(vv.As<Napi::Number>().DoubleValue());
  Dev<uint16_t> d_out(env, n, "out");
  run(env, kvwalk::engine::launch_fill_const_bf16(d_out.get(), n, value, nullptr), "launch_fill_const_bf16");
  return to_js(env, d_out.download(env, "out"));
#endif
}

// prefillAttentionBench(T, H, KVH, D, window, iters) -> { medianUs, minUs, iters }: random bf16 K/V
// (uniform +-1) and q (uniform +-1, f32 converted from bf16 fill), capacity = T, scale 1/sqrt(D);
// 2 warm-up launches, then `iters` launches each timed with CUDA events.
Napi::Value prefill_attention_bench(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KVWALK_REQUIRE_CUDA(env);
#ifdef KVWALK_WITH_CUDA
  auto int_at = [&](size_t i, const char* name, long long lo, long long hi) -> int {
    Napi::Value v = info.Length() > i ? info[i] : env.Undefined();
    const std::string expected = "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
    if (!v.IsNumber()) bad_arg(env, name, expected, v);
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!(d == std::floor(d)) || d < static_cast<double>(lo) || d > static_cast<double>(hi)) bad_arg(env, name, expected, v, true);
    return static_cast<int>(d);
  };
  const int T = int_at(0, "T", 1, 1 << 20), H = int_at(1, "H", 1, 1024), KVH = int_at(2, "KVH", 1, 1024), D = int_at(3, "D", 64, 128);
  const int window = int_at(4, "window", -1, 1 << 30), iters = int_at(5, "iters", 1, 10000);
  if (D != 64 && D != 128) bad_arg(env, "D", "64 or 128", info[3], true);
  if (H % KVH != 0) bad_arg(env, "KVH", "a divisor of H = " + std::to_string(H), info[2], true);
  const size_t nq = static_cast<size_t>(T) * H * D, nkv = static_cast<size_t>(T) * KVH * D;
  Dev<float> d_q(env, nq, "q");
  Dev<uint16_t> d_qb(env, nq, "q (bf16 staging)");
  Dev<uint16_t> d_k(env, nkv, "k");
  Dev<uint16_t> d_v(env, nkv, "v");
  Dev<uint16_t> d_out(env, nq, "out");
  fill_prefill_bench_inputs(env, d_q, d_qb, d_k, d_v);
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const std::vector<double> us = time_launches_us(env, iters, "launch_prefill_attention", [&]() {
    return kvwalk::engine::launch_prefill_attention(d_q.get(), d_k.get(), d_v.get(), T, H, KVH, D, T, window, scale, d_out.get(), nullptr);
  });
  Napi::Object out = Napi::Object::New(env);
  out.Set("medianUs", median_of(us));
  out.Set("minUs", *std::min_element(us.begin(), us.end()));
  out.Set("iters", iters);
  return out;
#endif
}

#ifdef KVWALK_WITH_CUDA
// The GemvParams of a kernelGemv / gemvBench argument object (pointers filled in by the caller).
kvwalk::engine::GemvParams gemv_params(const Napi::Object& a) {
  using kvwalk::engine::GemvInput;
  using kvwalk::engine::GemvOutput;
  kvwalk::engine::GemvParams p;
  p.input = static_cast<GemvInput>(int_arg(a, "input", 0, 2));
  p.output = static_cast<GemvOutput>(int_arg(a, "output", 0, 1));
  p.M = static_cast<int>(int_arg(a, "M", 1, kvwalk::engine::kGemvMaxRows));
  p.N = static_cast<int>(int_arg(a, "N", 1, 1 << 24));
  p.K = static_cast<int>(int_arg(a, "K", 8, 1 << 20));
  if (p.K % 8 != 0) bad_arg(a.Env(), "K", "a multiple of 8", a.Get("K"), true);
  if (p.output == GemvOutput::Swiglu && p.N % 2 != 0) bad_arg(a.Env(), "N", "an even number (gate rows, then up rows)", a.Get("N"), true);
  p.eps = p.input == GemvInput::RmsNorm ? num_arg(a, "eps") : 0.f;
  p.lda = p.ldw = p.K;
  p.ldc = p.N;
  p.ld_act = p.N / 2;
  return p;
}
#endif

// { input: 0 bf16 | 1 f32 | 2 rmsnorm, output: 0 f32 | 1 swiglu, M (1..8), N, K (multiple of 8),
//   a: Uint16Array [M*K] (input 0) or Float32Array [M*K], normW?: Uint16Array [K] (input 2), eps (input 2),
//   w: Uint16Array [N*K], c0?: Float32Array [M*N] (output 0: accumulate into it) }
//   -> { c: Float32Array [M*N] } (output 0) or { act: Uint16Array [M*N/2] } (output 1)
Napi::Value kernel_gemv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KVWALK_REQUIRE_CUDA(env);
#ifdef KVWALK_WITH_CUDA
  using kvwalk::engine::GemvInput;
  using kvwalk::engine::GemvOutput;
  Napi::Object a = args_of(info);
  kvwalk::engine::GemvParams p = gemv_params(a);
  const size_t MK = static_cast<size_t>(p.M) * p.K, MN = static_cast<size_t>(p.M) * p.N;
  Dev<uint16_t> d_ab(env, p.input == GemvInput::Bf16 ? array_arg<uint16_t>(a, "a", MK) : std::vector<uint16_t>(), "a");
  Dev<float> d_af(env, p.input == GemvInput::Bf16 ? std::vector<float>() : array_arg<float>(a, "a", MK), "a");
  Dev<uint16_t> d_norm(env, p.input == GemvInput::RmsNorm ? array_arg<uint16_t>(a, "normW", p.K) : std::vector<uint16_t>(), "normW");
  Dev<uint16_t> d_w(env, array_arg<uint16_t>(a, "w", static_cast<size_t>(p.N) * p.K), "w");
  const bool acc = p.output == GemvOutput::F32 && !absent(a, "c0");
  Dev<float> d_c(env, p.output == GemvOutput::F32 ? (acc ? array_arg<float>(a, "c0", MN) : std::vector<float>(MN, 0.f)) : std::vector<float>(), "c");
  Dev<uint16_t> d_act(env, p.output == GemvOutput::Swiglu ? MN / 2 : 0, "act");
  p.a = p.input == GemvInput::Bf16 ? static_cast<const void*>(d_ab.get()) : static_cast<const void*>(d_af.get());
  p.norm_w = d_norm.get();
  p.w = d_w.get();
  p.c = d_c.get();
  p.accumulate = acc;
  p.act = d_act.get();
  const std::string why = kvwalk::engine::gemv_unsupported(p);
  if (!why.empty()) throw Napi::RangeError::New(env, "kernelGemv: " + why);
  run(env, kvwalk::engine::launch_gemv(p, nullptr), "launch_gemv");
  Napi::Object out = Napi::Object::New(env);
  if (p.output == GemvOutput::F32) out.Set("c", to_js(env, d_c.download(env, "c")));
  else out.Set("act", to_js(env, d_act.download(env, "act")));
  return out;
#endif
}

// gemvBench({ input, output, M, N, K, eps?, iters, pdl? }) -> { medianUs, minUs, wCopies, launchesPerSample }
// (pdl: each launch a programmatic dependent of the previous one, as in the engine's chains):
// random bf16 W replicated into rotating copies (>= 256 MiB in all, so launches do not run from L2),
// random activations; each sample times back-to-back launches (>= ~200 us) with CUDA events.
Napi::Value gemv_bench(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KVWALK_REQUIRE_CUDA(env);
#ifdef KVWALK_WITH_CUDA
  using kvwalk::engine::GemvInput;
  Napi::Object a = args_of(info);
  kvwalk::engine::GemvParams p = gemv_params(a);
  if (p.input != GemvInput::RmsNorm) p.eps = 1e-5f;
  const int iters = static_cast<int>(int_arg(a, "iters", 1, 100000));
  p.pdl = a.Get("pdl").ToBoolean().Value();
  const size_t MK = static_cast<size_t>(p.M) * p.K, MN = static_cast<size_t>(p.M) * p.N, NK = static_cast<size_t>(p.N) * p.K;
  const size_t copies = std::max<size_t>(1, std::min<size_t>(64, ((256ull << 20) + NK * 2 - 1) / (NK * 2)));
  Dev<uint16_t> d_w(env, NK * copies, "w copies");
  Dev<uint16_t> d_ab(env, MK, "a (bf16)");
  Dev<float> d_af(env, MK, "a (f32)");
  Dev<uint16_t> d_norm(env, p.K, "normW");
  Dev<float> d_c(env, MN, "c");
  Dev<uint16_t> d_act(env, MN, "act");
  check(env, kvwalk::engine::launch_fill_uniform_bf16(d_w.get(), NK * copies, 11u, 0.05f, nullptr), "fill w");
  check(env, kvwalk::engine::launch_fill_uniform_bf16(d_ab.get(), MK, 12u, 1.0f, nullptr), "fill a");
  check(env, kvwalk::engine::launch_fill_const_bf16(d_norm.get(), p.K, 1.0f, nullptr), "fill normW");
  check(env, cudaMemset(d_af.get(), 0, MK * sizeof(float)), "cudaMemset a");
  check(env, cudaMemset(d_c.get(), 0, MN * sizeof(float)), "cudaMemset c");
  p.a = p.input == GemvInput::Bf16 ? static_cast<const void*>(d_ab.get()) : static_cast<const void*>(d_af.get());
  p.norm_w = d_norm.get();
  p.c = d_c.get();
  p.act = d_act.get();
  p.w = d_w.get();
  const std::string why = kvwalk::engine::gemv_unsupported(p);
  if (!why.empty()) throw Napi::RangeError::New(env, "gemvBench: " + why);
  size_t next = 0;
  auto launch = [&]() {
    p.w = d_w.get() + (next % copies) * NK;
    next++;
    return kvwalk::engine::launch_gemv(p, nullptr);
  };
  EventPair ev(env);
  for (int i = 0; i < 3; i++) check(env, launch(), "launch_gemv (warm-up)");
  check(env, cudaEventRecord(ev.start, nullptr), "cudaEventRecord");
  for (int i = 0; i < 3; i++) check(env, launch(), "launch_gemv (warm-up)");
  check(env, cudaEventRecord(ev.stop, nullptr), "cudaEventRecord");
  const double per = std::max(0.1, ev.elapsed_us(env, "launch_gemv (warm-up)") / 3);
  const int reps = static_cast<int>(std::min(1000.0, std::max(1.0, std::ceil(200.0 / per))));
  std::vector<double> us;
  for (int it = 0; it < iters; it++) {
    check(env, cudaEventRecord(ev.start, nullptr), "cudaEventRecord");
    for (int r = 0; r < reps; r++) check(env, launch(), "launch_gemv");
    check(env, cudaEventRecord(ev.stop, nullptr), "cudaEventRecord");
    us.push_back(ev.elapsed_us(env, "launch_gemv") / reps);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("medianUs", median_of(us));
  out.Set("minUs", *std::min_element(us.begin(), us.end()));
  out.Set("wCopies", static_cast<double>(copies));
  out.Set("launchesPerSample", reps);
  return out;
#endif
}

}  // namespace

void register_kernel_tests(Napi::Env env, Napi::Object exports) {
  exports.Set("kernelEmbed", Napi::Function::New(env, kernel_embed, "kernelEmbed"));
  exports.Set("kernelRmsnorm", Napi::Function::New(env, kernel_rmsnorm, "kernelRmsnorm"));
  exports.Set("kernelResidualRmsnorm", Napi::Function::New(env, kernel_residual_rmsnorm, "kernelResidualRmsnorm"));
  exports.Set("kernelRopeAppend", Napi::Function::New(env, kernel_rope_append, "kernelRopeAppend"));
  exports.Set("kernelPrefillAttention", Napi::Function::New(env, kernel_prefill_attention, "kernelPrefillAttention"));
  exports.Set("kernelSwiglu", Napi::Function::New(env, kernel_swiglu, "kernelSwiglu"));
  exports.Set("kernelF32ToBf16", Napi::Function::New(env, kernel_f32_to_bf16, "kernelF32ToBf16"));
  exports.Set("kernelSample", Napi::Function::New(env, kernel_sample, "kernelSample"));
  exports.Set("kernelFillUniformBf16", Napi::Function::New(env, kernel_fill_uniform_bf16, "kernelFillUniformBf16"));
  exports.Set("kernelFillConstBf16", Napi::Function::New(env, kernel_fill_const_bf16, "kernelFillConstBf16"));
  exports.Set("kernelGemv", Napi::Function::New(env, kernel_gemv, "kernelGemv"));
  exports.Set("gemvBench", Napi::Function::New(env, gemv_bench, "gemvBench"));
  exports.Set("prefillAttentionBench", Napi::Function::New(env, prefill_attention_bench, "prefillAttentionBench"));
}
