// Kernel-test bindings of prompt scoring (launch_prefill_score, native/src/prefill_score.cu; contract in
// evict_launchers.h). Same conventions as evict_tests.cc: one argument object of plain typed arrays and
// numbers, fresh device buffers freed on every path (RAII), bad arguments throw TypeError/RangeError
// naming the parameter (code KVWALK_INVALID_ARGUMENT), CUDA failures an Error with code KVWALK_CUDA
// naming the launcher; without CUDA every function throws "not compiled with CUDA".
//
// Graph nodes cross the boundary as evict_tests.cc's Int32Array of 8 ints per node (4 neighbours, then
// the 4 float weights' bit patterns), here [graphs][capacity][8] for one region: graphs = H (graphGroup
// 1, a graph per query head) or KVH (graphGroup H / KVH, a graph per KV head).
// Used by src/engine/gpu/prefill-score-cases.ts and src/engine/bench/prefill-score.ts (types in
// src/engine/gpu/prefill-score-addon-types.ts).
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
#define KVWALK_TESTS_NAME "prefill score tests"
#include "test_util.h"

#ifdef KVWALK_WITH_CUDA
#include <cuda_runtime.h>

#include "engine_launchers.h"
#include "evict_launchers.h"
#endif

namespace {

using namespace kvwalk_test;


constexpr long long kMaxDim = 1 << 22;

// prefillScore({ q: Float32Array [T*H*D], k: Uint16Array [KVH*capacity*D], T, H, KVH, D, capacity,
//   window, scale, mode (-1 none, 0 H2O, 1 TOVA), decay, graph: boolean, graphGroup?: 1 | H/KVH
//   (default 1), graphInit?: Int32Array [graphs*capacity*8] (default: every byte 0xff, as the engine
//   clears a region), scores?: Float32Array [KVH*capacity] (initial; required when mode >= 0), wantLse })
//   -> { lse: Float32Array [T*H] | null, graph: Int32Array [graphs*capacity*8] | null, scores: Float32Array | null }
// graphs = H / graphGroup; the workspace is allocated when prefill_score_needs_workspace says so.
Napi::Value prefill_score(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KVWALK_REQUIRE_CUDA(env);
#ifdef KVWALK_WITH_CUDA
  Napi::Object a = args_of(info);
  const int capacity = static_cast<int>(int_arg(a, "capacity", 1, kMaxDim));
  const int T = static_cast<int>(int_arg(a, "T", 0, capacity));
  const int H = static_cast<int>(int_arg(a, "H", 1, 1024)), KVH = static_cast<int>(int_arg(a, "KVH", 1, 1024));
  if (H % KVH != 0) bad_arg(env, "KVH", "a divisor of H = " + std::to_string(H), a.Get("KVH"), true);
  const int D = static_cast<int>(int_arg(a, "D", 64, 128));
  if (D != 64 && D != 128) bad_arg(env, "D", "64 or 128", a.Get("D"), true);
  const int window = static_cast<int>(int_arg(a, "window", 0, 1 << 30));
  const int mode = static_cast<int>(int_arg(a, "mode", -1, 1));
  const float scale = num_arg(a, "scale");
  const float decay = num_arg(a, "decay");
  if (!(decay >= 0.f && decay <= 1.f)) bad_arg(env, "decay", "a number in [0, 1]", a.Get("decay"), true);
  const bool want_graph = a.Get("graph").ToBoolean().Value();
  const bool want_lse = a.Get("wantLse").ToBoolean().Value();
  const int graph_group = absent(a, "graphGroup") ? 1 : static_cast<int>(int_arg(a, "graphGroup", 1, 1024));
  if (graph_group != 1 && graph_group != H / KVH) {
    bad_arg(env, "graphGroup", "1 (a graph per query head) or H / KVH = " + std::to_string(H / KVH) + " (a graph per KV head)", a.Get("graphGroup"), true);
  }
  if (mode >= 0 && absent(a, "scores")) bad_arg(env, "scores", "a Float32Array of length KVH * capacity when mode is 0 or 1", a.Get("scores"));
  const size_t graph_ints = static_cast<size_t>(H / graph_group) * capacity * 8;
  std::vector<int32_t> graph_init;
  if (want_graph) graph_init = absent(a, "graphInit") ? std::vector<int32_t>(graph_ints, -1) : array_arg<int32_t>(a, "graphInit", graph_ints);
  // every argument is checked before any device work
  const std::vector<float> h_q = array_arg<float>(a, "q", static_cast<size_t>(T) * H * D);
  const std::vector<uint16_t> h_k = array_arg<uint16_t>(a, "k", static_cast<size_t>(KVH) * capacity * D);
  const std::vector<float> h_scores = mode >= 0 ? array_arg<float>(a, "scores", static_cast<size_t>(KVH) * capacity) : std::vector<float>{};
  Dev<float> d_q(env, h_q, "q");
  Dev<uint16_t> d_k(env, h_k, "k");
  Dev<int32_t> d_graph(env, graph_init, "graph");
  Dev<float> d_scores(env, h_scores, "scores");
  Dev<float> d_lse(env, want_lse ? static_cast<size_t>(T) * H : 0, "lse");
  const size_t ws_bytes =
      kvwalk::engine::prefill_score_needs_workspace(mode, want_graph, graph_group) ? kvwalk::engine::prefill_score_workspace_bytes(T, H, D) : 0;
  Dev<uint8_t> d_ws(env, ws_bytes, "workspace");
  if (want_lse && T > 0) check(env, cudaMemset(d_lse.get(), 0xff, static_cast<size_t>(T) * H * sizeof(float)), "cudaMemset(lse)");
  kvwalk::engine::PrefillScoreArgs s;
  // a zero-row prompt has no arrays to upload; the launcher still wants non-null q and k
  s.q = T > 0 ? d_q.get() : reinterpret_cast<const float*>(d_k.get());
  s.k = d_k.get();
  s.T = T;
  s.H = H;
  s.KVH = KVH;
  s.D = D;
  s.capacity = capacity;
  s.window = window;
  s.scale = scale;
  s.graph = want_graph ? d_graph.get() : nullptr;
  s.graph_capacity = capacity;
  s.graph_group = graph_group;
  s.mode = mode;
  s.decay = decay;
  s.scores = mode >= 0 ? d_scores.get() : nullptr;
  s.score_capacity = capacity;
  s.lse = want_lse ? d_lse.get() : nullptr;
  s.workspace = d_ws.get();
  s.workspace_bytes = ws_bytes;
  run(env, kvwalk::engine::launch_prefill_score(s, nullptr), "launch_prefill_score");
  Napi::Object out = Napi::Object::New(env);
  out.Set("lse", want_lse ? Napi::Value(to_js(env, d_lse.download(env, "lse"))) : env.Null());
  out.Set("graph", want_graph ? Napi::Value(to_js(env, d_graph.download(env, "graph"))) : env.Null());
  out.Set("scores", mode >= 0 ? Napi::Value(to_js(env, d_scores.download(env, "scores"))) : env.Null());
  return out;
#endif
}

// graphFlush({ q: Float32Array [T*H*D], k: Uint16Array [KVH*capacity*D], T, H, KVH, D, capacity, window,
//   scale, graphGroup?: 1 | H/KVH, rowLo, jobs, lse2?: Float32Array [T*H] }) -> { graphs: Int32Array[] } (one [graphs*capacity*8]
// per job). launch_graph_flush (the lazy decode graph write) with `jobs` (1..8) jobs over copies of one
// region: job j writes rows lo_j = max(0, rowLo - 3j) .. T_j - 1 with T_j = T - j, from its own K copy
// into its own graph (every int -1 before), reading query row lo_j at ring row j of its ring section
// (bf16 q rounded to nearest even on the host; ring rows per head = the most pending rows + jobs), so
// every offset of GraphFlushJob and the job index blockIdx.z are exercised. lse2 (log2-sum-exp of row t,
// head h at t * H + h; a graph per KV head only): the rows' lse come through an lse ring laid out as the
// query ring (the engine's decode-step lse route, no pass 1) instead of pass 1's workspace.
Napi::Value graph_flush(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KVWALK_REQUIRE_CUDA(env);
#ifdef KVWALK_WITH_CUDA
  Napi::Object a = args_of(info);
  const int J = static_cast<int>(int_arg(a, "jobs", 1, 8));
  const int capacity = static_cast<int>(int_arg(a, "capacity", 1, kMaxDim));
  const int T = static_cast<int>(int_arg(a, "T", J, capacity));
  const int H = static_cast<int>(int_arg(a, "H", 1, 1024)), KVH = static_cast<int>(int_arg(a, "KVH", 1, 1024));
  if (H % KVH != 0) bad_arg(env, "KVH", "a divisor of H = " + std::to_string(H), a.Get("KVH"), true);
  const int D = static_cast<int>(int_arg(a, "D", 64, 128));
  if (D != 64 && D != 128) bad_arg(env, "D", "64 or 128", a.Get("D"), true);
  const int window = static_cast<int>(int_arg(a, "window", 0, 1 << 30));
  const float scale = num_arg(a, "scale");
  const int row_lo = static_cast<int>(int_arg(a, "rowLo", 0, T - J));
  const int graph_group = absent(a, "graphGroup") ? 1 : static_cast<int>(int_arg(a, "graphGroup", 1, 1024));
  if (graph_group != 1 && graph_group != H / KVH) {
    bad_arg(env, "graphGroup", "1 (a graph per query head) or H / KVH = " + std::to_string(H / KVH) + " (a graph per KV head)", a.Get("graphGroup"), true);
  }
  const std::vector<float> h_q = array_arg<float>(a, "q", static_cast<size_t>(T) * H * D);
  const std::vector<uint16_t> h_k1 = array_arg<uint16_t>(a, "k", static_cast<size_t>(KVH) * capacity * D);
  const bool ring_lse = !absent(a, "lse2");
  if (ring_lse && graph_group == 1) bad_arg(env, "lse2", "absent with a graph per query head (graphGroup 1: pass 1 writes the nodes)", a.Get("lse2"), true);
  const std::vector<float> h_lse = ring_lse ? array_arg<float>(a, "lse2", static_cast<size_t>(T) * H) : std::vector<float>{};
  const int graphs = H / graph_group;
  std::vector<kvwalk::engine::GraphFlushJob> jobs(J);
  int max_rows = 0;
  for (int j = 0; j < J; j++) max_rows = std::max(max_rows, (T - j) - std::max(0, row_lo - 3 * j));
  const int RR = max_rows + J;
  const size_t region_k = static_cast<size_t>(KVH) * capacity * D, region_g = static_cast<size_t>(graphs) * capacity;
  std::vector<uint16_t> h_k(region_k * J), h_ring(static_cast<size_t>(J) * H * RR * D, 0);
  std::vector<float> h_lse_ring(ring_lse ? static_cast<size_t>(J) * H * RR : 0, 0.f);
  auto bf16_rn = [](float f) {
    uint32_t b;
    std::memcpy(&b, &f, 4);
    if ((b & 0x7f800000u) == 0x7f800000u && (b & 0x007fffffu) != 0u) return static_cast<uint16_t>((b >> 16) | 0x0040u);
    return static_cast<uint16_t>((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
  };
  for (int j = 0; j < J; j++) {
    kvwalk::engine::GraphFlushJob& jb = jobs[j];
    jb.T = T - j;
    jb.row_lo = std::max(0, row_lo - 3 * j);
    jb.k_off = static_cast<int64_t>(j * region_k);
    jb.graph_off = static_cast<int64_t>(j * region_g);
    jb.q_off = static_cast<int64_t>((static_cast<size_t>(j) * H * RR + j) * D);
    jb.lse_off = ring_lse ? static_cast<int64_t>(static_cast<size_t>(j) * H * RR + j) : static_cast<int64_t>(static_cast<size_t>(j) * H * max_rows);
    std::copy(h_k1.begin(), h_k1.end(), h_k.begin() + j * region_k);
    for (int t = jb.row_lo; t < jb.T; t++)
      for (int h = 0; h < H; h++)
        for (int d = 0; d < D; d++)
          h_ring[jb.q_off + (static_cast<size_t>(h) * RR + (t - jb.row_lo)) * D + d] = bf16_rn(h_q[(static_cast<size_t>(t) * H + h) * D + d]);
    if (ring_lse)
      for (int t = jb.row_lo; t < jb.T; t++)
        for (int h = 0; h < H; h++) h_lse_ring[jb.lse_off + static_cast<size_t>(h) * RR + (t - jb.row_lo)] = h_lse[static_cast<size_t>(t) * H + h];
  }
  Dev<uint16_t> d_k(env, h_k, "k");
  Dev<uint16_t> d_ring(env, h_ring, "query ring");
  Dev<int32_t> d_graph(env, std::vector<int32_t>(region_g * J * 8, -1), "graph");
  std::vector<uint8_t> jb_bytes(sizeof(kvwalk::engine::GraphFlushJob) * J);
  std::memcpy(jb_bytes.data(), jobs.data(), jb_bytes.size());
  Dev<uint8_t> d_jobs(env, jb_bytes, "jobs");
  Dev<uint8_t> d_lse(env, ring_lse ? 0 : kvwalk::engine::graph_flush_workspace_bytes(J, H, max_rows), "lse2 workspace");
  Dev<float> d_lse_ring(env, h_lse_ring, "lse ring");
  kvwalk::engine::GraphFlushArgs f;
  f.q_ring = d_ring.get();
  f.k = d_k.get();
  f.graph = d_graph.get();
  f.jobs = reinterpret_cast<const kvwalk::engine::GraphFlushJob*>(d_jobs.get());
  f.num_jobs = J;
  f.max_rows = max_rows;
  f.q_hstride = RR;
  f.H = H;
  f.KVH = KVH;
  f.D = D;
  f.capacity = capacity;
  f.window = window;
  f.scale = scale;
  f.graph_capacity = capacity;
  f.graph_group = graph_group;
  f.lse2 = ring_lse ? nullptr : reinterpret_cast<float*>(d_lse.get());
  f.lse_ring = ring_lse ? d_lse_ring.get() : nullptr;
  run(env, kvwalk::engine::launch_graph_flush(f, nullptr), "launch_graph_flush");
  const std::vector<int32_t> g = d_graph.download(env, "graph");
  Napi::Array out = Napi::Array::New(env, J);
  for (int j = 0; j < J; j++) {
    std::vector<int32_t> part(g.begin() + j * region_g * 8, g.begin() + (j + 1) * region_g * 8);
    out.Set(static_cast<uint32_t>(j), to_js(env, part));
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("graphs", out);
  return o;
#endif
}

#ifdef KVWALK_WITH_CUDA
// Median and minimum of `iters` CUDA-event-timed runs of `launch` after 2 warm-ups, in milliseconds.
template <class F>
std::pair<double, double> time_ms(Napi::Env env, int iters, const char* what, F launch) {
  const std::vector<double> us = time_launches_us(env, iters, what, launch);
  return {median_of(us) / 1000.0, *std::min_element(us.begin(), us.end()) / 1000.0};
}
#endif

// prefillScoreBench({ T, H, KVH, D, window, iters }) -> {
//   attention: { medianMs, minMs },                  launch_prefill_attention on the same q, K (and V)
//   rows: [{ config, medianMs, minMs, ratioToAttention }] }
// configs: "graph" (walker: graph nodes only), "tova", "h2o", "h2o+graph" (h2o with the graph cache
// on), all with a graph per query head; when H > KVH also "graph/kv" and "h2o+graph/kv" (a graph per
// KV head: graph_group = H / KVH). Random bf16 K/V and q (uniform +-1; q widened to f32), capacity = T,
// scale 1/sqrt(D), decay 1.
// Attention is timed before and after the configs (its median over both sets is the baseline).
Napi::Value prefill_score_bench(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KVWALK_REQUIRE_CUDA(env);
#ifdef KVWALK_WITH_CUDA
  Napi::Object a = args_of(info);
  const int T = static_cast<int>(int_arg(a, "T", 1, 1 << 20));
  const int H = static_cast<int>(int_arg(a, "H", 1, 1024)), KVH = static_cast<int>(int_arg(a, "KVH", 1, 1024));
  if (H % KVH != 0) bad_arg(env, "KVH", "a divisor of H = " + std::to_string(H), a.Get("KVH"), true);
  const int D = static_cast<int>(int_arg(a, "D", 64, 128));
  if (D != 64 && D != 128) bad_arg(env, "D", "64 or 128", a.Get("D"), true);
  const int window = static_cast<int>(int_arg(a, "window", 0, 1 << 30));
  const int iters = static_cast<int>(int_arg(a, "iters", 1, 10000));
  const size_t nq = static_cast<size_t>(T) * H * D, nkv = static_cast<size_t>(T) * KVH * D;
  Dev<float> d_q(env, nq, "q");
  Dev<uint16_t> d_qb(env, nq, "q (bf16 staging)");
  Dev<uint16_t> d_k(env, nkv, "k");
  Dev<uint16_t> d_v(env, nkv, "v");
  Dev<uint16_t> d_out(env, nq, "attention out");
  Dev<int32_t> d_graph(env, static_cast<size_t>(H) * T * 8, "graph");
  Dev<float> d_scores(env, static_cast<size_t>(KVH) * T, "scores");
  const size_t ws_bytes = kvwalk::engine::prefill_score_workspace_bytes(T, H, D);
  Dev<uint8_t> d_ws(env, ws_bytes, "workspace");
  fill_prefill_bench_inputs(env, d_q, d_qb, d_k, d_v);
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  auto attention = [&]() {
    return kvwalk::engine::launch_prefill_attention(d_q.get(), d_k.get(), d_v.get(), T, H, KVH, D, T, window, scale, d_out.get(), nullptr);
  };
  auto score = [&](bool graph, int mode, int graph_group) {
    kvwalk::engine::PrefillScoreArgs s;
    s.q = d_q.get();
    s.k = d_k.get();
    s.T = T;
    s.H = H;
    s.KVH = KVH;
    s.D = D;
    s.capacity = T;
    s.window = window;
    s.scale = scale;
    s.graph = graph ? d_graph.get() : nullptr;
    s.graph_capacity = T;
    s.graph_group = graph_group;
    s.mode = mode;
    s.decay = 1.0f;
    s.scores = d_scores.get();
    s.score_capacity = T;
    s.workspace = d_ws.get();
    s.workspace_bytes = ws_bytes;
    return kvwalk::engine::launch_prefill_score(s, nullptr);
  };
  // attention samples from before and after the configs, pooled (ms)
  std::vector<double> att;
  auto sample_attention = [&](int warmup) {
    for (double us : time_launches_us(env, iters, "launch_prefill_attention", attention, warmup)) att.push_back(us / 1000.0);
  };
  sample_attention(2);
  struct Config {
    const char* name;
    bool graph;
    int mode;
    int graph_group;
  };
  std::vector<Config> configs = {{"graph", true, -1, 1}, {"tova", false, 1, 1}, {"h2o", false, 0, 1}, {"h2o+graph", true, 0, 1}};
  if (H > KVH) {
    configs.push_back({"graph/kv", true, -1, H / KVH});
    configs.push_back({"h2o+graph/kv", true, 0, H / KVH});
  }
  std::vector<std::pair<double, double>> times;
  for (const Config& c : configs) {
    times.push_back(time_ms(env, iters, "launch_prefill_score", [&]() { return score(c.graph, c.mode, c.graph_group); }));
  }
  sample_attention(0);
  const double att_med = median_of(att);
  Napi::Object attention_out = Napi::Object::New(env);
  attention_out.Set("medianMs", att_med);
  attention_out.Set("minMs", *std::min_element(att.begin(), att.end()));
  Napi::Array rows = Napi::Array::New(env, configs.size());
  for (size_t i = 0; i < configs.size(); ++i) {
    Napi::Object r = Napi::Object::New(env);
    r.Set("config", configs[i].name);
    r.Set("medianMs", times[i].first);
    r.Set("minMs", times[i].second);
    r.Set("ratioToAttention", att_med > 0 ? times[i].first / att_med : 0.0);
    rows.Set(static_cast<uint32_t>(i), r);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("attention", attention_out);
  out.Set("rows", rows);
  out.Set("iters", iters);
  return out;
#endif
}

}  // namespace

void register_prefill_score_tests(Napi::Env env, Napi::Object exports) {
  exports.Set("prefillScore", Napi::Function::New(env, prefill_score, "prefillScore"));
  exports.Set("prefillScoreBench", Napi::Function::New(env, prefill_score_bench, "prefillScoreBench"));
  exports.Set("graphFlush", Napi::Function::New(env, graph_flush, "graphFlush"));
}
