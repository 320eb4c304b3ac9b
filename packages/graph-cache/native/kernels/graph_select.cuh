// Deferred graph write: the top-4 of each (sequence, query head)'s logits stored by a SPILL decode
// kernel (decode_attention.cuh), normalized with that kernel's final log2-sum-exp, written as graph
// node nodes[b] (else lengths[b] - 1) of graph b * num_heads + h. Raw pointers only; no Node includes.
//
// Same candidates (the visible keys starts[b] .. lengths[b] - 1, the same float32 log2 logits), same
// total order (larger logit, then lower key index; NaN and -inf never chosen) and same normalization
// (write_top4_node) as the fused kernel's in-kernel top-4: the nodes are bit-identical to the fused
// variant's at the same split count (the split count changes the log2-sum-exp's rounding).
//
// Why deferred: at batch 1 the fused top-4 tracking, block merge and node write lengthen a 20 us
// latency-bound attention launch by ~20 %; stored logits cost 4 bytes per key and query head (0.8 % of
// Llama-2-7B's K/V bytes, 3 % of Mistral-7B's) and this kernel runs on another stream, beside the GEMMs
// that follow the attention.
#pragma once
#include "decode_attention.cuh"

namespace kvwalk {

constexpr int kSelectThreads = 128;

struct GraphSelectParams {
  const float* logits;  // decode SPILL layout (logit_index): [batch, num_kv_heads, stride, QG]
  const float* lse2;    // [batch, num_heads] log2-sum-exp
  int stride;
  const int* lengths;   // [batch]
  const int* starts;    // [batch] or nullptr (0)
  const int* nodes;     // [batch] or nullptr (lengths[b] - 1)
  int batch, num_heads, num_kv_heads;
  void* graph;
  int graph_capacity;
};

// The QG logits of one key (heads side by side): one 4-, 8- or 16-byte load, or two for QG 8.
template <int QG>
__device__ __forceinline__ void load_key_logits(const float* src, float (&v)[QG]) {
  if constexpr (QG == 1) {
    v[0] = __ldcg(src);
  } else if constexpr (QG == 2) {
    const float2 x = __ldcg(reinterpret_cast<const float2*>(src));
    v[0] = x.x;
    v[1] = x.y;
  } else {
#pragma unroll
    for (int q = 0; q < QG; q += 4) {
      const float4 x = __ldcg(reinterpret_cast<const float4*>(src + q));
      v[q] = x.x;
      v[q + 1] = x.y;
      v[q + 2] = x.z;
      v[q + 3] = x.w;
    }
  }
}

// One block per (sequence, KV head) serving its QG query heads: each thread scans keys start + tid + k *
// kSelectThreads in increasing order, loading the QG logits of a key at once (push_scan keeps the lower
// index among equal logits), with kUnroll keys in flight; then per head a warp merge and a block merge
// (exact under the total order).
template <int QG, int LAYOUT>
__global__ void __launch_bounds__(kSelectThreads) graph_select_kernel(const GraphSelectParams p) {
  // Loads in flight per thread (H200, session 7: 4 scalar loads per thread left the kernel latency-bound).
  constexpr int kUnroll = QG >= 8 ? 2 : 16 / QG;
  constexpr int W = kSelectThreads / 32;
  const int bk = blockIdx.x;  // b * num_kv_heads + kvh
  const int b = bk / p.num_kv_heads, kvh = bk - b * p.num_kv_heads;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int len = p.lengths[b];
  const int start = p.starts ? max(p.starts[b], 0) : 0;
  const float* rows = p.logits + static_cast<size_t>(bk) * p.stride * QG;
  Top4 t[QG];
#pragma unroll
  for (int g = 0; g < QG; g++) t[g].init();
  for (int j0 = start + tid; j0 < len; j0 += kUnroll * kSelectThreads) {
    float v[kUnroll][QG];
#pragma unroll
    for (int u = 0; u < kUnroll; u++) {
      const int j = j0 + u * kSelectThreads;
      if (j < len) {
        load_key_logits<QG>(rows + static_cast<size_t>(j) * QG, v[u]);
      } else {
#pragma unroll
        for (int g = 0; g < QG; g++) v[u][g] = -INFINITY;
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; u++) {
#pragma unroll
      for (int g = 0; g < QG; g++) t[g].push_scan(v[u][g], j0 + u * kSelectThreads);
    }
  }
  __shared__ float s_v[QG][W * kTopK];
  __shared__ int s_i[QG][W * kTopK];
#pragma unroll
  for (int g = 0; g < QG; g++) {
    const Top4 w = warp_top4(t[g]);
#pragma unroll
    for (int r = 0; r < kTopK; r++) {
      if (lane == r) {  // compile-time register index (no local memory)
        s_v[g][warp * kTopK + r] = w.c[r].v;
        s_i[g][warp * kTopK + r] = w.c[r].i;
      }
    }
  }
  __syncthreads();
  const int node = p.nodes ? p.nodes[b] : len - 1;
  for (int g = warp; g < QG; g += W) {
    Top4 u;
    u.init();
    if (lane < W * kTopK) u.c[0] = Cand{s_v[g][lane], s_i[g][lane]};
    u = warp_top4(u);
    if (lane == 0) {
      const int h = kvh * QG + g;
      const int64_t bh = static_cast<int64_t>(b) * p.num_heads + h;
      write_top4_node<LAYOUT>(p.graph, static_cast<int64_t>(p.batch) * p.num_heads, p.graph_capacity, bh, node, u, __ldcg(p.lse2 + bh));
    }
  }
}

}  // namespace kvwalk
