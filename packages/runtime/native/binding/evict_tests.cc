// Kernel-test bindings of the live-eviction launchers (native/src/evict.cu, contract evict_launchers.h).
// Each function takes one argument object of plain typed arrays and numbers, copies inputs to fresh
// device buffers, launches, synchronizes, copies back and frees (RAII, also on every error path), and
// returns typed arrays. Bad arguments throw TypeError/RangeError naming the parameter (code
// KVWALK_INVALID_ARGUMENT); CUDA failures throw an Error with code KVWALK_CUDA naming the launcher.
// Without CUDA every function throws "not compiled with CUDA".
//
// The graph cache crosses the boundary as an Int32Array of 8 ints per node (the device's 32-byte AoS
// node: 4 neighbour indices, then the 4 float weights as their IEEE bit patterns), [L][R][H][C][8].
// Used by src/engine/gpu/evict-cases.ts and src/engine/bench/evict.ts (types in evict-addon-types.ts).
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
#define KVWALK_TESTS_NAME "evict kernel tests"
#include "test_util.h"

#ifdef KVWALK_WITH_CUDA
#include <cuda_runtime.h>

#include "evict_launchers.h"
#endif

namespace {

using namespace kvwalk_test;


constexpr long long kMaxDim = 1 << 24;

// { q: Float32Array [B*H*D], k: Uint16Array [R*KVH*C*D], lse: Float32Array [B*H], lengths: Int32Array [B],
//   starts: Int32Array [B] | null, B, R, H, KVH, D, C, scale, mode (0 H2O, 1 TOVA), decay,
//   scores: Float32Array [R*KVH*C] (initial) } -> Float32Array [R*KVH*C]
Napi::Value evict_attention_mass(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KVWALK_REQUIRE_CUDA(env);
#ifdef KVWALK_WITH_CUDA
  Napi::Object a = args_of(info);
  const int R = static_cast<int>(int_arg(a, "R", 1, 65535)), B = static_cast<int>(int_arg(a, "B", 0, R));
  const int H = static_cast<int>(int_arg(a, "H", 1, 1024)), KVH = static_cast<int>(int_arg(a, "KVH", 1, 1024));
  if (H % KVH != 0) bad_arg(env, "KVH", "a divisor of H = " + std::to_string(H), a.Get("KVH"), true);
  const int D = static_cast<int>(int_arg(a, "D", 64, 128));
  if (D != 64 && D != 128) bad_arg(env, "D", "64 or 128", a.Get("D"), true);
  const int C = static_cast<int>(int_arg(a, "C", 1, kMaxDim));
  const int mode = static_cast<int>(int_arg(a, "mode", 0, 1));
  const float scale = num_arg(a, "scale"), decay = num_arg(a, "decay");
  const auto lengths = array_arg<int32_t>(a, "lengths", B);
  for (int b = 0; b < B; ++b) {
    if (lengths[b] < 0 || lengths[b] > C) bad_arg(env, "lengths[" + std::to_string(b) + "]", "an integer in [0, C]", Napi::Number::New(env, lengths[b]), true);
  }
  const bool has_starts = !absent(a, "starts");
  Dev<float> d_q(env, array_arg<float>(a, "q", static_cast<size_t>(B) * H * D), "q");
  Dev<uint16_t> d_k(env, array_arg<uint16_t>(a, "k", static_cast<size_t>(R) * KVH * C * D), "k");
  Dev<float> d_lse(env, array_arg<float>(a, "lse", static_cast<size_t>(B) * H), "lse");
  Dev<int32_t> d_len(env, lengths, "lengths");
  Dev<int32_t> d_starts(env, has_starts ? array_arg<int32_t>(a, "starts", B) : std::vector<int32_t>{}, "starts");
  Dev<float> d_scores(env, array_arg<float>(a, "scores", static_cast<size_t>(R) * KVH * C), "scores");
  run(env,
      kvwalk::engine::launch_attention_mass(d_q.get(), d_k.get(), d_lse.get(), d_len.get(), has_starts ? d_starts.get() : nullptr, B, H, KVH, D, C,
                                            scale, mode, decay, d_scores.get(), nullptr),
      "launch_attention_mass");
  return to_js(env, d_scores.download(env, "scores"));
#endif
}

// { counts: Uint32Array [L*R*H*C], L, R, H, KVH, C, decay, scores: Float32Array [L*R*KVH*C] } -> Float32Array
Napi::Value evict_counts_to_scores(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KVWALK_REQUIRE_CUDA(env);
#ifdef KVWALK_WITH_CUDA
  Napi::Object a = args_of(info);
  const int L = static_cast<int>(int_arg(a, "L", 0, 4096)), R = static_cast<int>(int_arg(a, "R", 1, 65535));
  const int H = static_cast<int>(int_arg(a, "H", 1, 1024)), KVH = static_cast<int>(int_arg(a, "KVH", 1, 1024));
  if (H % KVH != 0) bad_arg(env, "KVH", "a divisor of H = " + std::to_string(H), a.Get("KVH"), true);
  const int C = static_cast<int>(int_arg(a, "C", 1, kMaxDim));
  const float decay = num_arg(a, "decay");
  Dev<uint32_t> d_counts(env, array_arg<uint32_t>(a, "counts", static_cast<size_t>(L) * R * H * C), "counts");
  Dev<float> d_scores(env, array_arg<float>(a, "scores", static_cast<size_t>(L) * R * KVH * C), "scores");
  run(env, kvwalk::engine::launch_counts_to_scores(d_counts.get(), L, R, H, KVH, C, decay, d_scores.get(), nullptr), "launch_counts_to_scores");
  return to_js(env, d_scores.download(env, "scores"));
#endif
}

// { scores: Float32Array [L*R*KVH*C] | null, kv: Uint16Array [L*2*R*KVH*C*D], L, R, KVH, C, D, region, len, budget,
//   sinks, recent } -> { scores: Float32Array | null, kv: Uint16Array, remap: Int32Array [L*KVH*C], kept: Int32Array [L*KVH] }
Napi::Value evict_select_compact(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KVWALK_REQUIRE_CUDA(env);
#ifdef KVWALK_WITH_CUDA
  Napi::Object a = args_of(info);
  const int L = static_cast<int>(int_arg(a, "L", 1, 4096)), R = static_cast<int>(int_arg(a, "R", 1, 65535));
  const int KVH = static_cast<int>(int_arg(a, "KVH", 1, 1024)), C = static_cast<int>(int_arg(a, "C", 1, kMaxDim));
  const int D = static_cast<int>(int_arg(a, "D", 64, 128));
  if (D != 64 && D != 128) bad_arg(env, "D", "64 or 128", a.Get("D"), true);
  const int region = static_cast<int>(int_arg(a, "region", 0, R - 1));
  const int len = static_cast<int>(int_arg(a, "len", 0, C)), budget = static_cast<int>(int_arg(a, "budget", 0, C));
  const int sinks = static_cast<int>(int_arg(a, "sinks", 0, 1 << 30)), recent = static_cast<int>(int_arg(a, "recent", 0, 1 << 30));
  const bool has_scores = !absent(a, "scores");
  Dev<float> d_scores(env, has_scores ? array_arg<float>(a, "scores", static_cast<size_t>(L) * R * KVH * C) : std::vector<float>{}, "scores");
  Dev<uint16_t> d_kv(env, array_arg<uint16_t>(a, "kv", static_cast<size_t>(L) * 2 * R * KVH * C * D), "kv");
  Dev<int32_t> d_remap(env, static_cast<size_t>(L) * KVH * C, "remap");
  Dev<int32_t> d_kept(env, static_cast<size_t>(L) * KVH, "kept");
  run(env,
      kvwalk::engine::launch_select_compact(has_scores ? d_scores.get() : nullptr, d_kv.get(), L, R, KVH, C, D, region, len, budget, sinks, recent,
                                            d_remap.get(), d_kept.get(), nullptr),
      "launch_select_compact");
  Napi::Object out = Napi::Object::New(env);
  out.Set("scores", has_scores ? Napi::Value(to_js(env, d_scores.download(env, "scores"))) : env.Null());
  out.Set("kv", to_js(env, d_kv.download(env, "kv")));
  out.Set("remap", to_js(env, d_remap.download(env, "remap")));
  out.Set("kept", to_js(env, d_kept.download(env, "kept")));
  return out;
#endif
}

// { graph: Int32Array [L*R*H*C*8] (AoS nodes: 4 neighbours, 4 weight bit patterns), L, R, H, KVH, C, region,
//   remap: Int32Array [L*KVH*C], newLen } -> Int32Array [L*R*H*C*8]
Napi::Value evict_graph_remap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KVWALK_REQUIRE_CUDA(env);
#ifdef KVWALK_WITH_CUDA
  Napi::Object a = args_of(info);
  const int L = static_cast<int>(int_arg(a, "L", 1, 4096)), R = static_cast<int>(int_arg(a, "R", 1, 65535));
  const int H = static_cast<int>(int_arg(a, "H", 1, 1024)), KVH = static_cast<int>(int_arg(a, "KVH", 1, 1024));
  if (H % KVH != 0) bad_arg(env, "KVH", "a divisor of H = " + std::to_string(H), a.Get("KVH"), true);
  const int C = static_cast<int>(int_arg(a, "C", 1, kMaxDim));
  const int region = static_cast<int>(int_arg(a, "region", 0, R - 1));
  const int new_len = static_cast<int>(int_arg(a, "newLen", 0, C));
  Dev<int32_t> d_graph(env, array_arg<int32_t>(a, "graph", static_cast<size_t>(L) * R * H * C * 8), "graph");
  Dev<int32_t> d_remap(env, array_arg<int32_t>(a, "remap", static_cast<size_t>(L) * KVH * C), "remap");
  Dev<int32_t> d_scratch(env, static_cast<size_t>(H) * C * 8, "scratch");
  run(env, kvwalk::engine::launch_graph_remap(d_graph.get(), L, R, H, KVH, C, region, d_remap.get(), new_len, d_scratch.get(), nullptr),
      "launch_graph_remap");
  return to_js(env, d_graph.download(env, "graph"));
#endif
}

// evictBench({ L, KVH, H, D, C, len, budget, sinks, recent, B, iters }) -> {
//   selectCompact: { medianUs, minUs, iters, rows, kept (row 0), movedSlots, bytesMoved },
//   copy: { medianUs, bytes, gbPerS },              (cudaMemcpyAsync D2D of the whole KV; bytes = read + write)
//   attentionMass: { medianUs, minUs, iters, B, bytesK } }
// select_compact: one region (R = 1) of L layers, random scores (fixed LCG seed); before each timed
// launch the KV and scores are restored from pristine copies (the restore copy is timed separately and
// gives the copy bandwidth). attention_mass: one layer, B regions of `len` keys, mode 0 (H2O, decay 1).
// 2 warm-up launches of each, then `iters` launches each timed with CUDA events.
Napi::Value evict_bench(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KVWALK_REQUIRE_CUDA(env);
#ifdef KVWALK_WITH_CUDA
  Napi::Object a = args_of(info);
  const int L = static_cast<int>(int_arg(a, "L", 1, 4096)), KVH = static_cast<int>(int_arg(a, "KVH", 1, 1024));
  const int H = static_cast<int>(int_arg(a, "H", 1, 1024));
  if (H % KVH != 0) bad_arg(env, "KVH", "a divisor of H = " + std::to_string(H), a.Get("KVH"), true);
  const int D = static_cast<int>(int_arg(a, "D", 64, 128));
  if (D != 64 && D != 128) bad_arg(env, "D", "64 or 128", a.Get("D"), true);
  const int C = static_cast<int>(int_arg(a, "C", 1, kMaxDim));
  const int len = static_cast<int>(int_arg(a, "len", 0, C)), budget = static_cast<int>(int_arg(a, "budget", 0, C));
  const int sinks = static_cast<int>(int_arg(a, "sinks", 0, 1 << 30)), recent = static_cast<int>(int_arg(a, "recent", 0, 1 << 30));
  const int B = static_cast<int>(int_arg(a, "B", 1, 4096)), iters = static_cast<int>(int_arg(a, "iters", 1, 10000));

  // ---- select_compact on one region
  const size_t nkv = static_cast<size_t>(L) * 2 * KVH * C * D, nsc = static_cast<size_t>(L) * KVH * C;
  std::vector<float> h_scores(nsc);
  uint64_t st = 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < nsc; ++i) {
    st = st * 6364136223846793005ull + 1442695040888963407ull;
    h_scores[i] = static_cast<float>(static_cast<double>(st >> 40) / 16777216.0);
  }
  Dev<float> d_scores0(env, h_scores, "scores (pristine)");
  Dev<float> d_scores(env, nsc, "scores");
  Dev<uint16_t> d_kv0(env, nkv, "kv (pristine)");
  Dev<uint16_t> d_kv(env, nkv, "kv");
  Dev<int32_t> d_remap(env, nsc, "remap");
  Dev<int32_t> d_kept(env, static_cast<size_t>(L) * KVH, "kept");
  check(env, cudaMemset(d_kv0.get(), 0x3c, nkv * sizeof(uint16_t)), "cudaMemset(kv)");
  EventPair ev(env);
  std::vector<double> copy_us, sel_us;
  for (int i = 0; i < iters + 2; ++i) {
    check(env, cudaEventRecord(ev.start, nullptr), "cudaEventRecord");
    check(env, cudaMemcpyAsync(d_kv.get(), d_kv0.get(), nkv * sizeof(uint16_t), cudaMemcpyDeviceToDevice, nullptr), "cudaMemcpyAsync(kv restore)");
    check(env, cudaEventRecord(ev.stop, nullptr), "cudaEventRecord");
    const double cu = ev.elapsed_us(env, "kv restore copy");
    check(env, cudaMemcpyAsync(d_scores.get(), d_scores0.get(), nsc * sizeof(float), cudaMemcpyDeviceToDevice, nullptr), "cudaMemcpyAsync(scores restore)");
    check(env, cudaEventRecord(ev.start, nullptr), "cudaEventRecord");
    check(env,
          kvwalk::engine::launch_select_compact(d_scores.get(), d_kv.get(), L, 1, KVH, C, D, 0, len, budget, sinks, recent, d_remap.get(), d_kept.get(),
                                                nullptr),
          "launch_select_compact");
    check(env, cudaEventRecord(ev.stop, nullptr), "cudaEventRecord");
    const double su = ev.elapsed_us(env, "launch_select_compact");
    if (i >= 2) {
      copy_us.push_back(cu);
      sel_us.push_back(su);
    }
  }
  const std::vector<int32_t> remap = d_remap.download(env, "remap");
  const std::vector<int32_t> kept = d_kept.download(env, "kept");
  long long moved = 0;
  for (size_t i = 0; i < remap.size(); ++i) {
    const int j = static_cast<int>(i % C);
    if (remap[i] >= 0 && remap[i] != j) moved++;
  }
  const double bytes_moved = static_cast<double>(moved) * D * 2 /*bf16*/ * 2 /*K, V*/ * 2 /*read + write*/;
  const double copy_bytes = static_cast<double>(nkv) * sizeof(uint16_t) * 2;
  const double copy_med = median_of(copy_us);

  // ---- attention_mass on one layer of B regions
  const size_t nk = static_cast<size_t>(B) * KVH * C * D;
  Dev<float> d_q(env, static_cast<size_t>(B) * H * D, "q");
  Dev<uint16_t> d_k(env, nk, "k");
  Dev<float> d_lse(env, static_cast<size_t>(B) * H, "lse");
  Dev<int32_t> d_len(env, std::vector<int32_t>(B, len), "lengths");
  Dev<float> d_ms(env, static_cast<size_t>(B) * KVH * C, "scores (mass)");
  check(env, cudaMemset(d_q.get(), 0, static_cast<size_t>(B) * H * D * sizeof(float)), "cudaMemset(q)");
  check(env, cudaMemset(d_k.get(), 0x3c, nk * sizeof(uint16_t)), "cudaMemset(k)");
  check(env, cudaMemset(d_lse.get(), 0, static_cast<size_t>(B) * H * sizeof(float)), "cudaMemset(lse)");
  check(env, cudaMemset(d_ms.get(), 0, static_cast<size_t>(B) * KVH * C * sizeof(float)), "cudaMemset(scores)");
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const std::vector<double> mass_us = time_launches_us(env, iters, "launch_attention_mass", [&]() {
    return kvwalk::engine::launch_attention_mass(d_q.get(), d_k.get(), d_lse.get(), d_len.get(), nullptr, B, H, KVH, D, C, scale, 0, 1.0f, d_ms.get(),
                                                 nullptr);
  });

  Napi::Object sel = Napi::Object::New(env);
  sel.Set("medianUs", median_of(sel_us));
  sel.Set("minUs", *std::min_element(sel_us.begin(), sel_us.end()));
  sel.Set("iters", iters);
  sel.Set("rows", L * KVH);
  sel.Set("kept", kept.empty() ? 0 : kept[0]);
  sel.Set("movedSlots", static_cast<double>(moved));
  sel.Set("bytesMoved", bytes_moved);
  Napi::Object copy = Napi::Object::New(env);
  copy.Set("medianUs", copy_med);
  copy.Set("bytes", copy_bytes);
  copy.Set("gbPerS", copy_med > 0 ? copy_bytes / (copy_med * 1e-6) / 1e9 : 0.0);
  Napi::Object mass = Napi::Object::New(env);
  mass.Set("medianUs", median_of(mass_us));
  mass.Set("minUs", *std::min_element(mass_us.begin(), mass_us.end()));
  mass.Set("iters", iters);
  mass.Set("B", B);
  mass.Set("bytesK", static_cast<double>(B) * KVH * len * D * 2);
  Napi::Object out = Napi::Object::New(env);
  out.Set("selectCompact", sel);
  out.Set("copy", copy);
  out.Set("attentionMass", mass);
  return out;
#endif
}

}  // namespace

void register_evict_tests(Napi::Env env, Napi::Object exports) {
  exports.Set("evictAttentionMass", Napi::Function::New(env, evict_attention_mass, "evictAttentionMass"));
  exports.Set("evictCountsToScores", Napi::Function::New(env, evict_counts_to_scores, "evictCountsToScores"));
  exports.Set("evictSelectCompact", Napi::Function::New(env, evict_select_compact, "evictSelectCompact"));
  exports.Set("evictGraphRemap", Napi::Function::New(env, evict_graph_remap, "evictGraphRemap"));
  exports.Set("evictBench", Napi::Function::New(env, evict_bench, "evictBench"));
}
