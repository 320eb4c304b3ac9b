// The decode engine (see engine.h). Host code only: every kernel comes from a launcher.
#include "engine.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include "evict_launchers.h"
#include "launchers.h"  // @kvwalk/graph-cache: fused decode attention
#include "walker.h"     // @kvwalk/walker-cuda: the shadow walker

namespace kvwalk::engine {

namespace {

constexpr int kIntArrays = 8;  // tokens, positions, region, slot, lengths, starts, next, ring row (lazy graph write)
enum IntArray { kTokens = 0, kPositions, kRegion, kSlot, kLengths, kStarts, kNext, kRing };
// Lazy graph write: most rows per ring half (the query ring costs layers x maxBatch x heads x 2 x this x
// headDim bf16: 1 GiB for Mistral-7B at batch 32)
constexpr int kLazyRingHalfMax = 64;
constexpr int kGraphNodeBytes = 32;

// Prompt scoring's score mode for a policy (launch_prefill_score): 0 H2O, 1 TOVA, -1 none (graph nodes
// only, whenever the graph cache exists).
int prompt_score_mode(EvictPolicy p) { return p == EvictPolicy::H2O ? 0 : p == EvictPolicy::Tova ? 1 : -1; }

std::string gib(size_t bytes) {
  char buf[64];
  snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
  return buf;
}

uint16_t f32_to_bf16_host(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // NaN stays NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

}  // namespace

std::string Engine::check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return "";
  return std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
}

std::string Engine::alloc(void** p, size_t bytes, const char* what) {
  *p = nullptr;
  if (bytes == 0) return "";
  cudaError_t e = cudaMalloc(p, bytes);
  if (e != cudaSuccess) {
    cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    *p = nullptr;
    return std::string("out of GPU memory allocating ") + what + " (" + gib(bytes) + "; " + gib(free_b) + " free of " + gib(total_b) +
           "): " + cudaGetErrorName(e);
  }
  owned_.push_back(*p);
  return "";
}

Engine* Engine::create(const ModelShape& s, const EngineOptions& o, std::string* error) {
  Engine* e = new Engine();
  e->shape_ = s;
  e->opts_ = o;
  e->opts_.max_logit_rows = std::max(o.max_logit_rows, o.max_batch);
  auto fail = [&](const std::string& msg) -> Engine* {
    *error = msg;
    delete e;
    return nullptr;
  };
  int dev = 0;
  std::string err = e->check(cudaGetDevice(&dev), "cudaGetDevice");
  if (!err.empty()) return fail(err);
  err = e->check(cudaDeviceGetAttribute(&e->sm_count_, cudaDevAttrMultiProcessorCount, dev), "cudaDeviceGetAttribute");
  if (!err.empty()) return fail(err);
  if (!decode_head_dim_supported(s.head_dim)) return fail("head_dim " + std::to_string(s.head_dim) + " is not supported by the decode kernel");
  // The tensor-core prefill attention and prompt scoring are instantiated for 64 and 128 only: refuse
  // other head sizes here rather than fail at the first prefill.
  if (s.head_dim != 64 && s.head_dim != 128)
    return fail("head_dim " + std::to_string(s.head_dim) + " is not supported by the prefill attention (expected 64 or 128)");
  // Stream priorities (stream_priorities; off by default, not yet measured): decode steps (and the
  // CUDA graphs replayed into their stream) get the device's highest priority, the walker the lowest,
  // so when both have blocks waiting the block scheduler starts the decode step's first. Off: both
  // streams at priority 0, the default of cudaStreamCreateWithFlags.
  int prio_low = 0, prio_high = 0;
  if (o.stream_priorities && cudaDeviceGetStreamPriorityRange(&prio_low, &prio_high) != cudaSuccess) {
    cudaGetLastError();
    prio_low = prio_high = 0;
  }
  err = e->check(cudaStreamCreateWithPriority(&e->stream_, cudaStreamNonBlocking, prio_high), "cudaStreamCreate");
  if (!err.empty()) return fail(err);
  e->gemm_ = gemm_context_create(o.gemm, &err);
  if (!e->gemm_) return fail("GEMM backend: " + err);

  const size_t L = s.layers, hid = s.hidden, H = s.heads, KVH = s.kv_heads, D = s.head_dim, I = s.intermediate, V = s.vocab;
  const size_t qkv_rows = (H + 2 * KVH) * D;
  // weights
  auto walloc = [&](bf16_t** p, size_t n, const char* what) {
    std::string r = e->alloc(reinterpret_cast<void**>(p), n * sizeof(bf16_t), what);
    e->weight_bytes_ += n * sizeof(bf16_t);
    return r;
  };
  if (!(err = walloc(&e->embed_, V * hid, "the embedding")).empty()) return fail(err);
  if (s.tied_embeddings) {
    e->lm_head_ = e->embed_;
  } else if (!(err = walloc(&e->lm_head_, V * hid, "the LM head")).empty()) {
    return fail(err);
  }
  if (!(err = walloc(&e->final_norm_, hid, "the final norm")).empty()) return fail(err);
  for (auto* v : {&e->attn_norm_, &e->mlp_norm_, &e->wqkv_, &e->wo_, &e->wgu_, &e->wdown_}) v->assign(L, nullptr);
  for (size_t l = 0; l < L; l++) {
    if (!(err = walloc(&e->attn_norm_[l], hid, "layer weights")).empty()) return fail(err);
    if (!(err = walloc(&e->mlp_norm_[l], hid, "layer weights")).empty()) return fail(err);
    if (!(err = walloc(&e->wqkv_[l], qkv_rows * hid, "layer weights")).empty()) return fail(err);
    if (!(err = walloc(&e->wo_[l], hid * H * D, "layer weights")).empty()) return fail(err);
    if (!(err = walloc(&e->wgu_[l], 2 * I * hid, "layer weights")).empty()) return fail(err);
    if (!(err = walloc(&e->wdown_[l], hid * I, "layer weights")).empty()) return fail(err);
  }
  // KV cache and graph
  const size_t B = o.max_batch, C = o.capacity;
  e->kv_bytes_ = L * 2 * B * KVH * C * D * sizeof(bf16_t);
  if (!(err = e->alloc(reinterpret_cast<void**>(&e->kv_), e->kv_bytes_, ("the KV cache (batch " + std::to_string(B) + " x capacity " +
                                                                           std::to_string(C) + ")").c_str()))
           .empty())
    return fail(err);
  if (o.graph_heads < 0 || o.graph_heads > 1) return fail("graph_heads " + std::to_string(o.graph_heads) + " must be 0 (query heads) or 1 (KV heads)");
  const size_t G = o.graph_heads == 1 ? KVH : H;
  e->graph_heads_ = static_cast<int>(G);
  if (o.graph) {
    if (G != H && o.graph_write == 0)
      return fail("graphWrite 'fused' cannot write one graph per KV head (graphHeads 'kv') on a grouped-query model: the group's summed "
                  "probabilities need every head's final log-sum-exp; use 'deferred' or 'auto'");
    e->graph_bytes_ = L * B * G * C * kGraphNodeBytes;
    if (!(err = e->alloc(&e->graph_, e->graph_bytes_, "the graph cache")).empty()) return fail(err);
    if (!(err = e->check(cudaMemset(e->graph_, 0xff, e->graph_bytes_), "cudaMemset graph")).empty()) return fail(err);
    if (o.graph_write < 0 || o.graph_write > 3) return fail("graph_write " + std::to_string(o.graph_write) + " must be 0 (fused), 1 (deferred), 2 (auto) or 3 (lazy)");
    // auto: the lazy write for the walker's graphs per KV head on a grouped-query model -- measured faster
    // than the deferred write at batch 1, 8 and 32 and contexts 4k and 16k (Mistral-7B shapes, H200:
    // bench/results/h200-2026-11-30-g/run2); elsewhere auto keeps its fused / deferred rule
    if (o.graph_write == 2 && G != H && o.evict.policy == EvictPolicy::Walker) e->opts_.graph_write = 3;
    if (e->opts_.graph_write == 3) {
      // ring half: the refresh interval, at most kLazyRingHalfMax rows (a longer interval -- or none: no
      // walker -- flushes on the decode stream whenever a half fills)
      const size_t P = static_cast<size_t>(std::min(std::max(1, o.evict.refresh), kLazyRingHalfMax));
      e->ring_half_rows_ = static_cast<int>(P);
      if (!(err = e->alloc(reinterpret_cast<void**>(&e->q_ring_), L * B * H * 2 * P * D * sizeof(bf16_t), "the lazy graph write's query ring")).empty())
        return fail(err);
      if (G != H && !(err = e->alloc(reinterpret_cast<void**>(&e->lse_ring_), L * B * H * 2 * P * sizeof(float), "the lazy graph write's lse ring")).empty())
        return fail(err);
      if (!(err = e->alloc(reinterpret_cast<void**>(&e->flush_jobs_), 2 * L * B * sizeof(GraphFlushJob), "the lazy graph write's jobs")).empty()) return fail(err);
      if (!(err = e->check(cudaMallocHost(reinterpret_cast<void**>(&e->host_flush_jobs_), 2 * L * B * sizeof(GraphFlushJob)), "cudaMallocHost")).empty())
        return fail(err);
      if (L * B > 65535) return fail("the lazy graph write launches one job per (layer, sequence): layers x maxBatch must be <= 65535");
    } else if (e->opts_.graph_write != 0) {
      if (!(err = e->alloc(reinterpret_cast<void**>(&e->logits_spill_), L * B * H * C * 4, "the deferred graph write's logits")).empty()) return fail(err);
      if (!(err = e->alloc(reinterpret_cast<void**>(&e->logits_lse2_), L * B * H * 4, "the deferred graph write's log2-sum-exp")).empty()) return fail(err);
      if (!(err = e->check(cudaStreamCreateWithFlags(&e->select_stream_, cudaStreamNonBlocking), "cudaStreamCreate graph select")).empty()) return fail(err);
      if (!(err = e->check(cudaEventCreateWithFlags(&e->ev_fork_, cudaEventDisableTiming), "cudaEventCreate")).empty()) return fail(err);
      if (!(err = e->check(cudaEventCreateWithFlags(&e->ev_join_, cudaEventDisableTiming), "cudaEventCreate")).empty()) return fail(err);
    }
  }
  // eviction state
  const EvictOptions& ev = o.evict;
  if (ev.policy != EvictPolicy::None) {
    if (ev.budget < 1 || ev.budget >= o.capacity)
      return fail("eviction budget " + std::to_string(ev.budget) + " must be in [1, capacity " + std::to_string(o.capacity) + ")");
    if (s.sliding_window > 0) return fail("eviction with a sliding-window model is not supported (the window is counted in slots)");
    const bool scored = ev.policy != EvictPolicy::Streaming;
    if (scored) {
      const size_t bytes = L * B * KVH * C * 4;
      if (!(err = e->alloc(reinterpret_cast<void**>(&e->scores_), bytes, "eviction scores")).empty()) return fail(err);
      if (!(err = e->check(cudaMemset(e->scores_, 0, bytes), "cudaMemset scores")).empty()) return fail(err);
    }
    if (!(err = e->alloc(reinterpret_cast<void**>(&e->remap_), L * KVH * C * 4, "the compaction remap")).empty()) return fail(err);
    if (e->graph_ && !(err = e->alloc(&e->graph_scratch_, G * C * kGraphNodeBytes, "graph scratch")).empty()) return fail(err);
    if (ev.policy == EvictPolicy::Walker) {
      if (!e->graph_) return fail("the walker policy needs the graph cache (graph: true)");
      if (!(err = e->alloc(reinterpret_cast<void**>(&e->counts_), L * B * G * C * 4, "walker counts")).empty()) return fail(err);
      if (!(err = e->alloc(reinterpret_cast<void**>(&e->num_nodes_), L * B * G * 4, "walker counts")).empty()) return fail(err);
      if (!(err = e->check(cudaMallocHost(reinterpret_cast<void**>(&e->host_num_nodes_), L * B * G * 4), "cudaMallocHost")).empty()) return fail(err);
      if (!(err = e->check(cudaStreamCreateWithPriority(&e->walk_stream_, cudaStreamNonBlocking, prio_low), "cudaStreamCreate walker")).empty())
        return fail(err);
      if (!(err = e->check(cudaEventCreateWithFlags(&e->ev_step_, cudaEventDisableTiming), "cudaEventCreate")).empty()) return fail(err);
      if (!(err = e->check(cudaEventCreateWithFlags(&e->ev_walk_done_, cudaEventDisableTiming), "cudaEventCreate")).empty()) return fail(err);
    }
    if (ev.policy == EvictPolicy::PagerankTop4) {
      if (!e->graph_) return fail("the pagerank-top4 policy needs the graph cache (graph: true)");
      const size_t slots = L * G;
      // The causal sweep (teleport > 0, capacity within its shared memory) needs only the result; the power
      // iteration's iterates x / y are allocated for the fallback alone.
      e->pr_sweep_ = ev.teleport > 0.f && static_cast<int64_t>(C) <= kvwalk::pagerank_causal_max_capacity();
      for (double** pp : {&e->pr_x_, &e->pr_y_, &e->pr_out_}) {
        if (e->pr_sweep_ && pp != &e->pr_out_) continue;
        if (!(err = e->alloc(reinterpret_cast<void**>(pp), slots * C * sizeof(double), "PageRank buffers")).empty()) return fail(err);
      }
      if (!(err = e->alloc(reinterpret_cast<void**>(&e->pr_iters_), slots * 4, "PageRank buffers")).empty()) return fail(err);
      if (!(err = e->alloc(reinterpret_cast<void**>(&e->pr_nodes_), slots * 4, "PageRank buffers")).empty()) return fail(err);
      if (!(err = e->alloc(reinterpret_cast<void**>(&e->pr_ids_), B * slots * 8, "PageRank buffers")).empty()) return fail(err);
      std::vector<int64_t> ids(B * slots);
      for (size_t r = 0; r < B; r++)
        for (size_t l = 0; l < L; l++)
          for (size_t h = 0; h < G; h++) ids[r * slots + l * G + h] = static_cast<int64_t>((l * B + r) * G + h);
      if (!(err = e->check(cudaMemcpy(e->pr_ids_, ids.data(), ids.size() * 8, cudaMemcpyHostToDevice), "cudaMemcpy PageRank graph ids")).empty())
        return fail(err);
      e->pr_last_.assign(B, -1);
    }
  }
  // activations
  const size_t T = std::max<size_t>(B, o.max_prefill_tokens);
  e->max_tok_ = static_cast<int>(T);
  const size_t hwidth = std::max({hid, H * D, I});
  const int splits_max = 256;
  const size_t ws_bytes = decode_workspace_bytes(static_cast<int>(B), static_cast<int>(H), static_cast<int>(D), splits_max);
  struct Buf {
    void** p;
    size_t bytes;
    const char* what;
  } bufs[] = {
      {reinterpret_cast<void**>(&e->x_), T * hid * 4, "activations"},
      {reinterpret_cast<void**>(&e->h_), T * hwidth * 2, "activations"},
      {reinterpret_cast<void**>(&e->qkv_), T * qkv_rows * 4, "activations"},
      {reinterpret_cast<void**>(&e->q_), T * H * D * 4, "activations"},
      {reinterpret_cast<void**>(&e->gu_), T * 2 * I * 4, "activations"},
      {reinterpret_cast<void**>(&e->attn_), B * H * D * 4, "activations"},
      {reinterpret_cast<void**>(&e->lse_), L * B * H * 4, "activations"},  // per layer (the lazy write's lse ring reads them after the step)
      {reinterpret_cast<void**>(&e->logits_), static_cast<size_t>(e->opts_.max_logit_rows) * V * 4, "the logits buffer"},
      {reinterpret_cast<void**>(&e->inv_freq_), D / 2 * 4, "activations"},
      {reinterpret_cast<void**>(&e->workspace_), ws_bytes, "the decode workspace"},
      {reinterpret_cast<void**>(&e->ints_), kIntArrays * T * 4, "activations"},
      {reinterpret_cast<void**>(&e->floats_), 3 * B * 4, "activations"},
      {reinterpret_cast<void**>(&e->error_flag_), 4, "activations"},
  };
  for (auto& b : bufs) {
    if (!(err = e->alloc(b.p, b.bytes, b.what)).empty()) return fail(err);
    e->activation_bytes_ += b.bytes;
  }
  if (!(err = e->check(cudaMemset(e->workspace_, 0, ws_bytes), "cudaMemset workspace")).empty()) return fail(err);
  if (o.gemm_split_k > 1 || (o.gemm_split_k < 0 && gemm_context_backend(e->gemm_) == GemmBackend::Cublas)) {
    const size_t bytes = static_cast<size_t>(kSplitKMax) * kSplitKMaxRows * hid * 4;
    if (!(err = e->alloc(reinterpret_cast<void**>(&e->split_parts_), bytes, "split-K partial products")).empty()) return fail(err);
    e->activation_bytes_ += bytes;
  }
  if (o.score_prompt && prefill_score_needs_workspace(prompt_score_mode(ev.policy), e->graph_ != nullptr, static_cast<int>(H / G))) {
    // prompt scoring: bf16 q, lse and column sums of the longest prompt one prefill may hold
    e->score_ws_bytes_ = prefill_score_workspace_bytes(static_cast<int>(T), static_cast<int>(H), static_cast<int>(D));
    if (!(err = e->alloc(&e->score_ws_, e->score_ws_bytes_, "the prompt-scoring workspace")).empty()) return fail(err);
    e->activation_bytes_ += e->score_ws_bytes_;
  }
  if (!(err = e->check(cudaMallocHost(reinterpret_cast<void**>(&e->host_ints_), kIntArrays * T * 4), "cudaMallocHost")).empty())
    return fail(err);
  if (!(err = e->check(cudaMallocHost(reinterpret_cast<void**>(&e->host_floats_), 3 * B * 4), "cudaMallocHost")).empty()) return fail(err);
  // RoPE inverse frequencies exactly as packages/model/src/rope.ts computes them (f32 rounding steps).
  std::vector<float> inv(D / 2);
  for (size_t i = 0; i < D / 2; i++) {
    const float expo = static_cast<float>(static_cast<double>(2 * i) / static_cast<double>(D));
    const float p = static_cast<float>(std::pow(static_cast<double>(s.rope_theta), static_cast<double>(expo)));
    inv[i] = static_cast<float>(1.0 / static_cast<double>(p));
  }
  if (!(err = e->check(cudaMemcpy(e->inv_freq_, inv.data(), inv.size() * 4, cudaMemcpyHostToDevice), "cudaMemcpy inv_freq")).empty())
    return fail(err);
  e->lengths_.assign(B, 0);
  e->positions_.assign(B, 0);
  e->pend_lo_.assign(B, 0);
  e->ring_half_.assign(B, 0);
  e->gemv_rows_ = e->fused_gemv_rows();
  return e;
}

int Engine::split_k_for(int T, int K) const {
  if (!split_parts_ || T < 2 || T > kSplitKMaxRows) return 1;
  const int want = opts_.gemm_split_k < 0 ? (K >= 2048 ? 4 : 1) : std::min(opts_.gemm_split_k, kSplitKMax);
  return want > 1 && gemm_split_k_valid(K, want) ? want : 1;
}

int Engine::fused_gemv_rows() const {
  const ModelShape& s = shape_;
  const int rows = std::min({opts_.fused_gemv_rows, kGemvMaxRows, opts_.max_batch});
  if (rows < 1) return 0;
  const int hid = s.hidden, H = s.heads, KVH = s.kv_heads, D = s.head_dim, I = s.intermediate;
  // Supported at `rows`, and set up (prepare_gemv) for every batch size up to it, so that capturing a
  // decode step into a CUDA graph never meets a first-use attribute call.
  auto ok = [rows](GemvParams g) {
    if (!gemv_unsupported(g).empty()) return false;
    for (int m = 1; m <= rows; m++) {
      g.M = m;
      if (prepare_gemv(g) != cudaSuccess) {
        cudaGetLastError();
        return false;
      }
    }
    return true;
  };
  // Every product of a decode step, at the largest batch it would serve (shared memory grows with rows).
  for (int l = 0; l < s.layers; l++) {
    GemvParams g;
    g.M = rows;
    g.a = x_;
    g.lda = hid;
    g.c = qkv_;
    g.input = GemvInput::RmsNorm;
    g.norm_w = attn_norm_[l];
    g.w = wqkv_[l];
    g.ldw = g.K = hid;
    g.N = g.ldc = (H + 2 * KVH) * D;
    if (!ok(g)) return 0;
    g.input = GemvInput::F32;
    g.w = wo_[l];
    g.ldw = g.K = g.lda = H * D;
    g.N = g.ldc = hid;
    if (!ok(g)) return 0;
    g.input = GemvInput::RmsNorm;
    g.w = wgu_[l];
    g.ldw = g.K = g.lda = hid;
    g.N = 2 * I;
    g.output = GemvOutput::Swiglu;
    g.act = h_;
    g.ld_act = I;
    if (!ok(g)) return 0;
    g.input = GemvInput::Bf16;
    g.output = GemvOutput::F32;
    g.w = wdown_[l];
    g.ldw = g.K = g.lda = I;
    g.N = g.ldc = hid;
    if (!ok(g)) return 0;
  }
  GemvParams g;
  g.M = rows;
  g.a = x_;
  g.lda = g.ldw = g.K = hid;
  g.input = GemvInput::RmsNorm;
  g.norm_w = final_norm_;
  g.w = lm_head_;
  g.N = g.ldc = s.vocab;
  g.c = logits_;
  return ok(g) ? rows : 0;
}

Engine::~Engine() {
  if (stream_) cudaStreamSynchronize(stream_);
  for (void* p : owned_) cudaFree(p);
  if (host_ints_) cudaFreeHost(host_ints_);
  if (host_floats_) cudaFreeHost(host_floats_);
  for (cudaEvent_t ev : events_) cudaEventDestroy(ev);
  for (auto& g : graphs_) cudaGraphExecDestroy(g.second);
  if (walk_stream_) cudaStreamSynchronize(walk_stream_);
  for (auto* v : {&walk_timing_, &compact_timing_})
    for (auto& pr : *v) {
      cudaEventDestroy(pr.first);
      cudaEventDestroy(pr.second);
    }
  for (auto& t : timeline_) {
    cudaEventDestroy(t.a);
    cudaEventDestroy(t.b);
  }
  if (timeline_base_) cudaEventDestroy(timeline_base_);
  if (ev_step_) cudaEventDestroy(ev_step_);
  if (ev_walk_done_) cudaEventDestroy(ev_walk_done_);
  if (select_stream_) cudaStreamSynchronize(select_stream_);
  if (ev_fork_) cudaEventDestroy(ev_fork_);
  if (ev_join_) cudaEventDestroy(ev_join_);
  if (select_stream_) cudaStreamDestroy(select_stream_);
  if (host_num_nodes_) cudaFreeHost(host_num_nodes_);
  if (host_flush_jobs_) cudaFreeHost(host_flush_jobs_);
  if (walk_stream_) cudaStreamDestroy(walk_stream_);
  if (gemm_) gemm_context_destroy(gemm_);
  if (stream_) cudaStreamDestroy(stream_);
}

std::string Engine::gemm_name() const { return gemm_backend_name(gemm_); }

std::string Engine::upload(WeightKind kind, int layer, int row_offset, int rows, int cols, const float* f32, const uint16_t* bf16) {
  const ModelShape& s = shape_;
  bf16_t* base = nullptr;
  int total_rows = 0, want_cols = 0;
  const bool per_layer = kind >= WeightKind::AttnNorm;
  if (per_layer && (layer < 0 || layer >= s.layers)) return "layer " + std::to_string(layer) + " out of range [0, " + std::to_string(s.layers) + ")";
  switch (kind) {
    case WeightKind::Embed: base = embed_, total_rows = s.vocab, want_cols = s.hidden; break;
    case WeightKind::LmHead:
      if (s.tied_embeddings) return "the LM head is tied to the embedding; upload the embedding only";
      base = lm_head_, total_rows = s.vocab, want_cols = s.hidden;
      break;
    case WeightKind::FinalNorm: base = final_norm_, total_rows = 1, want_cols = s.hidden; break;
    case WeightKind::AttnNorm: base = attn_norm_[layer], total_rows = 1, want_cols = s.hidden; break;
    case WeightKind::MlpNorm: base = mlp_norm_[layer], total_rows = 1, want_cols = s.hidden; break;
    case WeightKind::Wqkv: base = wqkv_[layer], total_rows = (s.heads + 2 * s.kv_heads) * s.head_dim, want_cols = s.hidden; break;
    case WeightKind::Wo: base = wo_[layer], total_rows = s.hidden, want_cols = s.heads * s.head_dim; break;
    case WeightKind::Wgu: base = wgu_[layer], total_rows = 2 * s.intermediate, want_cols = s.hidden; break;
    case WeightKind::Wdown: base = wdown_[layer], total_rows = s.hidden, want_cols = s.intermediate; break;
    default: return "unknown weight kind " + std::to_string(static_cast<int>(kind));
  }
  if (cols != want_cols) return "expected " + std::to_string(want_cols) + " columns but received " + std::to_string(cols);
  if (row_offset < 0 || rows < 0 || row_offset + rows > total_rows)
    return "rows [" + std::to_string(row_offset) + ", " + std::to_string(row_offset + rows) + ") exceed the " + std::to_string(total_rows) +
           " rows of the weight";
  const size_t n = static_cast<size_t>(rows) * cols;
  std::vector<uint16_t> tmp;
  const uint16_t* src = bf16;
  if (!src) {
    tmp.resize(n);
    for (size_t i = 0; i < n; i++) tmp[i] = f32_to_bf16_host(f32[i]);
    src = tmp.data();
  }
  return check(cudaMemcpy(base + static_cast<size_t>(row_offset) * cols, src, n * 2, cudaMemcpyHostToDevice), "cudaMemcpy weight");
}

std::string Engine::randomize(uint32_t seed, float amplitude) {
  const ModelShape& s = shape_;
  const size_t hid = s.hidden, H = s.heads, KVH = s.kv_heads, D = s.head_dim, I = s.intermediate;
  uint32_t k = seed;
  auto mat = [&](bf16_t* p, size_t n) { return launch_fill_uniform_bf16(p, n, k++ * 2654435761u + 12345u, amplitude, stream_); };
  auto one = [&](bf16_t* p, size_t n) { return launch_fill_const_bf16(p, n, 1.f, stream_); };
  cudaError_t e = mat(embed_, s.vocab * hid);
  if (e == cudaSuccess && !s.tied_embeddings) e = mat(lm_head_, s.vocab * hid);
  if (e == cudaSuccess) e = one(final_norm_, hid);
  for (int l = 0; l < s.layers && e == cudaSuccess; l++) {
    e = one(attn_norm_[l], hid);
    if (e == cudaSuccess) e = one(mlp_norm_[l], hid);
    if (e == cudaSuccess) e = mat(wqkv_[l], (H + 2 * KVH) * D * hid);
    if (e == cudaSuccess) e = mat(wo_[l], hid * H * D);
    if (e == cudaSuccess) e = mat(wgu_[l], 2 * I * hid);
    if (e == cudaSuccess) e = mat(wdown_[l], hid * I);
  }
  if (e == cudaSuccess) e = cudaStreamSynchronize(stream_);
  return check(e, "random weights");
}

std::string Engine::fill_cache_random(uint32_t seed) {
  cudaError_t e = launch_fill_uniform_bf16(kv_, kv_bytes_ / 2, seed, 1.f, stream_);
  if (e == cudaSuccess) e = cudaStreamSynchronize(stream_);
  return check(e, "fill KV cache");
}

// A new sequence in `region` must not inherit the previous one's eviction scores or graph nodes (the
// walker would walk stale edges, H2O would start from old attention mass). Enqueued on the decode
// stream after any walker refresh in flight.
std::string Engine::clear_region_state(int region) {
  const ModelShape& s = shape_;
  const size_t L = s.layers, R = opts_.max_batch, C = opts_.capacity;
  cudaError_t e = cudaSuccess;
  if (walk_pending_ && ev_walk_done_) e = cudaStreamWaitEvent(stream_, ev_walk_done_, 0);
  if (e == cudaSuccess && scores_) {
    const size_t row = static_cast<size_t>(s.kv_heads) * C * sizeof(float);
    e = cudaMemset2DAsync(reinterpret_cast<char*>(scores_) + region * row, R * row, 0, row, L, stream_);
  }
  if (e == cudaSuccess && graph_) {
    const size_t row = static_cast<size_t>(graph_heads_) * C * kGraphNodeBytes;
    e = cudaMemset2DAsync(static_cast<char*>(graph_) + region * row, R * row, 0xff, row, L, stream_);
  }
  if (!pr_last_.empty()) pr_last_[region] = -1;
  return check(e, "clearing a region's eviction state");
}

void Engine::reset(int region) {
  lengths_[region] = 0;
  positions_[region] = 0;
  pend_lo_[region] = 0;
  if (!pr_last_.empty()) pr_last_[region] = -1;
}

std::string Engine::set_length(int region, int length) {
  if (region < 0 || region >= opts_.max_batch) return "region out of range";
  if (length < 0 || length > opts_.capacity) return "length out of range";
  lengths_[region] = length;
  positions_[region] = length;
  pend_lo_[region] = length;  // rows set this way were never decoded: no pending nodes
  return "";
}

void Engine::mark(int phase) {
  if (!opts_.profile) return;
  const size_t i = event_phase_.size();
  if (i >= events_.size()) {
    cudaEvent_t ev;
    if (cudaEventCreate(&ev) != cudaSuccess) return;
    events_.push_back(ev);
  }
  cudaEventRecord(events_[i], stream_);
  event_phase_.push_back(phase);
}

StepTimes Engine::take_times() {
  if (opts_.profile && event_phase_.size() > 1) {
    cudaStreamSynchronize(stream_);
    for (size_t i = 1; i < event_phase_.size(); i++) {
      float ms = 0;
      cudaEventElapsedTime(&ms, events_[i - 1], events_[i]);
      const int ph = event_phase_[i];
      (ph == 0 ? times_.gemm_ms : ph == 1 ? times_.attention_ms : times_.other_ms) += ms;
    }
  }
  event_phase_.clear();
  StepTimes t = times_;
  times_ = StepTimes{};
  return t;
}

// x_ holds T token embeddings; device int arrays hold positions/region/slot (and lengths/starts for decode).
// Rows [0, decode_rows) are decode rows (row b = region b, one new token attending to its cache);
// rows of the prefill sequences follow (seq_starts: absolute row offsets, seq_regions: their regions).
// A mixed step has both.
std::string Engine::forward_layers(int T, int decode_rows, const std::vector<int>& seq_starts, const std::vector<int>& seq_regions, int max_len) {
  const ModelShape& s = shape_;
  const int H = s.heads, KVH = s.kv_heads, D = s.head_dim, hid = s.hidden, I = s.intermediate;
  const int qkv_rows = (H + 2 * KVH) * D;
  const size_t B = opts_.max_batch, C = opts_.capacity;
  const size_t layer_kv = B * KVH * C * D;  // elements of K (or V) per layer
  const float scale = 1.f / std::sqrt(static_cast<float>(D));
  int* d_pos = ints_ + kPositions * max_tok_;
  int* d_region = ints_ + kRegion * max_tok_;
  int* d_slot = ints_ + kSlot * max_tok_;
  int* d_len = ints_ + kLengths * max_tok_;
  int* d_starts = ints_ + kStarts * max_tok_;
  cudaError_t e = cudaSuccess;
#define KV_TRY(expr, what)                              \
  do {                                                  \
    e = (expr);                                         \
    if (e != cudaSuccess) return check(e, what);        \
  } while (0)
  const bool decode = decode_rows > 0;
  const int Bd = decode_rows;
  const bool fused = decode_rows == T && T <= gemv_rows_;
  // Prompt scoring of the prefill rows (score_prompt): -1 none, 0 H2O, 1 TOVA (graph nodes whenever
  // the graph cache exists).
  const bool score = opts_.score_prompt;
  const int score_mode = !score || !score_ws_ ? -1 : prompt_score_mode(opts_.evict.policy);
  // A fused GEMV over this step's T rows (see launch_gemv).
  auto gemv = [&](const void* a, int lda, GemvInput in, const bf16_t* norm_w, const bf16_t* w, int K, int N, float* c, bool acc) {
    GemvParams g;
    g.a = a;
    g.lda = lda;
    g.input = in;
    g.norm_w = norm_w;
    g.eps = s.rms_eps;
    g.w = w;
    g.ldw = K;
    g.M = T;
    g.N = N;
    g.K = K;
    g.c = c;
    g.ldc = N;
    g.accumulate = acc;
    g.pdl = true;
    return g;
  };
  // Split-K of the O and down projections (see EngineOptions::gemm_split_k); h_normed: the previous
  // layer's down-projection epilogue already wrote this layer's attention RMSNorm into h_.
  const int split_o = fused ? 1 : split_k_for(T, H * D);
  const int split_down = fused ? 1 : split_k_for(T, I);
  bool h_normed = false;
  // Deferred graph write: each layer's top-4 selection runs on select_stream_, forked after the layer's
  // attention; the fork joins back into stream_ after the last layer (also on an early error return, so
  // a stream capture never ends with the side stream unjoined).
  const bool use_grouped = decode && decode_use_grouped(opts_.grouped_decode, Bd, H, KVH, D, sm_count_);
  const int G = graph_heads_;
  const bool deferred = decode && graph_ && select_stream_ && (G != H || decode_defer_graph(opts_.graph_write, use_grouped, Bd, H, sm_count_));
  // lazy graph write: the decode rows store their rotated queries (a mixed step's prompt rows have ring row -1:
  // prompt scoring writes their nodes); no node is written here
  const bool lazy_rows = decode && lazy();
  const int ring_rows = 2 * ring_half_rows_;
  bool forked = false;
  struct Join {
    Engine* e;
    bool* forked;
    ~Join() {
      if (!*forked) return;
      if (cudaEventRecord(e->ev_join_, e->select_stream_) == cudaSuccess) cudaStreamWaitEvent(e->stream_, e->ev_join_, 0);
    }
  } join{this, &forked};
  for (int l = 0; l < s.layers; l++) {
    bf16_t* kc = kv_ + static_cast<size_t>(l) * 2 * layer_kv;
    bf16_t* vc = kc + layer_kv;
    if (fused) {
      KV_TRY(launch_gemv(gemv(x_, hid, GemvInput::RmsNorm, attn_norm_[l], wqkv_[l], hid, qkv_rows, qkv_, false), stream_), "gemv qkv");
    } else {
      if (!h_normed) {
        KV_TRY(launch_rmsnorm(x_, attn_norm_[l], T, hid, s.rms_eps, h_, stream_), "rmsnorm");
        mark(2);
      }
      h_normed = false;
      KV_TRY(launch_gemm(gemm_, h_, hid, wqkv_[l], hid, qkv_, qkv_rows, T, qkv_rows, hid, false, stream_), "gemm qkv");
    }
    mark(0);
    bf16_t* ring = lazy_rows ? q_ring_ + static_cast<size_t>(l) * B * H * ring_rows * D : nullptr;
    KV_TRY(launch_rope_append(qkv_, T, H, KVH, D, inv_freq_, d_pos, d_region, d_slot, static_cast<int>(C), q_, kc, vc, stream_, ring,
                              ring ? ints_ + kRing * max_tok_ : nullptr, ring_rows),
           "rope");
    mark(2);
    if (decode) {
      DecodeArgs a{};
      a.q = q_;
      a.k = kc;
      a.v = vc;
      a.lengths = d_len;
      a.starts = s.sliding_window > 0 ? d_starts : nullptr;
      a.out = attn_;
      a.lse = lse_ + static_cast<size_t>(l) * B * H;
      a.batch = Bd;
      a.num_heads = H;
      a.num_kv_heads = KVH;
      a.head_dim = D;
      a.kv_capacity = static_cast<int>(C);
      a.max_length = max_len;
      a.scale = scale;
      a.grouped = use_grouped ? 1 : 0;
      a.num_splits = decode_choose_splits(use_grouped, graph_ != nullptr && !deferred && !lazy(), Bd, H, KVH, max_len, sm_count_);
      a.workspace = workspace_;
      a.workspace_batch = opts_.max_batch;
      void* layer_graph = graph_ ? static_cast<char*>(graph_) + static_cast<size_t>(l) * B * G * C * kGraphNodeBytes : nullptr;
      a.graph = deferred || lazy() ? nullptr : layer_graph;
      if (deferred) {
        a.logits = logits_spill_ + static_cast<size_t>(l) * B * H * C;
        a.logits_lse2 = logits_lse2_ + static_cast<size_t>(l) * B * H;
        a.logits_stride = static_cast<int>(C);
      }
      a.nodes = nullptr;
      a.graph_capacity = static_cast<int>(C);
      a.layout = 0;
      // The preceding kernel is this layer's RoPE + append, which writes only q and key lengths-1:
      // the attention may request the rest of its first K/V tile before that kernel ends.
      a.pdl = true;
      // Unfused steps feed the O projection a bf16 copy written by the attention's merge (no convert kernel).
      a.out_bf16 = fused ? nullptr : h_;
      KV_TRY(launch_decode_attention(a, stream_), "decode attention");
      if (deferred) {
        KV_TRY(cudaEventRecord(ev_fork_, stream_), "fork the graph selection");
        KV_TRY(cudaStreamWaitEvent(select_stream_, ev_fork_, 0), "fork the graph selection");
        forked = true;
        GraphSelectArgs ga{a.logits, a.logits_lse2, a.logits_stride, d_len, a.starts, nullptr, Bd, H, layer_graph, static_cast<int>(C), 0, H / G};
        KV_TRY(launch_graph_select(ga, select_stream_), "graph select");
      }
      if (opts_.evict.policy == EvictPolicy::H2O || opts_.evict.policy == EvictPolicy::Tova) {
        const bool h2o = opts_.evict.policy == EvictPolicy::H2O;
        KV_TRY(launch_attention_mass(q_, kc, a.lse, d_len, a.starts, Bd, H, KVH, D, static_cast<int>(C), scale, h2o ? 0 : 1,
                                     opts_.evict.h2o_decay, scores_ + static_cast<size_t>(l) * B * KVH * C, stream_),
               "attention mass");
      }
      mark(1);
    }
    if (seq_starts.size() > 1) {
      for (size_t i = 0; i + 1 < seq_starts.size(); i++) {
        const int t0 = seq_starts[i], n = seq_starts[i + 1] - t0;
        const size_t roff = static_cast<size_t>(seq_regions[i]) * KVH * C * D;
        KV_TRY(launch_prefill_attention(q_ + static_cast<size_t>(t0) * H * D, kc + roff, vc + roff, n, H, KVH, D, static_cast<int>(C),
                                        s.sliding_window, scale, h_ + static_cast<size_t>(t0) * H * D, stream_),
               "prefill attention");
        if (score_mode >= 0 || (score && graph_)) {
          // What decode steps over rows t0 .. t0+n-1 would have written: graph nodes 0..n-1 of the
          // region (layer offset as in the decode branch) and the region's H2O / TOVA scores.
          const size_t r = static_cast<size_t>(seq_regions[i]);
          PrefillScoreArgs sa;
          sa.q = q_ + static_cast<size_t>(t0) * H * D;
          sa.k = kc + roff;
          sa.T = n;
          sa.H = H;
          sa.KVH = KVH;
          sa.D = D;
          sa.capacity = static_cast<int>(C);
          sa.window = s.sliding_window;
          sa.scale = scale;
          sa.graph = graph_ ? static_cast<char*>(graph_) + (static_cast<size_t>(l) * B + r) * G * C * kGraphNodeBytes : nullptr;
          sa.graph_capacity = static_cast<int>(C);
          sa.graph_group = H / G;
          sa.mode = score_mode;
          sa.decay = opts_.evict.h2o_decay;
          sa.scores = score_mode >= 0 ? scores_ + (static_cast<size_t>(l) * B + r) * KVH * C : nullptr;
          sa.score_capacity = static_cast<int>(C);
          sa.workspace = score_ws_;
          sa.workspace_bytes = score_ws_bytes_;
          KV_TRY(launch_prefill_score(sa, stream_), "prompt scoring");
        }
      }
      mark(1);
    }
    if (fused) {
      KV_TRY(launch_gemv(gemv(attn_, H * D, GemvInput::F32, nullptr, wo_[l], H * D, hid, x_, true), stream_), "gemv o");
      mark(0);
      GemvParams gu = gemv(x_, hid, GemvInput::RmsNorm, mlp_norm_[l], wgu_[l], hid, 2 * I, nullptr, false);
      gu.output = GemvOutput::Swiglu;
      gu.act = h_;
      gu.ld_act = I;
      KV_TRY(launch_gemv(gu, stream_), "gemv gate/up + swiglu");
      mark(0);
      KV_TRY(launch_gemv(gemv(h_, I, GemvInput::Bf16, nullptr, wdown_[l], I, hid, x_, true), stream_), "gemv down");
      mark(0);
      continue;
    }
    if (split_o > 1) {
      KV_TRY(launch_gemm_split_k(gemm_, h_, H * D, wo_[l], H * D, split_parts_, T, hid, H * D, split_o, stream_), "gemm o (split-K)");
      mark(0);
      KV_TRY(launch_residual_rmsnorm(x_, split_parts_, split_o, x_, mlp_norm_[l], T, hid, s.rms_eps, h_, stream_), "split-K sum + rmsnorm");
    } else {
      KV_TRY(launch_gemm(gemm_, h_, H * D, wo_[l], H * D, x_, hid, T, hid, H * D, true, stream_), "gemm o");
      mark(0);
      KV_TRY(launch_rmsnorm(x_, mlp_norm_[l], T, hid, s.rms_eps, h_, stream_), "rmsnorm");
    }
    mark(2);
    KV_TRY(launch_gemm(gemm_, h_, hid, wgu_[l], hid, gu_, 2 * I, T, 2 * I, hid, false, stream_), "gemm gate/up");
    mark(0);
    KV_TRY(launch_swiglu(gu_, T, I, h_, stream_), "swiglu");
    mark(2);
    if (split_down > 1) {
      KV_TRY(launch_gemm_split_k(gemm_, h_, I, wdown_[l], I, split_parts_, T, hid, I, split_down, stream_), "gemm down (split-K)");
      mark(0);
      // The sum goes into the residual stream; the next layer's attention RMSNorm comes with it.
      h_normed = l + 1 < s.layers;
      KV_TRY(launch_residual_rmsnorm(x_, split_parts_, split_down, x_, h_normed ? attn_norm_[l + 1] : nullptr, T, hid, s.rms_eps, h_, stream_),
             "split-K sum + rmsnorm");
      mark(2);
    } else {
      KV_TRY(launch_gemm(gemm_, h_, I, wdown_[l], I, x_, hid, T, hid, I, true, stream_), "gemm down");
      mark(0);
    }
  }
  if (lazy_rows && lse_ring_) {
    // every layer's lse of this step into the lazy write's lse ring (one launch per step)
    KV_TRY(launch_lse_ring_store(lse_, s.layers, Bd, static_cast<int>(B), H, static_cast<int>(B), ring_rows, d_region, ints_ + kRing * max_tok_, lse_ring_, stream_),
           "lse ring");
    mark(2);
  }
#undef KV_TRY
  (void)d_pos;
  return "";
}

std::string Engine::prefill(const std::vector<int>& regions, const std::vector<int>& tokens, const std::vector<int>& offsets,
                            float* logits_out, float* all_logits) {
  const ModelShape& s = shape_;
  const int T = static_cast<int>(tokens.size());
  const int n = static_cast<int>(regions.size());
  if (T > max_tok_) return "prefill of " + std::to_string(T) + " tokens exceeds maxPrefillTokens " + std::to_string(max_tok_);
  std::string checked = check_prompts(offsets);
  if (!checked.empty()) return checked;
  std::string staged = stage_prompt_rows(0, regions, tokens, offsets);
  if (!staged.empty()) return staged;
  cudaError_t e = cudaSuccess;
  mark(2);
  for (int a = 0; a < 4 && e == cudaSuccess; a++)
    e = cudaMemcpyAsync(ints_ + a * max_tok_, host_ints_ + a * max_tok_, T * 4, cudaMemcpyHostToDevice, stream_);
  if (e == cudaSuccess) e = cudaMemsetAsync(error_flag_, 0, 4, stream_);
  if (e == cudaSuccess) e = launch_embed(ints_ + kTokens * max_tok_, T, embed_, s.vocab, s.hidden, x_, error_flag_, stream_);
  if (e != cudaSuccess) return check(e, "prefill input");
  mark(2);
  std::string err = forward_layers(T, 0, offsets, regions, 0);
  if (!err.empty()) return err;
  const int V = s.vocab, hid = s.hidden;
  // Last-token logits of each sequence: normalize those rows only, then one LM-head GEMM.
  for (int i = 0; i < n && e == cudaSuccess; i++)
    e = launch_rmsnorm(x_ + static_cast<size_t>(offsets[i + 1] - 1) * hid, final_norm_, 1, hid, s.rms_eps, h_ + static_cast<size_t>(i) * hid, stream_);
  mark(2);
  if (e == cudaSuccess && logits_out) {
    for (int r0 = 0; r0 < n && e == cudaSuccess; r0 += opts_.max_logit_rows) {
      const int rows = std::min(opts_.max_logit_rows, n - r0);
      e = launch_gemm(gemm_, h_ + static_cast<size_t>(r0) * hid, hid, lm_head_, hid, logits_, V, rows, V, hid, false, stream_);
      if (e == cudaSuccess) e = cudaMemcpyAsync(logits_out + static_cast<size_t>(r0) * V, logits_, static_cast<size_t>(rows) * V * 4, cudaMemcpyDeviceToHost, stream_);
      if (e == cudaSuccess) e = cudaStreamSynchronize(stream_);
    }
    mark(0);
  }
  if (e == cudaSuccess && all_logits) {
    e = launch_rmsnorm(x_, final_norm_, T, hid, s.rms_eps, h_, stream_);
    for (int r0 = 0; r0 < T && e == cudaSuccess; r0 += opts_.max_logit_rows) {
      const int rows = std::min(opts_.max_logit_rows, T - r0);
      e = launch_gemm(gemm_, h_ + static_cast<size_t>(r0) * hid, hid, lm_head_, hid, logits_, V, rows, V, hid, false, stream_);
      if (e == cudaSuccess) e = cudaMemcpyAsync(all_logits + static_cast<size_t>(r0) * V, logits_, static_cast<size_t>(rows) * V * 4, cudaMemcpyDeviceToHost, stream_);
      if (e == cudaSuccess) e = cudaStreamSynchronize(stream_);
    }
  }
  int flag = 0;
  if (e == cudaSuccess) e = cudaMemcpyAsync(&flag, error_flag_, 4, cudaMemcpyDeviceToHost, stream_);
  if (e == cudaSuccess) e = cudaStreamSynchronize(stream_);
  if (e != cudaSuccess) return check(e, "prefill");
  if (flag) return "a token id is outside the vocabulary [0, " + std::to_string(V) + ")";
  start_sequences(regions, offsets);
  return "";
}

std::string Engine::check_prompts(const std::vector<int>& offsets) const {
  for (size_t i = 0; i + 1 < offsets.size(); i++) {
    const int len = offsets[i + 1] - offsets[i];
    if (len < 1) return "sequence " + std::to_string(i) + " has an empty prompt";
    if (len > opts_.capacity) return "prompt of " + std::to_string(len) + " tokens exceeds the cache capacity " + std::to_string(opts_.capacity);
    if (len > shape_.max_positions) return "prompt of " + std::to_string(len) + " tokens exceeds the model's maximum positions " + std::to_string(shape_.max_positions);
  }
  return "";
}

std::string Engine::stage_prompt_rows(int row0, const std::vector<int>& regions, const std::vector<int>& tokens, const std::vector<int>& offsets) {
  int* h_tok = host_ints_ + kTokens * max_tok_;
  int* h_pos = host_ints_ + kPositions * max_tok_;
  int* h_reg = host_ints_ + kRegion * max_tok_;
  int* h_slot = host_ints_ + kSlot * max_tok_;
  int* h_ring = host_ints_ + kRing * max_tok_;
  for (size_t i = 0; i < regions.size(); i++) {
    for (int t = offsets[i]; t < offsets[i + 1]; t++) {
      h_tok[row0 + t] = tokens[t];
      h_pos[row0 + t] = t - offsets[i];
      h_reg[row0 + t] = regions[i];
      h_slot[row0 + t] = t - offsets[i];
      h_ring[row0 + t] = -1;  // no query ring row (lazy graph write): prompt scoring writes these nodes
    }
    std::string err = clear_region_state(regions[i]);
    if (!err.empty()) return err;
  }
  return "";
}

void Engine::start_sequences(const std::vector<int>& regions, const std::vector<int>& offsets) {
  for (size_t i = 0; i < regions.size(); i++) {
    const int len = offsets[i + 1] - offsets[i];
    lengths_[regions[i]] = len;
    positions_[regions[i]] = len;
    pend_lo_[regions[i]] = len;  // prompt rows: prompt scoring's nodes
  }
}

bool Engine::walker_due() const {
  return opts_.evict.policy == EvictPolicy::Walker && step_counter_ % static_cast<uint32_t>(std::max(1, opts_.evict.refresh)) == 0;
}

std::string Engine::decode_body(int B, int max_len) {
  const ModelShape& s = shape_;
  cudaError_t e = launch_embed(ints_ + kTokens * max_tok_, B, embed_, s.vocab, s.hidden, x_, error_flag_, stream_);
  if (e != cudaSuccess) return check(e, "embedding");
  mark(2);
  std::string err = forward_layers(B, B, {}, {}, max_len);
  if (!err.empty()) return err;
  if (B <= gemv_rows_) {
    GemvParams g;
    g.a = x_;
    g.lda = g.ldw = g.K = s.hidden;
    g.input = GemvInput::RmsNorm;
    g.norm_w = final_norm_;
    g.eps = s.rms_eps;
    g.w = lm_head_;
    g.M = B;
    g.N = g.ldc = s.vocab;
    g.c = logits_;
    g.pdl = true;
    e = launch_gemv(g, stream_);
    if (e != cudaSuccess) return check(e, "final norm + LM head (gemv)");
    mark(0);
    return "";
  }
  e = launch_rmsnorm(x_, final_norm_, B, s.hidden, s.rms_eps, h_, stream_);
  if (e != cudaSuccess) return check(e, "final norm");
  mark(2);
  e = launch_gemm(gemm_, h_, s.hidden, lm_head_, s.hidden, logits_, s.vocab, B, s.vocab, s.hidden, false, stream_);
  if (e != cudaSuccess) return check(e, "LM head");
  mark(0);
  return "";
}

std::string Engine::stage_decode_rows(const std::vector<int>& tokens, int B, int* max_len) {
  const ModelShape& s = shape_;
  int* h_tok = host_ints_ + kTokens * max_tok_;
  int* h_pos = host_ints_ + kPositions * max_tok_;
  int* h_reg = host_ints_ + kRegion * max_tok_;
  int* h_slot = host_ints_ + kSlot * max_tok_;
  int* h_len = host_ints_ + kLengths * max_tok_;
  int* h_starts = host_ints_ + kStarts * max_tok_;
  *max_len = 0;
  for (int b = 0; b < B; b++) {
    if (lengths_[b] < 1) return "sequence " + std::to_string(b) + " has no prompt (prefill it first)";
    if (lengths_[b] >= opts_.capacity) {
      if (opts_.evict.policy == EvictPolicy::None)
        return "sequence " + std::to_string(b) + " filled its cache (capacity " + std::to_string(opts_.capacity) + ")";
      std::string err = compact(b);
      if (!err.empty()) return err;
    }
    if (lazy() && lengths_[b] - pend_lo_[b] >= ring_half_rows_) {
      // a ring half is full (no walker refresh took these rows): write their nodes now
      std::string err = flush_graph(b, b + 1, 0, stream_, false);
      if (!err.empty()) return err;
    }
    const int len = lengths_[b];
    if (positions_[b] >= s.max_positions) return "sequence " + std::to_string(b) + " reached the model's maximum positions " + std::to_string(s.max_positions);
    h_tok[b] = tokens[b];
    h_pos[b] = positions_[b];
    h_reg[b] = b;
    h_slot[b] = len;
    h_len[b] = len + 1;
    h_starts[b] = s.sliding_window > 0 ? std::max(0, len + 1 - s.sliding_window) : 0;
    if (lazy()) host_ints_[kRing * max_tok_ + b] = ring_half_[b] * ring_half_rows_ + (len - pend_lo_[b]);
    *max_len = std::max(*max_len, len + 1);
  }
  return "";
}

void Engine::stage_sampling(int rows, const float* temperature, const float* top_p) {
  for (int r = 0; r < rows; r++) {
    host_floats_[r] = temperature ? temperature[r] : 0.f;
    host_floats_[opts_.max_batch + r] = top_p ? top_p[r] : 1.f;
  }
}

std::string Engine::finish_step(int rows, uint32_t seed, int* next, float* logprob, float* logits_out, int tl_step, const char* what) {
  const int V = shape_.vocab;
  int* d_next = ints_ + kNext * max_tok_;
  float* d_logprob = floats_ + 2 * opts_.max_batch;
  cudaError_t e = launch_sample(logits_, rows, V, floats_, floats_ + opts_.max_batch, seed, step_counter_, d_next, d_logprob, stream_);
  if (e == cudaSuccess) e = cudaMemcpyAsync(host_ints_ + kNext * max_tok_, d_next, rows * 4, cudaMemcpyDeviceToHost, stream_);
  if (e == cudaSuccess) e = cudaMemcpyAsync(host_floats_ + 2 * opts_.max_batch, d_logprob, rows * 4, cudaMemcpyDeviceToHost, stream_);
  if (e == cudaSuccess && logits_out) e = cudaMemcpyAsync(logits_out, logits_, static_cast<size_t>(rows) * V * 4, cudaMemcpyDeviceToHost, stream_);
  int flag = 0;
  if (e == cudaSuccess) e = cudaMemcpyAsync(&flag, error_flag_, 4, cudaMemcpyDeviceToHost, stream_);
  mark(2);
  tl_end(tl_step, stream_);
  if (e == cudaSuccess) e = cudaStreamSynchronize(stream_);
  if (e != cudaSuccess) return check(e, what);
  if (flag) return "a token id is outside the vocabulary [0, " + std::to_string(V) + ")";
  for (int r = 0; r < rows; r++) {
    next[r] = host_ints_[kNext * max_tok_ + r];
    if (logprob) logprob[r] = host_floats_[2 * opts_.max_batch + r];
  }
  return "";
}

std::string Engine::decode(const std::vector<int>& tokens, const float* temperature, const float* top_p, uint32_t seed, int* next,
                           float* logprob, float* logits_out) {
  const int B = static_cast<int>(tokens.size());
  if (B < 1 || B > opts_.max_batch) return "batch " + std::to_string(B) + " outside [1, maxBatch " + std::to_string(opts_.max_batch) + "]";
  int max_len = 0;
  std::string staged = stage_decode_rows(tokens, B, &max_len);
  if (!staged.empty()) return staged;
  stage_sampling(B, temperature, top_p);
  cudaError_t e = cudaSuccess;
  const int tl_step = tl_begin(0, stream_);
  mark(2);
  // the int arrays are laid out [kIntArrays][max_tok]; copy the first 6 rows' B entries each (and the
  // lazy graph write's ring rows)
  for (int a = 0; a < 6 && e == cudaSuccess; a++)
    e = cudaMemcpyAsync(ints_ + a * max_tok_, host_ints_ + a * max_tok_, B * 4, cudaMemcpyHostToDevice, stream_);
  if (lazy() && e == cudaSuccess) e = cudaMemcpyAsync(ints_ + kRing * max_tok_, host_ints_ + kRing * max_tok_, B * 4, cudaMemcpyHostToDevice, stream_);
  if (e == cudaSuccess) e = cudaMemcpyAsync(floats_, host_floats_, 2 * opts_.max_batch * 4, cudaMemcpyHostToDevice, stream_);
  if (e == cudaSuccess) e = cudaMemsetAsync(error_flag_, 0, 4, stream_);
  if (e != cudaSuccess) return check(e, "decode input");
  mark(2);
  if (opts_.cuda_graphs && !opts_.profile) {
    auto it = graphs_.find(B);
    if (it == graphs_.end()) {
      e = cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal);
      if (e != cudaSuccess) return check(e, "cudaStreamBeginCapture");
      std::string body = decode_body(B, opts_.capacity);
      cudaGraph_t graph = nullptr;
      const cudaError_t end = cudaStreamEndCapture(stream_, &graph);
      if (!body.empty() || end != cudaSuccess) {
        if (graph) cudaGraphDestroy(graph);
        cudaGetLastError();
        return !body.empty() ? body : check(end, "cudaStreamEndCapture");
      }
      cudaGraphExec_t exec = nullptr;
      e = cudaGraphInstantiate(&exec, graph, 0);
      cudaGraphDestroy(graph);
      if (e != cudaSuccess) return check(e, "cudaGraphInstantiate");
      it = graphs_.emplace(B, exec).first;
    }
    e = cudaGraphLaunch(it->second, stream_);
    if (e != cudaSuccess) return check(e, "cudaGraphLaunch");
  } else {
    std::string body = decode_body(B, max_len);
    if (!body.empty()) return body;
  }
  if (walker_due()) {
    std::string err = walker_refresh(B);
    if (!err.empty()) return err;
  }
  std::string done = finish_step(B, seed, next, logprob, logits_out, tl_step, "decode");
  if (!done.empty()) return done;
  for (int b = 0; b < B; b++) {
    lengths_[b] += 1;
    positions_[b] += 1;
  }
  step_counter_++;
  times_.steps++;
  return "";
}

std::string Engine::mixed(const std::vector<int>& tokens, const std::vector<int>& prompts, const std::vector<int>& offsets, const float* temperature,
                          const float* top_p, uint32_t seed, int* next, float* logprob, float* logits_out) {
  const ModelShape& s = shape_;
  const int Bd = static_cast<int>(tokens.size());
  const int n = static_cast<int>(offsets.size()) - 1;  // new sequences, regions Bd..Bd+n-1
  const int P = static_cast<int>(prompts.size());
  const int T = Bd + P;
  // With eviction on, the decode rows compact (stage_decode_rows), accumulate attention mass and write graph
  // nodes (or, with the lazy write, store their queries) as in a decode step, the prompt rows are scored as in a
  // prefill, and the walker refreshes the decode rows' regions after the step as a decode step would: the step
  // equals a decode step followed by a prefill.
  if (n < 1 || offsets[0] != 0 || offsets[n] != P) return "mixed step: prompt offsets must run from 0 to the prompts' length " + std::to_string(P);
  if (Bd < 1 || Bd + n > opts_.max_batch)
    return "mixed step of " + std::to_string(Bd) + " decoding sequences and " + std::to_string(n) + " prompts: needs 1 to maxBatch - prompts (" +
           std::to_string(opts_.max_batch - n) + ") decoding sequences";
  if (T > max_tok_) return "mixed step of " + std::to_string(T) + " rows exceeds maxPrefillTokens " + std::to_string(max_tok_);
  std::string checked = check_prompts(offsets);
  if (!checked.empty()) return checked;
  int max_len = 0;
  std::string staged = stage_decode_rows(tokens, Bd, &max_len);
  if (!staged.empty()) return staged;
  std::vector<int> seq_starts(n + 1), seq_regions(n);
  for (int i = 0; i <= n; i++) seq_starts[i] = Bd + offsets[i];
  for (int i = 0; i < n; i++) seq_regions[i] = Bd + i;
  staged = stage_prompt_rows(Bd, seq_regions, prompts, offsets);
  if (!staged.empty()) return staged;
  stage_sampling(Bd + n, temperature, top_p);
  cudaError_t e = cudaSuccess;
  const int tl_step = tl_begin(0, stream_);
  for (int a = 0; a < kLengths && e == cudaSuccess; a++)  // tokens, positions, region, slot: all T rows
    e = cudaMemcpyAsync(ints_ + a * max_tok_, host_ints_ + a * max_tok_, static_cast<size_t>(T) * 4, cudaMemcpyHostToDevice, stream_);
  for (int a = kLengths; a <= kStarts && e == cudaSuccess; a++)  // lengths, starts: decode rows
    e = cudaMemcpyAsync(ints_ + a * max_tok_, host_ints_ + a * max_tok_, static_cast<size_t>(Bd) * 4, cudaMemcpyHostToDevice, stream_);
  if (lazy() && e == cudaSuccess)  // the lazy write's query ring rows: decode rows, then -1 for the prompt rows
    e = cudaMemcpyAsync(ints_ + kRing * max_tok_, host_ints_ + kRing * max_tok_, static_cast<size_t>(T) * 4, cudaMemcpyHostToDevice, stream_);
  if (e == cudaSuccess) e = cudaMemcpyAsync(floats_, host_floats_, 2 * opts_.max_batch * 4, cudaMemcpyHostToDevice, stream_);
  if (e == cudaSuccess) e = cudaMemsetAsync(error_flag_, 0, 4, stream_);
  if (e == cudaSuccess) e = launch_embed(ints_ + kTokens * max_tok_, T, embed_, s.vocab, s.hidden, x_, error_flag_, stream_);
  if (e != cudaSuccess) return check(e, "mixed step input");
  mark(2);
  std::string err = forward_layers(T, Bd, seq_starts, seq_regions, max_len);
  if (!err.empty()) return err;
  // Logits of the Bd decode rows and of each prompt's last row, as rows 0..Bd+n-1 of h_.
  const int hid = s.hidden, V = s.vocab;
  e = launch_rmsnorm(x_, final_norm_, Bd, hid, s.rms_eps, h_, stream_);
  for (int i = 0; i < n && e == cudaSuccess; i++)
    e = launch_rmsnorm(x_ + static_cast<size_t>(seq_starts[i + 1] - 1) * hid, final_norm_, 1, hid, s.rms_eps, h_ + static_cast<size_t>(Bd + i) * hid, stream_);
  mark(2);
  if (e == cudaSuccess) e = launch_gemm(gemm_, h_, hid, lm_head_, hid, logits_, V, Bd + n, V, hid, false, stream_);
  mark(0);
  if (e != cudaSuccess) return check(e, "mixed step");
  if (walker_due()) {
    // the decode rows' regions only (the new ones get no visits), as the refresh of a decode step of Bd sequences
    std::string err = walker_refresh(Bd);
    if (!err.empty()) return err;
  }
  std::string done = finish_step(Bd + n, seed, next, logprob, logits_out, tl_step, "mixed step");
  if (!done.empty()) return done;
  for (int b = 0; b < Bd; b++) {
    lengths_[b] += 1;
    positions_[b] += 1;
  }
  start_sequences(seq_regions, offsets);
  step_counter_++;
  times_.steps++;
  return "";
}

namespace {
std::pair<cudaEvent_t, cudaEvent_t> timing_pair(cudaStream_t s) {
  cudaEvent_t a = nullptr, b = nullptr;
  if (cudaEventCreate(&a) != cudaSuccess || cudaEventCreate(&b) != cudaSuccess) return {nullptr, nullptr};
  cudaEventRecord(a, s);
  return {a, b};
}
}  // namespace

// Compacts region b (all layers and KV heads) to the budget, after the walker's last refresh.
std::string Engine::compact(int b) {
  const ModelShape& s = shape_;
  const EvictOptions& ev = opts_.evict;
  const int len = lengths_[b], target = std::min(ev.budget, len);
  if (walk_pending_) {
    cudaError_t e = cudaStreamWaitEvent(stream_, ev_walk_done_, 0);
    if (e != cudaSuccess) return check(e, "wait for the walker");
  }
  if (lazy()) {
    // the pending rows' nodes must exist before the remap moves them
    std::string err = flush_graph(b, b + 1, 0, stream_, false);
    if (!err.empty()) return err;
  }
  // pagerank-top4: rank lazily, as the oracle does (when an eviction is due and the last ranking is
  // `refresh` or more tokens old; positions_[b] is the token about to be appended)
  if (ev.policy == EvictPolicy::PagerankTop4 && (pr_last_[b] < 0 || positions_[b] - pr_last_[b] >= std::max(1, ev.refresh))) {
    std::string err = pagerank_region(b, len);
    if (!err.empty()) return err;
    pr_last_[b] = positions_[b];
  }
  auto t = timing_pair(stream_);
  const int tl = tl_begin(2, stream_);
  // The token about to be appended is the most recent protected one: keep recent - 1 of the others.
  cudaError_t e = launch_select_compact(ev.policy == EvictPolicy::Streaming ? nullptr : scores_, kv_, s.layers, opts_.max_batch, s.kv_heads,
                                        opts_.capacity, s.head_dim, b, len, target, ev.sinks, std::max(0, ev.recent - 1), remap_, nullptr,
                                        stream_);
  if (e != cudaSuccess) return check(e, "select and compact");
  if (graph_) {
    e = launch_graph_remap(graph_, s.layers, opts_.max_batch, graph_heads_, s.kv_heads, opts_.capacity, b, remap_, target, graph_scratch_, stream_);
    if (e != cudaSuccess) return check(e, "graph remap");
  }
  tl_end(tl, stream_);
  if (t.second) {
    cudaEventRecord(t.second, stream_);
    compact_timing_.push_back(t);
  }
  if (compact_timing_.size() > 64) fold_timings(false);
  evict_stats_.compactions++;
  evict_stats_.evicted_slots += len - target;
  lengths_[b] = target;
  if (lazy()) pend_lo_[b] = target;
  return "";
}

// pagerank-top4: exact personalized PageRank of region b's graphs (every layer and graph head, `len`
// nodes each, the walker's chain: teleport, sinks never entered, dead ends and evicted neighbours
// teleport) on the graph cache in place, on the decode stream: walker-cuda's causal backward sweep
// (attention graphs are causal: a decode step's node points to keys at or before it, and compaction
// keeps their order), or its power iteration when teleport is 0 or the capacity does not fit the
// sweep's shared memory (decided once at creation, pr_sweep_); then scores = decay * scores + PageRank
// (summed over each group when the graphs are per query head).
std::string Engine::pagerank_region(int b, int len) {
  const ModelShape& s = shape_;
  const EvictOptions& ev = opts_.evict;
  const int L = s.layers, G = graph_heads_, C = opts_.capacity;
  const int slots = L * G;
  auto t = timing_pair(stream_);
  cudaError_t e = launch_fill_i32(pr_nodes_, slots, len, stream_);
  kvwalk::PagerankParams p{};
  p.neighbors = static_cast<const int32_t*>(graph_);
  p.weights = reinterpret_cast<const float*>(static_cast<const char*>(graph_) + 16);
  p.numNodes = pr_nodes_;
  p.x = pr_x_;
  p.y = pr_y_;
  p.result = pr_out_;
  p.iterations = pr_iters_;
  p.numGraphs = slots;
  p.capacity = C;
  p.teleportThreshold = static_cast<uint64_t>(std::floor(static_cast<double>(ev.teleport) * 4294967296.0));
  // the token about to be appended is the newest teleport target and has no edges yet (see EvictOptions)
  p.startWindow = std::max(1, ev.start_window - 1);
  p.excludeBelow = ev.sinks;
  p.tol = 1e-12;
  p.maxIter = 1000;
  p.nodeStride = 2;
  p.graphIds = pr_ids_ + static_cast<size_t>(b) * slots;
  if (e == cudaSuccess) e = pr_sweep_ ? kvwalk::launch_pagerank_causal(p, stream_) : kvwalk::launch_pagerank(p, stream_);
  if (e == cudaSuccess) e = launch_pagerank_to_scores(pr_out_, L, opts_.max_batch, b, G, s.kv_heads, C, ev.score_decay, scores_, stream_);
  if (e != cudaSuccess) return check(e, "pagerank-top4 ranking");
  if (t.second) {
    cudaEventRecord(t.second, stream_);
    walk_timing_.push_back(t);
  }
  if (walk_timing_.size() > 64) fold_timings(false);
  evict_stats_.walker_launches++;
  return "";
}

std::string Engine::flush_graph(int r0, int r1, int extra, cudaStream_t st, bool flip) {
  const ModelShape& s = shape_;
  const size_t L = s.layers, R = opts_.max_batch, H = s.heads, KVH = s.kv_heads, D = s.head_dim, C = opts_.capacity;
  const size_t G = graph_heads_, P = ring_half_rows_, RR = 2 * P;
  // Job entries (pinned host + device): section 0 for the walker stream's flush (rewritten only after
  // the previous refresh finished), section 1 for decode-stream flushes, from entry r0 * L on (a region
  // is flushed there at most once per step, and each step ends with a synchronization). The two may run
  // at once on their streams: they read different ring halves and write different graph rows.
  const size_t section = st == walk_stream_ ? 0 : 1;
  const size_t first = section * L * R + (section == 0 ? 0 : static_cast<size_t>(r0) * L);
  GraphFlushJob* hj = host_flush_jobs_ + first;
  int n = 0;
  int max_rows = 0;
  for (int r = r0; r < r1; r++) {
    const int T = lengths_[r] + extra, lo = pend_lo_[r];
    if (T <= lo) continue;
    max_rows = std::max(max_rows, T - lo);
    for (size_t l = 0; l < L; l++, n++) {
      GraphFlushJob& j = hj[n];
      j.T = T;
      j.row_lo = lo;
      j.k_off = static_cast<int64_t>((l * 2 * R + r) * KVH * C * D);
      j.graph_off = static_cast<int64_t>((l * R + r) * G * C);
      j.q_off = static_cast<int64_t>(((l * R + r) * H * RR + static_cast<size_t>(ring_half_[r]) * P) * D);
      j.lse_off = static_cast<int64_t>((l * R + r) * H * RR + static_cast<size_t>(ring_half_[r]) * P);
    }
  }
  if (n == 0) return "";
  if (max_rows > static_cast<int>(P)) return "lazy graph write: " + std::to_string(max_rows) + " pending rows exceed the ring's " + std::to_string(P);
  GraphFlushJob* dj = flush_jobs_ + first;
  cudaError_t e = cudaMemcpyAsync(dj, hj, static_cast<size_t>(n) * sizeof(GraphFlushJob), cudaMemcpyHostToDevice, st);
  if (e != cudaSuccess) return check(e, "lazy graph write (jobs)");
  GraphFlushArgs a;
  a.q_ring = q_ring_;
  a.k = kv_;
  a.graph = graph_;
  a.jobs = dj;
  a.num_jobs = n;
  a.max_rows = max_rows;
  a.q_hstride = static_cast<int>(RR);
  a.H = static_cast<int>(H);
  a.KVH = static_cast<int>(KVH);
  a.D = static_cast<int>(D);
  a.capacity = static_cast<int>(C);
  a.window = s.sliding_window;
  a.scale = 1.f / std::sqrt(static_cast<float>(D));
  a.graph_capacity = static_cast<int>(C);
  a.graph_group = static_cast<int>(H / G);
  a.lse_ring = lse_ring_;
  e = launch_graph_flush(a, st);
  if (e != cudaSuccess) return check(e, "lazy graph write");
  for (int r = r0; r < r1; r++) {
    const int T = lengths_[r] + extra;
    if (T <= pend_lo_[r]) continue;
    pend_lo_[r] = T;
    if (flip) ring_half_[r] ^= 1;
  }
  return "";
}

std::string Engine::flush_pending_graph() {
  if (!lazy()) return "";
  if (walk_pending_) {
    cudaError_t e = cudaStreamWaitEvent(stream_, ev_walk_done_, 0);
    if (e != cudaSuccess) return check(e, "wait for the walker");
  }
  return flush_graph(0, opts_.max_batch, 0, stream_, false);
}

// Launches a walker refresh over the graphs of every layer, sequence and graph head (KV or query head)
// on the walker stream, after the decode step just enqueued on the main stream; scores = decay * scores
// + counts (summed over each group when the graphs are per query head).
std::string Engine::walker_refresh(int B) {
  const ModelShape& s = shape_;
  const EvictOptions& ev = opts_.evict;
  const int L = s.layers, R = opts_.max_batch, H = graph_heads_, C = opts_.capacity;
  if (walk_pending_) {
    // the previous refresh's node counts must have been copied before the host buffer is rewritten
    cudaError_t e = cudaEventSynchronize(ev_walk_done_);
    if (e != cudaSuccess) return check(e, "walker refresh");
  }
  for (int l = 0; l < L; l++)
    for (int r = 0; r < R; r++)
      for (int h = 0; h < H; h++) host_num_nodes_[(static_cast<size_t>(l) * R + r) * H + h] = r < B ? lengths_[r] + 1 : 0;
  cudaError_t e = cudaEventRecord(ev_step_, stream_);
  if (e == cudaSuccess) e = cudaStreamWaitEvent(walk_stream_, ev_step_, 0);
  auto t = timing_pair(walk_stream_);
  const int tl = tl_begin(1, walk_stream_);
  const size_t graphs = static_cast<size_t>(L) * R * H;
  if (e == cudaSuccess) e = cudaMemcpyAsync(num_nodes_, host_num_nodes_, graphs * 4, cudaMemcpyHostToDevice, walk_stream_);
  if (e == cudaSuccess) e = cudaMemsetAsync(counts_, 0, graphs * C * 4, walk_stream_);
  if (e != cudaSuccess) return check(e, "walker refresh");
  if (lazy()) {
    // the nodes of every row since the last flush, this step's included, before the walk reads them
    std::string err = flush_graph(0, B, 1, walk_stream_, true);
    if (!err.empty()) return err;
  }
  kvwalk::WalkParams p{};
  p.neighbors = static_cast<const int32_t*>(graph_);
  p.weights = reinterpret_cast<const float*>(static_cast<const char*>(graph_) + 16);
  p.numNodes = num_nodes_;
  p.counts = counts_;
  p.numGraphs = static_cast<int64_t>(graphs);
  p.capacity = C;
  p.walkers = static_cast<uint32_t>(ev.walkers);
  p.steps = static_cast<uint32_t>(ev.steps);
  p.teleportThreshold = static_cast<uint64_t>(std::floor(static_cast<double>(ev.teleport) * 4294967296.0));
  p.startWindow = ev.start_window;
  p.excludeBelow = ev.sinks;
  p.seed = ev.seed + walk_counter_;
  p.graphIndexBase = 0;
  p.nodeStride = 2;
  e = kvwalk::launch_walk(p, kvwalk::WalkStaging::kGlobal, 0, walk_stream_);
  if (e == cudaSuccess) e = launch_counts_to_scores(counts_, L, R, H, s.kv_heads, C, ev.score_decay, scores_, walk_stream_);
  if (e == cudaSuccess) e = cudaEventRecord(ev_walk_done_, walk_stream_);
  if (e != cudaSuccess) return check(e, "walker launch");
  tl_end(tl, walk_stream_);
  if (t.second) {
    cudaEventRecord(t.second, walk_stream_);
    walk_timing_.push_back(t);
  }
  if (walk_timing_.size() > 64) fold_timings(false);
  walk_pending_ = true;
  walk_counter_++;
  evict_stats_.walker_launches++;
  return "";
}

int Engine::tl_begin(int kind, cudaStream_t s) {
  if (!opts_.timeline) return -1;
  if (!timeline_base_) {
    if (cudaEventCreate(&timeline_base_) != cudaSuccess) return -1;
    cudaEventRecord(timeline_base_, s);
  }
  cudaEvent_t a = nullptr, b = nullptr;
  if (cudaEventCreate(&a) != cudaSuccess) return -1;
  if (cudaEventCreate(&b) != cudaSuccess) {
    cudaEventDestroy(a);
    return -1;
  }
  cudaEventRecord(a, s);
  timeline_.push_back({kind, a, b});
  return static_cast<int>(timeline_.size()) - 1;
}

void Engine::tl_end(int index, cudaStream_t s) {
  if (index >= 0) cudaEventRecord(timeline_[index].b, s);
}

std::vector<Engine::TimelineEntry> Engine::take_timeline() {
  std::vector<TimelineEntry> out;
  if (walk_stream_) cudaStreamSynchronize(walk_stream_);
  cudaStreamSynchronize(stream_);
  for (auto& t : timeline_) {
    float a = 0, b = 0;
    if (cudaEventElapsedTime(&a, timeline_base_, t.a) == cudaSuccess && cudaEventElapsedTime(&b, timeline_base_, t.b) == cudaSuccess)
      out.push_back({t.kind, a, b});
    cudaEventDestroy(t.a);
    cudaEventDestroy(t.b);
  }
  timeline_.clear();
  return out;
}

// Adds the times of finished (or, with wait, all) walker and compaction event pairs to the counters
// and frees their events, so a long generation never accumulates events.
void Engine::fold_timings(bool wait) {
  if (wait) {
    if (walk_stream_) cudaStreamSynchronize(walk_stream_);
    cudaStreamSynchronize(stream_);
  }
  for (auto* v : {&walk_timing_, &compact_timing_}) {
    std::vector<std::pair<cudaEvent_t, cudaEvent_t>> pending;
    for (auto& pr : *v) {
      if (!wait && cudaEventQuery(pr.second) != cudaSuccess) {
        pending.push_back(pr);
        continue;
      }
      float ms = 0;
      if (cudaEventElapsedTime(&ms, pr.first, pr.second) == cudaSuccess) (v == &walk_timing_ ? evict_stats_.walker_ms : evict_stats_.compaction_ms) += ms;
      cudaEventDestroy(pr.first);
      cudaEventDestroy(pr.second);
    }
    cudaGetLastError();  // cudaEventQuery's cudaErrorNotReady is not sticky; clear it
    *v = std::move(pending);
  }
}

EvictStats Engine::evict_stats() {
  fold_timings(true);
  return evict_stats_;
}

}  // namespace kvwalk::engine
