// Launchers of the engine's live eviction (issue 7): attention-mass scores (H2O, TOVA), walker
// counts -> scores, selection + in-place compaction of one sequence's KV slots, and the graph-cache
// remap. Plain C++ declarations (cuda_runtime.h types only); every launcher enqueues on `stream` and
// returns the launch error without synchronizing. Sizes are validated by the caller.
//
// Engine layouts (see engine.h): R = regions (max batch), C = capacity (slots per region),
//   KV cache     bf16 [L][2 (K, V)][R][KVH][C][D]
//   scores       f32  [L][R][KVH][C]   (one score per cached key and KV head)
//   graph cache  32-byte AoS nodes [L][R][H][C] (int4 neighbours, float4 weights; -1 = invalid)
//   counts       u32  [L][R][H][C]     (walker visit counts, one graph per query head)
// Query head h belongs to KV head h / (H / KVH).
#pragma once
#include <cuda_runtime.h>
#include <cstddef>
#include <cstdint>

#include "../kernels/graph_flush_job.h"

namespace kvwalk::engine {

using bf16_t = uint16_t;

// Attention mass each cached key received from this decode step's queries, per KV head (the query
// heads of a group summed), for one layer:
//   q f32 [B, H, D] (rotated), k = the layer's K cache bf16 [R][KVH][C][D] (batch b = region b),
//   lse f32 [B, H] (natural log, from the decode attention), lengths int [B] (keys 0..len-1),
//   p(b, h, j) = exp(q[b,h] . k[b, h/G, j] * scale - lse[b,h]),  m(b, kvh, j) = sum over the group of p.
//   scores f32 [R][KVH][C] (the layer's slice): mode 0 (H2O): s = decay * s + m; mode 1 (TOVA): s = m.
//   Slots j >= lengths[b] are left untouched. starts int [B] or nullptr: keys below start get m = 0.
cudaError_t launch_attention_mass(const float* q, const bf16_t* k, const float* lse, const int* lengths, const int* starts, int B, int H,
                                  int KVH, int D, int C, float scale, int mode, float decay, float* scores, cudaStream_t stream);

// scores[l][region][kvh][j] = decay * scores + f32(sum over the group's graph heads of pr[l][h][j]), pr the
// double PageRank of one region's graphs (slot l * H + h), for every l < L, kvh < KVH, j < C (decay 0: replace).
cudaError_t launch_pagerank_to_scores(const double* pr, int L, int R, int region, int H, int KVH, int C, float decay, float* scores,
                                      cudaStream_t stream);

// out[i] = value for i < n.
cudaError_t launch_fill_i32(int* out, int n, int value, cudaStream_t stream);

// scores[l][r][kvh][j] = decay * scores + sum over the group's query heads of counts[l][r][h][j], for
// every l < L, r < R, kvh < KVH, j < C (decay 0: replace).
cudaError_t launch_counts_to_scores(const uint32_t* counts, int L, int R, int H, int KVH, int C, float decay, float* scores,
                                    cudaStream_t stream);

// Selection and stable in-place compaction of region `region`, independently for each of the L*KVH
// rows (layer l, KV head kvh), all holding `len` slots (budget < len <= C):
//   protected = slots [0, min(sinks, len)) and [max(0, len - recent), len);
//   keep = protected plus the highest-scoring other slots until `budget` slots are kept (if the
//          protected set alone exceeds budget, keep the protected set: sinks first, then the most recent);
//          score ties: the more recent (higher) slot wins; scores == nullptr ranks by slot (recency:
//          StreamingLLM). NaN scores rank lowest.
//   The kept slots' K and V rows move, in increasing slot order, to slots 0..kept-1 (stable: a kept
//   slot's new index is the number of kept slots before it); their scores move with them and the
//   freed tail [kept, len) of the scores is zeroed. remap int [L][KVH][C]: old slot -> new slot, or -1
//   for evicted slots and slots >= len. kept_out int [L*KVH] (may be nullptr): kept count per row
//   (equal to min(budget, len) in every row by construction).
cudaError_t launch_select_compact(float* scores, bf16_t* kv, int L, int R, int KVH, int C, int D, int region, int len, int budget,
                                  int sinks, int recent, int* remap, int* kept_out, cudaStream_t stream);

// Graph cache of region `region` after a compaction: for every layer l and query head h (KV head
// h / (H/KVH)), node i moves to remap[l][kvh][i] (dropped when -1); each neighbour index n >= 0 becomes
// remap[l][kvh][n] (-1 if evicted or out of range), weights unchanged (not renormalized, as
// @kvwalk/graph-cache's compactGraph); nodes >= new_len become invalid (-1 neighbours, 0 weights).
// scratch: at least H * C * 32 bytes.
cudaError_t launch_graph_remap(void* graph, int L, int R, int H, int KVH, int C, int region, const int* remap, int new_len, void* scratch,
                               cudaStream_t stream);

// Prompt scoring (native/src/prefill_score.cu, kernels/prefill_score.cuh): during a prefill, what a
// sequence of decode steps over the prompt would have written, for one sequence and one layer.
//   q f32 [T, H, D] (rotated; the sequence's rows), k = the region's K of the layer bf16 [KVH, capacity, D]
//   (slots 0..T-1 hold the prompt); row t sees key j iff j <= t and (window <= 0 or t - j < window);
//   logits x = bf16(q) . k * scale (q rounded to bf16 as launch_prefill_attention does).
//   graph (nullptr: none): the region's nodes (32-byte AoS), for every t < T; nodes >= T untouched.
//     graph_group 1: one graph per query head, [H][graph_capacity]: node h * graph_capacity + t = the
//       top-4 keys of row t of head h (ties -> lower key index), p = exp(x - lse_t) renormalized over the
//       four (graph-cache's decode rule).
//     graph_group H / KVH (> 1): one graph per KV head, [KVH][graph_capacity]: node kvh * graph_capacity
//       + t = the top-4 keys j by v[t, j] = the group's p_g[t, j] = exp(x_g - lse_g,t) summed in f32 in
//       head order from 0 (((0 + p_g0) + p_g1) + ...), only v > 0 (not NaN) ranked, ties -> lower key
//       index, weights = v renormalized over the four (normalize_top4 with p := v).
//     Any other graph_group: cudaErrorInvalidValue (also without a graph).
//   mode 0 (H2O): scores[kvh][j] = sum over rows t >= j and the group's heads of decay^(T-1-t) p_h[t, j]
//     (decay 0: the last row only) -- the state launch_attention_mass mode 0 reaches from zero after
//     decode steps of rows 0..T-1; mode 1 (TOVA): the last row's p summed over the group (mode 1 after
//     row T-1); mode -1: no scores. scores f32 [KVH][score_capacity]: slots [0, T) replaced, others
//     untouched. Keys a row cannot see (window) add 0.
//   lse (nullptr: none): f32 [T, H] natural-log log-sum-exp of every row.
//   workspace: prefill_score_workspace_bytes(T, H, D) bytes, 16-byte aligned, needed when
//     prefill_score_needs_workspace(mode, graph != nullptr, graph_group): scores (mode >= 0) or a graph
//     per KV head (graph_group > 1; the graph pass reads pass 1's bf16 q and lse2 from it).
// D in {64, 128}; H a multiple of KVH; T <= capacity, graph_capacity and score_capacity; q, k, graph
// 16-byte aligned; a graph per KV head needs its group's Q tiles in shared memory (227 KB per block:
// groups up to 44 query heads at D 128, 90 at D 64). Returns cudaErrorInvalidValue otherwise; T == 0
// or nothing requested: no launch.
struct PrefillScoreArgs {
  const float* q = nullptr;
  const bf16_t* k = nullptr;
  int T = 0, H = 0, KVH = 0, D = 0, capacity = 0;
  int window = 0;
  float scale = 0.f;
  void* graph = nullptr;
  int graph_capacity = 0;
  int graph_group = 1;  // query heads per graph: 1 (a graph per query head) or H / KVH (per KV head)
  int mode = -1;
  float decay = 1.f;
  float* scores = nullptr;
  int score_capacity = 0;
  float* lse = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
};
size_t prefill_score_workspace_bytes(int T, int H, int D);
// Whether launch_prefill_score needs the workspace: mode >= 0 (scores) or a graph per KV head.
bool prefill_score_needs_workspace(int mode, bool graph, int graph_group);
cudaError_t launch_prefill_score(const PrefillScoreArgs& args, cudaStream_t stream);

// Lazy decode graph write (EngineOptions::graph_write 3): the graph nodes of decode rows whose queries
// the decode steps stored (bf16, after RoPE) instead of writing nodes themselves, computed in batches by
// prompt scoring's kernels in job mode -- the very arithmetic of launch_prefill_score's nodes (bf16 q,
// mma.sync), so a lazily written node equals the prompt-scoring node of the same row. jobs (device,
// num_jobs <= 65535): per (layer, sequence) its pending rows row_lo .. T-1 (at most max_rows) and the
// offsets of its K region, graph nodes, query rows and lse2 rows (kernels/graph_flush_job.h). q_ring:
// row t of head h of a job at q_ring + q_off + (h * q_hstride + t - row_lo) * D. graph_group as
// PrefillScoreArgs. A graph per KV head needs each row's log2-sum-exp per query head: lse_ring (the decode
// steps' own, stored by launch_lse_ring_store; row t of head h at lse_ring + lse_off + h * q_hstride +
// t - row_lo: pass 1 is skipped) or else lse2 (pass 1 computes them into this workspace of
// graph_flush_workspace_bytes(num_jobs, H, max_rows), row t of head h at lse_off + h * max_rows + t - row_lo).
// Enqueues on stream; cudaErrorInvalidValue for arguments the kernels cannot handle.
struct GraphFlushArgs {
  const bf16_t* q_ring = nullptr;
  const bf16_t* k = nullptr;
  void* graph = nullptr;
  const GraphFlushJob* jobs = nullptr;
  int num_jobs = 0, max_rows = 0, q_hstride = 0;
  int H = 0, KVH = 0, D = 0, capacity = 0, window = 0;
  float scale = 0.f;
  int graph_capacity = 0, graph_group = 1;
  float* lse2 = nullptr;
  const float* lse_ring = nullptr;
};
size_t graph_flush_workspace_bytes(int num_jobs, int H, int max_rows);
cudaError_t launch_graph_flush(const GraphFlushArgs& args, cudaStream_t stream);
// The lazy write's lse ring: decode attention lse (natural log) [L][lse_batch][H] of decode rows 0..B-1 ->
// log2 at lse_ring [L][R][H][ring_rows], ring row ring_row[b] (< 0: skipped) of region region[b].
cudaError_t launch_lse_ring_store(const float* lse, int L, int B, int lse_batch, int H, int R, int ring_rows, const int* region,
                                  const int* ring_row, float* lse_ring, cudaStream_t stream);

}  // namespace kvwalk::engine
