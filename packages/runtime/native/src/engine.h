// The decode engine: a Llama/Mistral forward pass on one GPU built from the launchers of
// engine_launchers.h and @kvwalk/graph-cache's fused decode attention. Plain C++ (no Node): the
// binding (native/binding/addon.cc) owns argument checking and the JS objects.
//
// Memory is allocated once, at creation (weights, KV cache, graph cache, activations for the largest
// step), so generate calls never allocate and device memory returns to its level after each call.
// KV cache: per layer K and V bf16 [max_batch regions, KVH, capacity, D]; region b is sequence b's list
// of slots; slot s of region b holds the token at position positions_[b][s] (slot == position until
// something evicts).
#pragma once
#include <cuda_runtime.h>
#include <cstdint>
#include <map>
#include <string>
#include <vector>
#include "../kernels/graph_flush_job.h"
#include "engine_launchers.h"

namespace kvwalk::engine {

struct ModelShape {
  int layers = 0, hidden = 0, heads = 0, kv_heads = 0, head_dim = 0, intermediate = 0, vocab = 0, max_positions = 0;
  float rope_theta = 10000.f, rms_eps = 1e-5f;
  int sliding_window = 0;  // 0 = none
  bool tied_embeddings = false;
};

// Live eviction (issue 7). A sequence whose cache reaches `capacity` slots is compacted, in every layer
// and KV head independently, to `budget` slots: the `sinks` first and `recent` last slots are kept, the
// rest by the policy's scores; kept K/V move in place (stable order; RoPE was applied at their true
// positions), the graph cache is remapped, scores move with their keys.
// PagerankTop4: the oracle's pagerank-top4 on the GPU: exact personalized PageRank (walker-cuda's causal
// sweep, or its power iteration where the sweep does not apply) of the walker's chain on the graph cache,
// computed lazily as the oracle does: when a sequence is compacted and its last ranking is `refresh` or
// more tokens old, on the decode stream.
enum class EvictPolicy : int { None = 0, Streaming = 1, H2O = 2, Tova = 3, Walker = 4, PagerankTop4 = 5 };

struct EvictOptions {
  EvictPolicy policy = EvictPolicy::None;
  int budget = 0;      // slots kept by a compaction (< capacity)
  int sinks = 4;
  int recent = 50;     // protected most recent tokens, counting the token about to be appended
  float h2o_decay = 1.f;
  // walker (policy Walker): a refresh every `refresh` decode steps on the walker stream
  int refresh = 32;
  int walkers = 1024;
  int steps = 20;
  float teleport = 0.15f;
  // Teleport targets: the last start_window live non-sink tokens. PagerankTop4 ranks before the
  // token being appended is stored and counts it among them, as the oracle does (so the ranking's
  // teleport window is start_window - 1: that token has no edges yet, and the ranking equals the
  // oracle's).
  int start_window = 50;
  float score_decay = 0.5f;  // scores = decay * scores + counts (or PageRank) at each refresh
  uint32_t seed = 1;
};

struct EvictStats {
  int64_t compactions = 0, evicted_slots = 0, walker_launches = 0;
  double walker_ms = 0, compaction_ms = 0;
};

struct EngineOptions {
  int max_batch = 1;           // regions (concurrent sequences)
  int capacity = 4096;         // KV slots per region
  int max_prefill_tokens = 4096;  // tokens per prefill call (all sequences together)
  int max_logit_rows = 1;      // rows of the logits buffer (>= max_batch)
  bool graph = false;          // write the top-4 attention graph in decode
  GemmBackend gemm = GemmBackend::Auto;
  bool profile = false;        // time GEMM / attention / other per step with CUDA events
  // Replay decode steps as CUDA graphs (one per batch size; the attention is split for the full
  // capacity so the graph does not depend on the lengths, which it reads from device memory).
  // Ignored when profiling.
  bool cuda_graphs = true;
  // Decode steps of at most this many sequences use the fused GEMV kernels (launch_gemv: RMSNorm,
  // f32 -> bf16 and SwiGLU folded into the weight stream) instead of launch_gemm + element-wise
  // kernels; 0 turns them off. Capped at kGemvMaxRows.
  int fused_gemv_rows = 1;
  // Record CUDA events around every decode step, walker refresh and compaction (take_timeline()).
  bool timeline = false;
  // Score the prompt during prefill (launch_prefill_score after each layer's prefill attention): the
  // graph nodes of every prompt row (when the graph cache exists) and the H2O / TOVA scores, exactly
  // what decode steps over the prompt would have written. Off: prompt tokens start with no graph nodes
  // and no attention mass (the behaviour before). The binding defaults it to on for h2o, tova, walker.
  bool score_prompt = false;
  // Split-K for the O and down projections of steps of 2..64 rows (decode batches) that take the GEMM
  // path: the product is cut into this many K slices (launch_gemm_split_k) and their sum is added to
  // the residual stream inside the next RMSNorm (launch_residual_rmsnorm), so the narrow products
  // (N = hidden) spread over all SMs at no extra launch. -1 auto: 4 slices with cuBLAS when K >= 2048
  // and K splits into 16-byte aligned slices; 0 off; 2..8 forced (slices that do not fit: off).
  int gemm_split_k = -1;
  // Decode attention through graph-cache's grouped-query kernel (one block per KV head serving its 2 or
  // 4 query heads, each K/V row read once) instead of one block per query head: 0 never, 1 whenever the
  // group (2 or 4) and head dim (64 or 128) allow, 2 auto (default): when a step has at least 1.5
  // (sequence, KV head) pairs per SM (graph-cache's decode_use_grouped). H200, Mistral-7B shapes: 256 pairs (batch 32)
  // faster with and without the graph, 64 (batch 8) and 8 (batch 1) slower.
  int grouped_decode = 2;
  // Decode stream at the device's highest stream priority, the walker's at the lowest (false, the
  // default: both at the default priority). Measured on the H200 (Llama-2-7B, batch 8 / 32): no change
  // in step time, the walker's own time longer (bench/results/h200-2026-11-30-b/).
  bool stream_priorities = false;
  // How decode steps write the graph cache (graph true): 0 fused (the attention kernel tracks each query
  // head's top-4 and writes the node), 1 deferred (the baseline attention kernel stores its logits, 4
  // bytes per key and query head, and graph-cache's graph_select_kernel writes the nodes on a side stream
  // forked after each layer's attention and joined after the last layer), 2 auto (default): deferred when
  // the step takes the grouped kernel or has fewer (sequence, query head) blocks than SMs
  // (graph-cache's decode_defer_graph, with the measurements behind it). Nodes are bit-identical at the
  // same split count. Modes 1 and 2 allocate a logits buffer of layers x max_batch x heads x capacity
  // floats (0.8 % of the K/V bytes for Llama-2-7B, 3 % for Mistral-7B).
  // 3 lazy: decode steps write no node; the RoPE kernel also stores each row's rotated query (bf16) in a
  // ring of 2 x min(refresh, 64) rows per (layer, sequence, query head), and the nodes of the pending rows are
  // written in batches by prompt scoring's kernels in job mode (launch_graph_flush): on the walker
  // stream before each walker refresh, on the decode stream before a compaction, when a sequence has
  // a ring half of pending rows, and before debugEvictionState reads the graph. Nodes equal prompt scoring's
  // for the same rows (bf16 q, tensor cores), which differ from the decode kernel's (f32 q) by rounding.
  int graph_write = 2;
  // Which heads own a graph (graph true): 1 (default) one graph per KV head, whose node holds the top-4
  // keys of the group's summed attention probabilities (the row the CPU oracle's policies observe for a
  // KV head, and issue 5's layout); 0 one graph per query head (the walker's counts are then summed over
  // each group). The same for MHA models. Per KV head on a grouped-query model always takes the
  // deferred write (graph-cache's graph_select_group_kernel needs every head's final log-sum-exp) and
  // needs a quarter (Mistral-7B) of the graph, walker and selection work.
  int graph_heads = 1;
  EvictOptions evict;
};

enum class WeightKind : int { Embed = 0, LmHead = 1, FinalNorm = 2, AttnNorm = 3, MlpNorm = 4, Wqkv = 5, Wo = 6, Wgu = 7, Wdown = 8 };

struct StepTimes {
  double gemm_ms = 0, attention_ms = 0, other_ms = 0;
  int64_t steps = 0;
};

class Engine {
 public:
  // Returns nullptr and fills *error (with the bytes asked for and the device's free memory on OOM).
  static Engine* create(const ModelShape& shape, const EngineOptions& opts, std::string* error);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const ModelShape& shape() const { return shape_; }
  const EngineOptions& options() const { return opts_; }
  std::string gemm_name() const;
  // Rows [row_offset, row_offset + rows) of a weight from host data (f32 or bf16 bits), cols = its
  // inner dimension. Returns "" or an error message.
  std::string upload(WeightKind kind, int layer, int row_offset, int rows, int cols, const float* f32, const uint16_t* bf16);
  // Uniform random weights (amplitude a for matrices, 1 for norms), generated on the device.
  std::string randomize(uint32_t seed, float amplitude);

  // Prefill: sequences `regions[i]` (emptied first) get prompts tokens[offsets[i] .. offsets[i+1]).
  // Writes, per sequence, the logits of its last token into logits_out [n, vocab] (may be null) and,
  // when all_logits is non-null (one sequence only), the logits of every prompt token [T, vocab].
  std::string prefill(const std::vector<int>& regions, const std::vector<int>& tokens, const std::vector<int>& offsets,
                      float* logits_out, float* all_logits);
  // One decode step of sequences 0..B-1 (all of which must hold a prefilled prompt): appends tokens[b]
  // at the next position, computes logits, samples next tokens into next[b] (logprob into logprob[b]);
  // logits_out [B, vocab] when non-null.
  std::string decode(const std::vector<int>& tokens, const float* temperature, const float* top_p, uint32_t seed,
                     int* next, float* logprob, float* logits_out);
  // One step that decodes sequences 0..B-1 (tokens [B]) and prefills n prompts into regions B..B+n-1 (prompt
  // i = prompts[offsets[i]..offsets[i+1])), sharing every weight pass (GEMMs over B + prompt rows; decode rows
  // through the fused decode attention, the prompts through the prefill attention). next/logprob [B + n]: the
  // decode rows' samples, then each new sequence's first token; logits_out [B + n, vocab] optional. With
  // eviction on it equals a decode step of the B sequences followed by a prefill of the n prompts.
  std::string mixed(const std::vector<int>& tokens, const std::vector<int>& prompts, const std::vector<int>& offsets, const float* temperature,
                    const float* top_p, uint32_t seed, int* next, float* logprob, float* logits_out);
  // Eviction counters since creation; walker and compaction times from CUDA events (synchronizes).
  EvictStats evict_stats();
  int position(int region) const { return positions_[region]; }
  // Timeline entries since the last call: kind (0 decode step, 1 walker refresh, 2 compaction), start
  // and end in ms since the engine's first timeline event (synchronizes both streams).
  struct TimelineEntry {
    int kind;
    double start_ms, end_ms;
  };
  std::vector<TimelineEntry> take_timeline();
  // Forget sequence b (its slots become free).
  void reset(int region);
  // Set a region's length without computing (benchmarks: cache contents are whatever is there).
  std::string set_length(int region, int length);
  // Fill the whole KV cache with random bf16 (benchmarks).
  std::string fill_cache_random(uint32_t seed);
  int length(int region) const { return lengths_[region]; }
  // Sampling step counter per engine (Philox counter).
  uint32_t steps() const { return step_counter_; }

  size_t weight_bytes() const { return weight_bytes_; }
  size_t kv_bytes() const { return kv_bytes_; }
  size_t graph_bytes() const { return graph_bytes_; }
  // Graphs per (layer, sequence): KV heads (graph_heads 1) or query heads.
  int graph_heads() const { return graph_heads_; }
  int gemv_rows() const { return gemv_rows_; }
  // K slices of a step of T rows for a product of depth K (1: no split).
  int split_k_for(int T, int K) const;
  size_t activation_bytes() const { return activation_bytes_; }
  StepTimes take_times();
  const void* graph_device() const { return graph_; }
  // Lazy graph write: writes the nodes of every region's pending rows now (decode stream). "" or error.
  std::string flush_pending_graph();
  // Eviction scores [L][R][KVH][C] (nullptr unless a scored policy is on); debug reads only.
  const float* scores_device() const { return scores_; }
  cudaStream_t stream() const { return stream_; }

 private:
  Engine() = default;
  std::string alloc(void** p, size_t bytes, const char* what);
  std::string check(cudaError_t e, const char* what);
  // Runs layers over T tokens whose embeddings are in x_: mode prefill (per-sequence attention) or decode.
  std::string forward_layers(int T, int decode_rows, const std::vector<int>& seq_starts, const std::vector<int>& seq_regions, int max_len);
  void mark(int phase);  // profiling: 0 gemm, 1 attention, 2 other
  // Enqueues embedding -> layers -> final norm -> LM head of a decode step of B sequences.
  std::string decode_body(int B, int max_len);
  // Host staging shared by decode() and mixed(): rows 0..B-1 decode sequences 0..B-1 (token, position,
  // region, slot, length, first visible key; compacts a full cache when eviction is on), and the
  // per-row sampling parameters of `rows` rows. *max_len gets the longest length after the append.
  std::string stage_decode_rows(const std::vector<int>& tokens, int B, int* max_len);
  void stage_sampling(int rows, const float* temperature, const float* top_p);
  // Samples rows 0..rows-1 of the logits, copies tokens / log-probabilities / logits back and
  // synchronizes (the step's end, shared by decode() and mixed()).
  std::string finish_step(int rows, uint32_t seed, int* next, float* logprob, float* logits_out, int tl_step, const char* what);
  // Prompts shared by prefill() and mixed(): prompt i = tokens[offsets[i]..offsets[i+1]) goes to regions[i].
  // check_prompts: each 1 to capacity and max_positions tokens. stage_prompt_rows: host rows row0 + offsets[i]..
  // (token, position, region, slot; no query ring row) and a clean eviction state for each region.
  // start_sequences (after the step): the regions' lengths, positions and lazy-write bounds.
  std::string check_prompts(const std::vector<int>& offsets) const;
  std::string stage_prompt_rows(int row0, const std::vector<int>& regions, const std::vector<int>& tokens, const std::vector<int>& offsets);
  void start_sequences(const std::vector<int>& regions, const std::vector<int>& offsets);
  // Whether this step ends with a walker refresh (walker policy, every evict.refresh steps).
  bool walker_due() const;
  std::string compact(int region);
  std::string clear_region_state(int region);
  // Rows (batch size) up to which every decode product can run as launch_gemv; 0 if any cannot.
  int fused_gemv_rows() const;
  std::string walker_refresh(int B);
  // Lazy graph write: nodes of the pending rows of regions [r0, r1) in every layer, on stream s; rows
  // pend_lo_[r] .. lengths_[r] + extra - 1 (extra 1: the step just enqueued). flip: the regions' next
  // rows go to the other half of the ring (the walker stream's flush, which may still read this half).
  std::string flush_graph(int r0, int r1, int extra, cudaStream_t s, bool flip);
  bool lazy() const { return q_ring_ != nullptr; }
  void fold_timings(bool wait);

  ModelShape shape_;
  EngineOptions opts_;
  GemmContext* gemm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  int sm_count_ = 0;
  int gemv_rows_ = 0;  // decode steps with B <= gemv_rows_ use launch_gemv (0: never)
  // weights (bf16)
  bf16_t* embed_ = nullptr;
  bf16_t* lm_head_ = nullptr;
  bf16_t* final_norm_ = nullptr;
  std::vector<bf16_t*> attn_norm_, mlp_norm_, wqkv_, wo_, wgu_, wdown_;
  std::vector<void*> owned_;
  // cache
  bf16_t* kv_ = nullptr;  // [layers][2][max_batch][KVH][capacity][D]
  void* graph_ = nullptr;  // [layers][max_batch][graph_heads_][capacity] nodes of 32 bytes
  int graph_heads_ = 0;    // KV heads or query heads (EngineOptions::graph_heads)
  float* logits_spill_ = nullptr;  // deferred graph write: [layers][max_batch][H][capacity] log2 logits
  float* logits_lse2_ = nullptr;   // [layers][max_batch][H] log2-sum-exp
  // lazy graph write (graph_write 3)
  bf16_t* q_ring_ = nullptr;        // [layers][max_batch][H][2 * ring_half_rows_][D] rotated bf16 queries
  int ring_half_rows_ = 0;          // rows per ring half: min(refresh, kLazyRingHalfMax); the ring holds 2 halves
  float* lse_ring_ = nullptr;       // graph per KV head: [layers][max_batch][H][2 * ring_half_rows_] the decode steps' log2-sum-exp
  GraphFlushJob* flush_jobs_ = nullptr;       // device [2 sections (walker, decode stream)][layers * max_batch]
  GraphFlushJob* host_flush_jobs_ = nullptr;  // pinned mirror
  std::vector<int> pend_lo_, ring_half_;      // per region: first pending row, ring half being written
  cudaStream_t select_stream_ = nullptr;  // deferred graph write: top-4 selection beside the layers
  cudaEvent_t ev_fork_ = nullptr, ev_join_ = nullptr;
  // activations
  float* x_ = nullptr;
  bf16_t* h_ = nullptr;
  float* qkv_ = nullptr;
  float* q_ = nullptr;
  float* gu_ = nullptr;
  float* attn_ = nullptr;
  float* lse_ = nullptr;
  float* logits_ = nullptr;
  float* inv_freq_ = nullptr;
  float* workspace_ = nullptr;
  float* split_parts_ = nullptr;  // split-K partial products f32 [kSplitKMax, kSplitKMaxRows, hidden] (null: split-K off)
  int* ints_ = nullptr;        // device: tokens, positions, region, slot, lengths, starts, next  [7][max_tok]
  float* floats_ = nullptr;    // device: temperature, top_p, logprob [3][max_batch]
  int* host_ints_ = nullptr;   // pinned mirror of ints_
  float* host_floats_ = nullptr;
  int* error_flag_ = nullptr;
  int max_tok_ = 0;
  std::vector<int> lengths_;
  uint32_t step_counter_ = 0;
  size_t weight_bytes_ = 0, kv_bytes_ = 0, graph_bytes_ = 0, activation_bytes_ = 0;
  // profiling
  std::vector<cudaEvent_t> events_;
  std::vector<int> event_phase_;
  StepTimes times_;
  std::map<int, cudaGraphExec_t> graphs_;  // decode step per batch size
  // eviction
  std::vector<int> positions_;  // next position per region (== length until something is evicted)
  float* scores_ = nullptr;     // [L][R][KVH][C]
  int* remap_ = nullptr;        // [L][KVH][C]
  uint32_t* counts_ = nullptr;  // [L][R][H][C] walker visits
  // PagerankTop4: one sequence's graphs per pass (slot l * G + h), in double; graph ids per region
  bool pr_sweep_ = false;  // pagerank-top4 ranks by the causal sweep, decided at creation (else the power iteration)
  double* pr_x_ = nullptr;
  double* pr_y_ = nullptr;
  double* pr_out_ = nullptr;
  int* pr_iters_ = nullptr;
  int* pr_nodes_ = nullptr;
  int64_t* pr_ids_ = nullptr;   // [R][L * G]: (l * R + r) * G + h
  std::vector<int> pr_last_;    // per region: position of the last ranking (-1: none)
  std::string pagerank_region(int b, int len);
  int* num_nodes_ = nullptr;    // [L][R][H] walker live nodes
  int* host_num_nodes_ = nullptr;
  void* graph_scratch_ = nullptr;
  void* score_ws_ = nullptr;    // prompt scoring workspace (score_prompt with H2O / TOVA)
  size_t score_ws_bytes_ = 0;
  cudaStream_t walk_stream_ = nullptr;
  cudaEvent_t ev_step_ = nullptr, ev_walk_done_ = nullptr;
  std::vector<std::pair<cudaEvent_t, cudaEvent_t>> walk_timing_, compact_timing_;
  bool walk_pending_ = false;
  struct TimelineEvents {
    int kind;
    cudaEvent_t a, b;
  };
  std::vector<TimelineEvents> timeline_;
  cudaEvent_t timeline_base_ = nullptr;
  int tl_begin(int kind, cudaStream_t s);
  void tl_end(int index, cudaStream_t s);
  uint32_t walk_counter_ = 0;
  EvictStats evict_stats_;
};

}  // namespace kvwalk::engine
