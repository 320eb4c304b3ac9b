// Fused flash-decoding attention with an optional top-4 graph write. Raw pointers only; no Node.
//
// One decode step: for each sequence b and query head h, o = softmax(q K^T * scale) V over the
// keys starts[b]..lengths[b]-1 (starts optional: 0), K/V in bf16, all arithmetic in float32. The keys are split into
// `num_splits` contiguous ranges (split-K); block (split, h, b) runs an online softmax over its
// range and, with WRITE_GRAPH, a running top-4 of the logits (ties: lower key index). With one split
// every block writes its partial result and the last block of
// (b, h) to finish (an atomic ticket; counters reset themselves; with one split, the block itself) merges the splits (log-sum-exp
// weighting; top-4 lists merged exactly) and writes the output: one launch either way. The graph gets, at node nodes[b] of
// graph b * num_heads + h, the top-4 keys with p = exp(logit - lse) renormalized over the four
// (writer's rule, normalize_top4). Logits are kept in log2 units (q pre-scaled by scale * log2 e).
//
// Shapes: q float [batch, num_heads, D]; k, v bf16 [batch, num_kv_heads, kv_capacity, D];
// lengths int [batch] in [1, kv_capacity]; out float [batch, num_heads, D]; lse float [batch, num_heads]
// (natural log); partials: part_o float [batch, num_heads, num_splits, D],
// part_lse float [..., num_splits] (log2), part_top float/int [..., num_splits, 4] (log2 logits, keys),
// tickets int [batch, num_heads] (zero before the first launch; left zero by every launch).
#pragma once
#include <cuda_bf16.h>
#include "graph_layout.cuh"

namespace kvwalk {

constexpr int kDecodeThreads = 128;
constexpr int kDecodeUnroll = 4;
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

struct DecodeParams {
  const float* q;
  const uint16_t* k;
  const uint16_t* v;
  const int* lengths;
  const int* starts;  // [batch] or nullptr: first visible key (sliding-window attention)
  float* out;
  float* lse;
  int batch, num_heads, num_kv_heads, kv_capacity;
  float scale;
  int num_splits;
  int split_len;  // keys per split
  float* part_o;
  float* part_lse;
  float* part_top_v;
  int* part_top_i;
  int* tickets;
  // graph (WRITE_GRAPH only)
  void* graph;
  const int* nodes;  // [batch] or nullptr: lengths[b] - 1
  int graph_capacity;
};

__device__ __forceinline__ void bf16x8_to_f32(const uint4 raw, float f[8]) {
  const uint32_t w[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
  for (int i = 0; i < 4; i++) {
    f[2 * i] = __uint_as_float(w[i] << 16);
    f[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
  }
}

// Writes the graph node of (b, h) from the final top-4 (log2 logits) and the final log2-sum-exp.
template <int LAYOUT>
__device__ __forceinline__ void write_graph_node(const DecodeParams& p, int b, int h, const Top4& t, float lse2) {
  const int node = p.nodes ? p.nodes[b] : p.lengths[b] - 1;
  if (node < 0 || node >= p.graph_capacity) return;
  float pr[kTopK];
#pragma unroll
  for (int s = 0; s < kTopK; s++) pr[s] = exp2f(t.c[s].v - lse2);
  int4 n;
  float4 w;
  normalize_top4(t, pr, n, w);
  const int64_t num_nodes = static_cast<int64_t>(p.batch) * p.num_heads * p.graph_capacity;
  store_node<LAYOUT>(p.graph, num_nodes, (static_cast<int64_t>(b) * p.num_heads + h) * p.graph_capacity + node, n, w);
}

constexpr int kMaxSplits = 256;

// Block-wide max or sum of one value per thread (kDecodeThreads threads); every thread gets the result.
template <bool MAX>
__device__ __forceinline__ float block_reduce(float x, float* s_red) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) {
    const float y = __shfl_xor_sync(0xffffffffu, x, off);
    x = MAX ? fmaxf(x, y) : x + y;
  }
  __syncthreads();  // s_red may still be read from a previous reduction
  if ((threadIdx.x & 31) == 0) s_red[threadIdx.x >> 5] = x;
  __syncthreads();
  float r = s_red[0];
#pragma unroll
  for (int w = 1; w < kDecodeThreads / 32; w++) r = MAX ? fmaxf(r, s_red[w]) : r + s_red[w];
  return r;
}

// Merges the splits of (b, h): run by the whole last block of (b, h) to finish. Partials written by
// other blocks are read through L2 (__ldcg) after the ticket's fences. Loads are independent so the
// tail costs a few L2 round trips: split weights in parallel, output loop unrolled.
template <int D, bool WRITE_GRAPH, int LAYOUT>
__device__ void reduce_splits(const DecodeParams& p, int b, int h, int tid, float* s_w, float* s_red) {
  const size_t bh = static_cast<size_t>(b) * p.num_heads + h;
  const int S = p.num_splits;
  const float* pl = p.part_lse + bh * S;
  float lv[kMaxSplits / kDecodeThreads];
  float mx = -INFINITY;
#pragma unroll
  for (int r = 0; r < kMaxSplits / kDecodeThreads; r++) {
    const int s = tid + r * kDecodeThreads;
    lv[r] = s < S ? __ldcg(pl + s) : -INFINITY;
    mx = fmaxf(mx, lv[r]);
  }
  const float M = block_reduce<true>(mx, s_red);
  const float M_use = M == -INFINITY ? 0.f : M;
  float sum = 0.f;
#pragma unroll
  for (int r = 0; r < kMaxSplits / kDecodeThreads; r++) {
    const int s = tid + r * kDecodeThreads;
    if (s < S) {
      const float w = exp2f(lv[r] - M_use);
      s_w[s] = w;
      sum += w;
    }
  }
  const float L = block_reduce<false>(sum, s_red);  // ends with __syncthreads: s_w is complete
  const float lse2 = L == 0.f ? -INFINITY : M_use + log2f(L);
  const float inv_l = L == 0.f ? 0.f : 1.f / L;
  const float* po = p.part_o + bh * S * D;
  for (int d = tid; d < D; d += kDecodeThreads) {
    float o = 0.f;
#pragma unroll 8
    for (int s = 0; s < S; s++) o = fmaf(s_w[s], __ldcg(po + static_cast<size_t>(s) * D + d), o);  // empty splits: w = 0, o = 0
    p.out[bh * D + d] = o * inv_l;
  }
  if (tid == 0) p.lse[bh] = lse2 * kLn2;
  if (WRITE_GRAPH && tid < 32) {
    Top4 t;
    t.init();
    const size_t base = bh * S * kTopK;
#pragma unroll 1
    for (int c = tid; c < S * kTopK; c += 32) top4_insert(t, Cand{__ldcg(p.part_top_v + base + c), __ldcg(p.part_top_i + base + c)});
    t = warp_top4(t);
    if (tid == 0) write_graph_node<LAYOUT>(p, b, h, t, lse2);
  }
}

template <int D, bool WRITE_GRAPH, int LAYOUT>
__global__ void __launch_bounds__(kDecodeThreads, WRITE_GRAPH ? 7 : 8) decode_attention_kernel(const DecodeParams p) {
  constexpr int TPK = D / 8;                   // threads per key: each owns 8 dims (16 bytes of bf16)
  constexpr int G = kDecodeThreads / TPK;      // key groups per block
  static_assert(D % 8 == 0 && TPK <= 32 && (32 % TPK) == 0, "head dim");
  __shared__ float s_m[G], s_l[G];
  __shared__ float s_acc[G][D];
  __shared__ float s_topv[WRITE_GRAPH ? G : 1][kTopK];
  __shared__ int s_topi[WRITE_GRAPH ? G : 1][kTopK];

  const int split = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const int tid = threadIdx.x;
  const int grp = tid / TPK, sub = tid % TPK;
  const int d0 = sub * 8;
  const int len = p.lengths[b];
  const int start = max(split * p.split_len, p.starts ? p.starts[b] : 0);
  const int end = min(len, split * p.split_len + p.split_len);
  const int kvh = h / (p.num_heads / p.num_kv_heads);
  const size_t kv_off = (static_cast<size_t>(b) * p.num_kv_heads + kvh) * p.kv_capacity * D;
  const uint16_t* kb = p.k + kv_off;
  const uint16_t* vb = p.v + kv_off;

  float qf[8];
  {
    const float* qp = p.q + (static_cast<size_t>(b) * p.num_heads + h) * D + d0;
    const float qs = p.scale * kLog2e;
#pragma unroll
    for (int i = 0; i < 8; i++) qf[i] = qp[i] * qs;
  }
  float m = -INFINITY, l = 0.f;
  float acc[8];
#pragma unroll
  for (int i = 0; i < 8; i++) acc[i] = 0.f;
  // Running top-4 of each key group, distributed over the group's lanes: lane `sub` holds the
  // sub-th best (tv, ti) of the keys its group has seen (lanes >= 4 just extend the list). Every lane
  // of a group sees the same logits, so an insertion is a shift by one lane (one shuffle pair), taken
  // only when some logit of the warp beats its group's 4th best `thr`: no shared memory, no syncs,
  // three registers.
  float tv = -INFINITY, thr = -INFINITY;
  int ti = INT_MAX;
  // The loop bounds are block-uniform (the group shuffles need every lane of a warp); each key is
  // bounds-checked.
  for (int j0 = start + grp; j0 - grp < end; j0 += G * kDecodeUnroll) {
    uint4 kr[kDecodeUnroll], vr[kDecodeUnroll];
#pragma unroll
    for (int u = 0; u < kDecodeUnroll; u++) {
      const int j = j0 + u * G;
      if (j < end) {
        kr[u] = __ldg(reinterpret_cast<const uint4*>(kb + static_cast<size_t>(j) * D + d0));
        vr[u] = __ldg(reinterpret_cast<const uint4*>(vb + static_cast<size_t>(j) * D + d0));
      } else {
        kr[u] = make_uint4(0, 0, 0, 0);
        vr[u] = make_uint4(0, 0, 0, 0);
      }
    }
    float s[kDecodeUnroll];
#pragma unroll
    for (int u = 0; u < kDecodeUnroll; u++) {
      float kf[8];
      bf16x8_to_f32(kr[u], kf);
      float dot = 0.f;
#pragma unroll
      for (int i = 0; i < 8; i++) dot = fmaf(qf[i], kf[i], dot);
#pragma unroll
      for (int off = TPK / 2; off > 0; off >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, off);
      s[u] = (j0 + u * G < end) ? dot : -INFINITY;
    }
    float m_new = m;
#pragma unroll
    for (int u = 0; u < kDecodeUnroll; u++) m_new = fmaxf(m_new, s[u]);
    const float m_use = m_new == -INFINITY ? 0.f : m_new;
    const float corr = exp2f(m - m_use);
    l *= corr;
#pragma unroll
    for (int i = 0; i < 8; i++) acc[i] *= corr;
#pragma unroll
    for (int u = 0; u < kDecodeUnroll; u++) {
      const float pu = exp2f(s[u] - m_use);
      l += pu;
      float vf[8];
      bf16x8_to_f32(vr[u], vf);
#pragma unroll
      for (int i = 0; i < 8; i++) acc[i] = fmaf(pu, vf[i], acc[i]);
    }
    if (WRITE_GRAPH) {
#pragma unroll
      for (int u = 0; u < kDecodeUnroll; u++) {
        // Keys of a group arrive in increasing index order, so strict > keeps lower indices first on ties.
        if (__any_sync(0xffffffffu, s[u] > thr)) {
          const float pv = __shfl_up_sync(0xffffffffu, tv, 1, TPK);
          const int pi = __shfl_up_sync(0xffffffffu, ti, 1, TPK);
          if (s[u] > tv) {
            if (sub == 0 || !(s[u] > pv)) {
              tv = s[u];
              ti = j0 + u * G;
            } else {
              tv = pv;
              ti = pi;
            }
          }
          thr = __shfl_sync(0xffffffffu, tv, kTopK - 1, TPK);
        }
      }
    }
    m = m_new;
  }

  // Merge the G groups of this block.
#pragma unroll
  for (int i = 0; i < 8; i++) s_acc[grp][d0 + i] = acc[i];
  if (sub == 0) {
    s_m[grp] = m;
    s_l[grp] = l;
  }
  if (WRITE_GRAPH && sub < kTopK) {
    s_topv[grp][sub] = tv;
    s_topi[grp][sub] = ti;
  }
  __syncthreads();
  float M = -INFINITY;
  for (int g = 0; g < G; g++) M = fmaxf(M, s_m[g]);
  const float M_use = M == -INFINITY ? 0.f : M;
  float L = 0.f;
  for (int g = 0; g < G; g++) L += s_l[g] * exp2f(s_m[g] - M_use);
  // L is 0 only for an empty range (lse -inf, output 0); NaN propagates (a NaN logit gives NaN).
  const float lse2 = L == 0.f ? -INFINITY : M_use + log2f(L);
  const float inv_l = L == 0.f ? 0.f : 1.f / L;
  const size_t bh = static_cast<size_t>(b) * p.num_heads + h;
  for (int d = tid; d < D; d += kDecodeThreads) {
    float o = 0.f;
    for (int g = 0; g < G; g++) o += s_acc[g][d] * exp2f(s_m[g] - M_use);
    p.part_o[(bh * p.num_splits + split) * D + d] = o * inv_l;
  }
  if (WRITE_GRAPH && tid < 32) {
    Top4 t;
    t.init();
#pragma unroll 1
    for (int c = tid; c < G * kTopK; c += 32) top4_insert(t, Cand{s_topv[c / kTopK][c % kTopK], s_topi[c / kTopK][c % kTopK]});
    t = warp_top4(t);
    if (tid == 0) {
      const size_t o = (bh * p.num_splits + split) * kTopK;
#pragma unroll
      for (int s = 0; s < kTopK; s++) {
        p.part_top_v[o + s] = t.c[s].v;
        p.part_top_i[o + s] = t.c[s].i;
      }
    }
  }
  if (tid == 0) p.part_lse[bh * p.num_splits + split] = lse2;
  // The last block of (b, h) to finish merges the splits (threadfence reduction); with one split that
  // is the block itself (one code path: the tail is fetched cold into the instruction cache).
  __shared__ bool s_last;
  __shared__ float s_w[kMaxSplits];
  __shared__ float s_red[kDecodeThreads / 32];
  __threadfence();
  __syncthreads();
  if (tid == 0) {
    const int ticket = atomicAdd(p.tickets + bh, 1);
    s_last = ticket == p.num_splits - 1;
  }
  __syncthreads();
  if (!s_last) return;
  __threadfence();
  reduce_splits<D, WRITE_GRAPH, LAYOUT>(p, b, h, tid, s_w, s_red);
  if (tid == 0) p.tickets[bh] = 0;
}

}  // namespace kvwalk
