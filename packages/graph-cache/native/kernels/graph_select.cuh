// Deferred graph write: the top-4 of each (sequence, query head)'s logits stored by a SPILL decode
// kernel (decode_attention.cuh), normalized with that kernel's final log2-sum-exp, written as graph
// node nodes[b] (else lengths[b] - 1) of graph b * num_heads + h; or, with group > 1, one graph per
// (sequence, KV head) from the group's summed probabilities (graph_select_group_kernel below). Raw
// pointers only; no Node includes.
//
// Same candidates (the visible keys starts[b] .. lengths[b] - 1, the same float32 log2 logits), same
// total order (larger logit, then lower key index; NaN and -inf never chosen) and same normalization
// (write_top4_node) as the fused kernel's in-kernel top-4: the nodes are bit-identical to the fused
// variant's at the same split count (the split count changes the log2-sum-exp's rounding).
//
// Why deferred: where the fused kernel is latency-bound (batch 1; the grouped kernel, four top-4 lists per
// block) its top-4 tracking and merges lengthen the attention itself; stored logits cost 4 bytes per key
// and query head (0.8 % of Llama-2-7B's K/V bytes, 3 % of Mistral-7B's) and this kernel can run on
// another stream, beside the GEMMs that follow the attention. Measured (H200, session 7): in a loop of
// attention launches it never pays (batch 1 x 4k +22 % with the selection on a side stream vs +21 % fused);
// in the engine it does at batch 1 and on the grouped kernel at batch 32 (graph-cache PERFORMANCE-HISTORY.md, session 7).
#pragma once
#include "decode_attention.cuh"

namespace kvwalk {

constexpr int kSelectThreads = 128;
// Loads in flight per thread: 128 x 16 = 2048 logits per round trip. H200, batch 1 x 4k, 32 heads, the
// deferred write on the same stream over the baseline kernel: 14.6 us with 4 loads per thread, 11.1 us
// with 16 (session 7, runs 2 and 3).
constexpr int kSelectUnroll = 16;

struct GraphSelectParams {
  const float* logits;  // [batch, num_heads, stride] log2 logits (decode SPILL)
  const float* lse2;    // [batch, num_heads] log2-sum-exp
  int stride;
  const int* lengths;   // [batch]
  const int* starts;    // [batch] or nullptr (0)
  const int* nodes;     // [batch] or nullptr (lengths[b] - 1)
  int batch, num_heads;
  void* graph;
  int graph_capacity;
  int group;            // query heads per graph: 1 per query head, num_heads / num_kv_heads per KV head
};

// Top-4 of a block of NW warps whose lanes hold sorted lists (exact under the total order): each warp's
// top-4 goes to shared memory, warp 0 merges the NW * 4 candidates (one per lane up to 8 warps, else
// several per lane, inserted into the lane's sorted list) through the caller's shared arrays s_v, s_i
// of NW * 4 entries. Every thread must call it (one barrier); returns true in warp 0, whose lanes then
// hold the result in `t`, false elsewhere.
template <int NW>
__device__ __forceinline__ bool block_top4(Top4& t, float* s_v, int* s_i) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  t = warp_top4(t);
#pragma unroll
  for (int r = 0; r < kTopK; r++) {
    if (lane == r) {  // compile-time register index (no local memory)
      s_v[warp * kTopK + r] = t.c[r].v;
      s_i[warp * kTopK + r] = t.c[r].i;
    }
  }
  __syncthreads();
  if (warp != 0) return false;
  Top4 u;
  u.init();
  if constexpr (NW * kTopK <= 32) {
    if (lane < NW * kTopK) u.c[0] = Cand{s_v[lane], s_i[lane]};
  } else {
#pragma unroll
    for (int k = lane; k < NW * kTopK; k += 32) top4_insert(u, Cand{s_v[k], s_i[k]});
  }
  t = warp_top4(u);
  return true;
}

// One block per (sequence, head): each thread scans keys start + tid + k * kSelectThreads in increasing
// order (push_scan keeps the lower index among equal logits), then warp and block merges (exact).
template <int LAYOUT>
__global__ void __launch_bounds__(kSelectThreads) graph_select_kernel(const GraphSelectParams p) {
  const int bh = blockIdx.x;
  const int b = bh / p.num_heads;
  const int tid = threadIdx.x, lane = tid & 31;
  const int len = p.lengths[b];
  const int start = p.starts ? max(p.starts[b], 0) : 0;
  const float* row = p.logits + static_cast<size_t>(bh) * p.stride;
  Top4 t;
  t.init();
  for (int j0 = start + tid; j0 < len; j0 += kSelectUnroll * kSelectThreads) {
    float v[kSelectUnroll];
#pragma unroll
    for (int u = 0; u < kSelectUnroll; u++) {
      const int j = j0 + u * kSelectThreads;
      v[u] = j < len ? __ldcg(row + j) : -INFINITY;
    }
#pragma unroll
    for (int u = 0; u < kSelectUnroll; u++) t.push_scan(v[u], j0 + u * kSelectThreads);
  }
  __shared__ float s_v[kSelectThreads / 32 * kTopK];
  __shared__ int s_i[kSelectThreads / 32 * kTopK];
  Top4 u = t;
  if (!block_top4<kSelectThreads / 32>(u, s_v, s_i)) return;
  if (lane == 0) {
    const int node = p.nodes ? p.nodes[b] : len - 1;
    write_top4_node<LAYOUT>(p.graph, static_cast<int64_t>(p.batch) * p.num_heads, p.graph_capacity, bh, node, u, __ldcg(p.lse2 + bh));
  }
}

// Per-KV-head graphs (grouped-query models): one block per (sequence, KV head), graph b * G + kvh with
// G = num_heads / group. Key j's score is the group's summed probability
//   v_j = (((0 + p_0j) + p_1j) + ...) + p_(group-1)j,   p_gj = exp2(s_gj - lse2_g)  (query heads kvh * group + g),
// the row the CPU oracle's policies observe for a KV head (@kvwalk/runtime's blockedLogitsRowSource
// sums the group's probabilities). Top-4 by v (larger first, then lower key index; only v > 0 enters,
// so NaN rows write an empty node), weights = v renormalized over the four (normalize_top4). Each
// thread scans its keys in increasing order as graph_select_kernel does; the merges are exact.
//
// A block reads `group` rows, so with few blocks (batch 1: 8 blocks for Mistral-7B) the time is the
// number of dependent load round trips: 512 threads, and with GROUP known at compile time (2, 4, 8) all
// GROUP x U loads of a round are issued before the first is used (16 per thread, as graph_select_kernel).
// GROUP 0: any group size, the group loop at run time (2 keys per thread and round).
constexpr int kGroupSelectThreads = 512;

template <int LAYOUT, int GROUP>
__global__ void __launch_bounds__(kGroupSelectThreads) graph_select_group_kernel(const GraphSelectParams p) {
  constexpr int U = GROUP > 0 ? (16 / GROUP > 1 ? 16 / GROUP : 1) : 2;
  constexpr int NW = kGroupSelectThreads / 32;
  const int group = GROUP > 0 ? GROUP : p.group;
  const int graphs_per_seq = p.num_heads / group;
  const int bg = blockIdx.x;
  const int b = bg / graphs_per_seq;
  const int h0 = b * p.num_heads + (bg - b * graphs_per_seq) * group;  // first query-head row of the group
  const int tid = threadIdx.x, lane = tid & 31;
  const int len = p.lengths[b];
  const int start = p.starts ? max(p.starts[b], 0) : 0;
  const float* rows = p.logits + static_cast<size_t>(h0) * p.stride;
  Top4 t;
  t.init();
  for (int j0 = start + tid; j0 < len; j0 += U * kGroupSelectThreads) {
    float v[U];
#pragma unroll
    for (int u = 0; u < U; u++) v[u] = 0.f;
    if constexpr (GROUP > 0) {
      float x[GROUP][U];
#pragma unroll
      for (int g = 0; g < GROUP; g++) {
#pragma unroll
        for (int u = 0; u < U; u++) {
          const int j = j0 + u * kGroupSelectThreads;
          x[g][u] = j < len ? __ldcg(rows + static_cast<size_t>(g) * p.stride + j) : -INFINITY;
        }
      }
#pragma unroll
      for (int g = 0; g < GROUP; g++) {
        const float lse2 = __ldcg(p.lse2 + h0 + g);
#pragma unroll
        for (int u = 0; u < U; u++) v[u] = __fadd_rn(v[u], exp2f(x[g][u] - lse2));
      }
    } else {
      for (int g = 0; g < group; g++) {
        const float lse2 = __ldcg(p.lse2 + h0 + g);
#pragma unroll
        for (int u = 0; u < U; u++) {
          const int j = j0 + u * kGroupSelectThreads;
          if (j < len) v[u] = __fadd_rn(v[u], exp2f(__ldcg(rows + static_cast<size_t>(g) * p.stride + j) - lse2));
        }
      }
    }
#pragma unroll
    for (int u = 0; u < U; u++) {
      if (j0 + u * kGroupSelectThreads < len && v[u] > 0.f) t.push_scan(v[u], j0 + u * kGroupSelectThreads);
    }
  }
  __shared__ float s_v[NW * kTopK];
  __shared__ int s_i[NW * kTopK];
  Top4 u = t;
  if (!block_top4<NW>(u, s_v, s_i)) return;
  if (lane == 0) {
    const int node = p.nodes ? p.nodes[b] : len - 1;
    if (node < 0 || node >= p.graph_capacity) return;
    const int64_t num_graphs = static_cast<int64_t>(p.batch) * graphs_per_seq;
    store_top4_values<LAYOUT>(p.graph, num_graphs * p.graph_capacity, static_cast<int64_t>(bg) * p.graph_capacity + node, u);
  }
}

}  // namespace kvwalk
