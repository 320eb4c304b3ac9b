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
// part_lse float [..., num_splits] (log2), part_top float/int [..., num_splits, G, 4] (log2 logits, keys of each
// of a block's G = kDecodeThreads / (D / 8) key groups; 16-byte aligned),
// tickets int [batch, num_heads] (zero before the first launch; left zero by every launch).
#pragma once
#include <cuda_bf16.h>
#include "graph_layout.cuh"

// Timeline marks for tools/decode-trace (which defines them to record clocks: thread 0's, or the given
// thread's); empty in every shipped build.
#ifndef KVWALK_DECODE_MARK
#define KVWALK_DECODE_MARK(i)
#endif
#ifndef KVWALK_DECODE_MARK_BY
#define KVWALK_DECODE_MARK_BY(i, thread)
#endif

namespace kvwalk {

constexpr int kDecodeThreads = 128;
constexpr int kDecodeUnroll = 4;
constexpr int kDecodeGraphBlocksPerSm = 4;  // the pipelined graph variant's launch bound
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

struct DecodeParams {
  const float* q;
  const uint16_t* k;
  const uint16_t* v;
  const int* lengths;
  const int* starts;  // [batch] or nullptr: first visible key (sliding-window attention)
  float* out;
  uint16_t* out_bf16;  // [batch, num_heads, D] bf16 copy of out (round to nearest even), or nullptr
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
  // Deferred graph write (SPILL only): every visible key's log2 logit at logits[(b * num_heads + h) *
  // logits_stride + key], the final log2-sum-exp at logits_lse2[b * num_heads + h]; graph_select_kernel
  // (graph_select.cuh) then picks the top-4 and writes the node, off the decode's critical path.
  float* logits;
  float* logits_lse2;
  int logits_stride;
};

__device__ __forceinline__ void bf16x8_to_f32(const uint4 raw, float f[8]) {
  const uint32_t w[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
  for (int i = 0; i < 4; i++) {
    f[2 * i] = __uint_as_float(w[i] << 16);
    f[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
  }
}

// The graph node a decode step of sequence b writes (nodes[b], else its newest key).
__device__ __forceinline__ int graph_node_of(const DecodeParams& p, int b) { return p.nodes ? __ldg(p.nodes + b) : __ldg(p.lengths + b) - 1; }

// Writes node `node` of graph `g` (graphs of `capacity` nodes, `num_graphs` in all) from a final top-4
// (log2 logits) and the final log2-sum-exp: p = exp2(logit - lse2), renormalized (normalize_top4).
template <int LAYOUT>
__device__ __forceinline__ void write_top4_node(void* graph, int64_t num_graphs, int capacity, int64_t g, int node, const Top4& t, float lse2) {
  if (node < 0 || node >= capacity) return;
  float pr[kTopK];
#pragma unroll
  for (int s = 0; s < kTopK; s++) pr[s] = exp2f(t.c[s].v - lse2);
  int4 n;
  float4 w;
  normalize_top4(t, pr, n, w);
  store_node<LAYOUT>(graph, num_graphs * capacity, g * capacity + node, n, w);
}

constexpr int kMaxSplits = 256;

// The split ticket: one thread of a block takes it after a __syncthreads that follows every thread's partial
// writes, and the last block reads the partials after a __syncthreads that follows the take. Release makes
// the block's writes (ordered before the take by the barrier) visible before the increment; acquire orders
// the last block's reads (L2, __ldcg) after it. (Until session 14: __threadfence, a sequentially consistent
// fence, in every thread before and in the last block after; H200, batch 1 x 4k, see the README.)
__device__ __forceinline__ int ticket_add_acq_rel(int* ticket) {
  int old;
  asm volatile("atom.acq_rel.gpu.global.add.s32 %0, [%1], 1;" : "=r"(old) : "l"(ticket) : "memory");
  return old;
}

// Max or sum of a value over a warp (xor butterfly: every lane ends with the same bits).
template <bool MAX>
__device__ __forceinline__ float warp_reduce(float x) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) {
    const float y = __shfl_xor_sync(0xffffffffu, x, off);
    x = MAX ? fmaxf(x, y) : x + y;
  }
  return x;
}

// The named barrier (besides __syncthreads' barrier 0) of the tail's three reducing warps when the last warp,
// the graph warp, works on its own (reduce_splits with WRITE_GRAPH).
constexpr int kBarReducers = 1;

// Block-wide max or sum of one value per thread (kDecodeThreads threads); every thread gets the result:
// warp butterflies, then the warps' partials summed in warp order. WITHOUT_LAST: only the first
// kDecodeThreads / 32 - 1 warps call it (named barrier kBarReducers) and warp 0 passes x_last, the value of
// thread tid + kDecodeThreads - 32 of the last warp, so the partials, their order and the result's bits
// are those of the all-warp form (a max is exact in any order: callers fold the last warp's values into x).
template <bool MAX, bool WITHOUT_LAST = false>
__device__ __forceinline__ float block_reduce(float x, float* s_red, float x_last = 0.f) {
  constexpr int NW = kDecodeThreads / 32;
  x = warp_reduce<MAX>(x);
  if (WITHOUT_LAST && !MAX && threadIdx.x < 32) x_last = warp_reduce<MAX>(x_last);
  auto sync = [] {
    if constexpr (WITHOUT_LAST) {
      asm volatile("bar.sync %0, %1;" ::"n"(kBarReducers), "n"(kDecodeThreads - 32) : "memory");
    } else {
      __syncthreads();
    }
  };
  sync();  // s_red may still be read from a previous reduction
  if ((threadIdx.x & 31) == 0) s_red[threadIdx.x >> 5] = x;
  if (WITHOUT_LAST && threadIdx.x == 0) s_red[NW - 1] = MAX ? -INFINITY : x_last;
  sync();
  float r = s_red[0];
#pragma unroll
  for (int w = 1; w < NW; w++) r = MAX ? fmaxf(r, s_red[w]) : r + s_red[w];
  return r;
}

// A candidate as one 64-bit key that orders like better(): the score's bits made monotone in the high word
// (-0 taken as +0, as float compares do), INT_MAX - index in the low word (lower index = larger key).
// Candidates are never NaN (NaN logits never enter a top-4). key_cand inverts it (-0 comes back as +0;
// nothing downstream tells them apart: exp2f(-0 - x) == exp2f(0 - x)).
__device__ __forceinline__ unsigned long long cand_key(const Cand& c) {
  uint32_t u = __float_as_uint(c.v == 0.f ? 0.f : c.v);
  u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  return (static_cast<unsigned long long>(u) << 32) | static_cast<uint32_t>(INT_MAX - c.i);
}
__device__ __forceinline__ Cand key_cand(unsigned long long k) {
  const uint32_t u = static_cast<uint32_t>(k >> 32);
  return Cand{__uint_as_float((u & 0x80000000u) ? (u & 0x7fffffffu) : ~u), INT_MAX - static_cast<int>(static_cast<uint32_t>(k))};
}

// The key of an empty list slot (cand_key of the (-inf, INT_MAX) sentinel): below every real candidate's.
constexpr unsigned long long kEmptyKey = 0x007fffffull << 32;

// a <- the top 4 of the sorted (best first) key lists a and b, sorted. The elementwise larger of a and b
// reversed holds the top 4 of the union as a bitonic sequence; a half-cleaner and one compare per half sort it.
// Keys of distinct candidates differ (distinct key indices); sentinels are equal, which is harmless.
__device__ __forceinline__ void merge_top4_keys(unsigned long long (&a)[kTopK], const unsigned long long (&b)[kTopK]) {
  unsigned long long c[kTopK];
#pragma unroll
  for (int r = 0; r < kTopK; r++) c[r] = a[r] > b[kTopK - 1 - r] ? a[r] : b[kTopK - 1 - r];
#pragma unroll
  for (int r = 0; r < 2; r++) {
    a[r] = c[r] > c[r + 2] ? c[r] : c[r + 2];
    a[r + 2] = c[r] > c[r + 2] ? c[r + 2] : c[r];
  }
#pragma unroll
  for (int r = 0; r < kTopK; r += 2) {
    const unsigned long long hi = a[r] > a[r + 1] ? a[r] : a[r + 1], lo = a[r] > a[r + 1] ? a[r + 1] : a[r];
    a[r] = hi;
    a[r + 1] = lo;
  }
}

// The largest of one unsigned value per lane of a full warp, in every lane.
__device__ __forceinline__ uint32_t warp_max_u32(uint32_t x) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  return __reduce_max_sync(0xffffffffu, x);
#else
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) x = max(x, __shfl_xor_sync(0xffffffffu, x, off));
  return x;
#endif
}

// Loads top-4 list l (sorted, best first) of a workspace's part_top_v / part_top_i as keys: one 16-byte load
// per array (lists start 16-byte aligned: decode_attention.cu keeps part_top_v so); l < n, else empty keys.
__device__ __forceinline__ void load_list_keys(const float* top_v, const int* top_i, int l, int n, unsigned long long (&x)[kTopK]) {
  const float4 v = l < n ? __ldcg(reinterpret_cast<const float4*>(top_v) + l) : make_float4(-INFINITY, -INFINITY, -INFINITY, -INFINITY);
  const int4 i = l < n ? __ldcg(reinterpret_cast<const int4*>(top_i) + l) : make_int4(INT_MAX, INT_MAX, INT_MAX, INT_MAX);
  x[0] = cand_key(Cand{v.x, i.x});
  x[1] = cand_key(Cand{v.y, i.y});
  x[2] = cand_key(Cand{v.z, i.z});
  x[3] = cand_key(Cand{v.w, i.w});
}

// Lists per lane that the graph warp loads with its first loads and merges as a tree (lists lane, lane + 32,
// lane + 64, lane + 96); more lists (over 128) are folded in one by one afterwards.
constexpr int kTailListsPerLane = 4;

// The top 4 of n sorted top-4 lists (of the splits' key groups) by one warp, the tail's graph warp: lane l holds
// lists l + 32 k (k < kTailListsPerLane, given: loaded at the tail's start) and merges them as a tree
// (merge_top4_keys), folds in lists l + 128, l + 160, ... (n > 128 only), then runs a tournament of four
// rounds: the warp's largest list head (warp_max_u32 over the keys' high words, then over the low words of
// the lanes that tie there) is the next result and its lane pops it. Keys of real candidates are distinct;
// empty slots are equal and pop together, harmlessly. Every lane ends with the result in x[0], sorted, best
// first. (H200, session 16, batch 1 x 4k: the tournament took ~700 cycles where session 15's butterfly of
// bitonic merges over the lanes took ~1150.)
__device__ __forceinline__ void lists_top4(const float* top_v, const int* top_i, int n, int lane, unsigned long long (&x)[kTailListsPerLane][kTopK]) {
  static_assert(kTailListsPerLane == 4, "the tree below");
  if (n > 32) {  // the first two merges are independent
    merge_top4_keys(x[0], x[1]);
    merge_top4_keys(x[2], x[3]);
    merge_top4_keys(x[0], x[2]);
  }
#pragma unroll 1
  for (int l = lane + 32 * kTailListsPerLane; l < n; l += 32) {
    unsigned long long y[kTopK];
    load_list_keys(top_v, top_i, l, n, y);
    merge_top4_keys(x[0], y);
  }
  unsigned long long(&best)[kTopK] = x[0];
  unsigned long long top[kTopK];
#pragma unroll
  for (int k = 0; k < kTopK; k++) {
    const uint32_t hi = static_cast<uint32_t>(best[0] >> 32), lo = static_cast<uint32_t>(best[0]);
    const uint32_t mhi = warp_max_u32(hi);
    const uint32_t mlo = warp_max_u32(hi == mhi ? lo : 0u);
    top[k] = (static_cast<unsigned long long>(mhi) << 32) | mlo;
    if (hi == mhi && lo == mlo) {
#pragma unroll
      for (int r = 0; r < kTopK - 1; r++) best[r] = best[r + 1];
      best[kTopK - 1] = kEmptyKey;
    }
  }
#pragma unroll
  for (int k = 0; k < kTopK; k++) best[k] = top[k];
}

// write_top4_node by lanes 0-3 of a warp (every lane calls it with the same sorted top-4 keys `best`),
// lane r taking entry r: the operations of normalize_top4 (p = exp2f(v - lse2), the kept p summed in
// order, one IEEE division per entry, kept entries first, then -1 / 0), so the node is bit-identical,
// with the four divisions in parallel (H200, session 16: ~600 cycles against ~770 in one thread).
template <int LAYOUT>
__device__ __forceinline__ void write_top4_node_warp(void* graph, int64_t num_graphs, int capacity, int64_t g, int node, const unsigned long long (&best)[kTopK], float lse2, int lane) {
  const int r = lane & (kTopK - 1);
  unsigned long long k = best[0];
#pragma unroll
  for (int s = 1; s < kTopK; s++)
    if (r == s) k = best[s];
  const Cand c = key_cand(k);
  const float pr = exp2f(c.v - lse2);
  const bool ok = c.i != INT_MAX && pr > 0.f;
  const unsigned kept = __ballot_sync(0xffffffffu, ok) & ((1u << kTopK) - 1);
  float sum = 0.f;
#pragma unroll
  for (int s = 0; s < kTopK; s++) {
    const float ps = __shfl_sync(0xffffffffu, pr, s);
    if (kept & (1u << s)) sum = __fadd_rn(sum, ps);
  }
  const float q = __fdiv_rn(ok ? pr : 0.f, sum > 0.f ? sum : 1.f);
  if (lane >= kTopK || node < 0 || node >= capacity) return;
  const int64_t nn = g * capacity + node;
  if (ok) store_node_entry<LAYOUT>(graph, num_graphs * capacity, nn, __popc(kept & ((1u << lane) - 1)), c.i, q);
  if (lane >= __popc(kept)) store_node_entry<LAYOUT>(graph, num_graphs * capacity, nn, lane, -1, 0.f);
}

// Up to this many splits (and head dims up to the block's threads) the tail loads each thread's split
// outputs into registers first, with the split weights, so no L2 round trip follows the reductions (H200,
// session 14 run 7: batch 1 x 4k 19.79 -> 19.48 us without the graph, 22.19 -> 21.94 with it).
constexpr int kTailPrefetch = 16;

// Top-4 lists a split leaves for the tail with the graph: one per key group (the block's threads / (D / 8)),
// as the groups hold them; no block merge (H200, session 16, batch 1 x 4k: the block-wide rank merge took
// ~580 cycles of every split block's ~2300 after its tile loop). The workspace's layout (decode_attention.cu)
// and the kernels take it from here.
__host__ __device__ constexpr int top_lists_per_split(int head_dim) { return kDecodeThreads / (head_dim / 8); }

// The first thread of the tail's graph warp (the last warp).
constexpr int kGraphLane = kDecodeThreads - 32;

// The tail's hand-over of lse2 from warp 0 to the graph warp: an mbarrier of one arrival in shared memory,
// initialized by thread 0 of a tail block before the barrier that follows the ticket; thread 0 stores lse2
// in shared memory and arrives (release), the graph warp waits on the phase's parity (acquire) and reads it.
// One phase per reduce_splits call (the grouped kernel's heads: phase g & 1). (Session 16: the same hand-over
// by bar.arrive / bar.sync, as fast, draws racecheck hazard reports; the graph warp computing lse2 itself, in
// the reducers' order, was clean but put the graph warp ~550 cycles behind the reducers at batch 1 x 4k.)
__device__ __forceinline__ uint32_t smem_addr(const void* p) { return static_cast<uint32_t>(__cvta_generic_to_shared(p)); }
__device__ __forceinline__ void mbar_init(uint64_t* bar, uint32_t count) {
  asm volatile("mbarrier.init.shared.b64 [%0], %1;" ::"r"(smem_addr(bar)), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint64_t* bar) {
  asm volatile("{\n .reg .b64 st;\n mbarrier.arrive.shared.b64 st, [%0];\n}" ::"r"(smem_addr(bar)) : "memory");
}
__device__ __forceinline__ void mbar_wait(uint64_t* bar, uint32_t parity) {
  uint32_t done;
  do {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("{\n .reg .pred p;\n mbarrier.try_wait.parity.shared.b64 p, [%1], %2;\n selp.u32 %0, 1, 0, p;\n}" : "=r"(done) : "r"(smem_addr(bar)), "r"(parity) : "memory");
#else
    asm volatile("{\n .reg .pred p;\n mbarrier.test_wait.parity.shared.b64 p, [%1], %2;\n selp.u32 %0, 1, 0, p;\n}" : "=r"(done) : "r"(smem_addr(bar)), "r"(parity) : "memory");
#endif
  } while (!done);
}

// The split ticket of a block, called by every thread once its partial is written: true (in every thread) in
// the last block of ticket slot `slot` to finish, which then merges the splits and resets the slot. That
// block's thread 0 also initializes the tail's lse2 hand-over (s_bar) when the graph is written. Shared by
// decode_attention_kernel (a slot per (sequence, head)) and decode_attention_gqa_kernel (per (sequence, KV head)).
template <bool WRITE_GRAPH>
__device__ __forceinline__ bool take_split_ticket(const DecodeParams& p, size_t slot, bool& s_last, uint64_t* s_bar) {
  __syncthreads();
  if (threadIdx.x == 0) {
    const int ticket = ticket_add_acq_rel(p.tickets + slot);
    s_last = ticket == p.num_splits - 1;
    if (WRITE_GRAPH && s_last) mbar_init(s_bar, 1);
  }
  __syncthreads();
  return s_last;
}

// The graph warp's share of the tail (WRITE_GRAPH): the merge of the splits' S x LISTS top-4 lists
// (lists_top4), then lse2 from thread 0 (mbar_wait on s_bar; by then the reducers have long had it) and the
// node. It waits on no block barrier: the reducers' reductions and outputs run beside the merge.
template <int LAYOUT, int LISTS>
__device__ void graph_warp_tail(const DecodeParams& p, int b, int h, int lane, const float* s_red, uint64_t* s_bar, int phase) {
  const size_t bh = static_cast<size_t>(b) * p.num_heads + h;
  const int n = p.num_splits * LISTS;
  const float* top_v = p.part_top_v + bh * n * kTopK;
  const int* top_i = p.part_top_i + bh * n * kTopK;
  unsigned long long x[kTailListsPerLane][kTopK];
#pragma unroll
  for (int k = 0; k < kTailListsPerLane; k++) load_list_keys(top_v, top_i, lane + 32 * k, n, x[k]);
  const int node = graph_node_of(p, b);
  KVWALK_DECODE_MARK_BY(13, kGraphLane);
  lists_top4(top_v, top_i, n, lane, x);
  KVWALK_DECODE_MARK_BY(14, kGraphLane);
  mbar_wait(s_bar, phase & 1);  // thread 0 stored lse2 and arrived
  const float lse2 = s_red[kDecodeThreads / 32];
  write_top4_node_warp<LAYOUT>(p.graph, static_cast<int64_t>(p.batch) * p.num_heads, p.graph_capacity, static_cast<int64_t>(bh), node, x[0], lse2, lane);
  KVWALK_DECODE_MARK_BY(11, kGraphLane);
}

// Merges the splits of (b, h): run by the whole last block of (b, h) to finish. Partials written by
// other blocks are read through L2 (__ldcg) after the ticket (ticket_add_acq_rel). Loads are independent so the
// tail costs a few L2 round trips: split weights and outputs in parallel, output loop unrolled.
// With WRITE_GRAPH the work is split by warps (H200, session 16, batch 1 x 4k, tools/decode-trace: the graph
// variant went from +7.4 % to +2.1 to +2.7 % over the variant without the graph, with the split blocks' lists
// below; before, the whole block reduced the weights, then the last warp merged the top-4 lists and wrote the
// node while the others wrote their outputs):
//   - the last warp runs graph_warp_tail and returns;
//   - the first three, the reducers, compute the split weights and lse2 among themselves (named barrier
//     kBarReducers; warp 0 also takes the last warp's share of the splits, so every sum keeps the bits of the
//     all-warp form, which the deferred write's kernel and the variant without the graph get too), thread 0
//     hands lse2 to the graph warp (mbar_arrive), and they write every output, two adjacent ones per thread.
template <int D, bool WRITE_GRAPH, int LAYOUT>
__device__ void reduce_splits(const DecodeParams& p, int b, int h, int tid, float* s_w, float* s_red, uint64_t* s_bar, int phase = 0) {
  constexpr int NLV = kMaxSplits / kDecodeThreads;                  // split weights per thread
  constexpr int OT = WRITE_GRAPH ? kGraphLane : kDecodeThreads;     // the threads that write outputs
  constexpr int PAIRS = WRITE_GRAPH ? 2 : 1;                        // adjacent outputs per thread and pass
  constexpr int NO = (D / PAIRS + OT - 1) / OT;                     // passes
  if (WRITE_GRAPH && tid >= kGraphLane) {
    graph_warp_tail<LAYOUT, top_lists_per_split(D)>(p, b, h, tid & 31, s_red, s_bar, phase);
    return;
  }
  const size_t bh = static_cast<size_t>(b) * p.num_heads + h;
  const int S = p.num_splits;
  const float* pl = p.part_lse + bh * S;
  const bool shared_last = WRITE_GRAPH && tid < 32;  // warp 0 also reduces the last warp's splits
  const bool prefetch = S <= kTailPrefetch && D <= kDecodeThreads;
  const float* po = p.part_o + bh * S * D;
  // outputs d .. d + PAIRS - 1 of pass i: d = PAIRS * (tid + i * OT)
  float2 ov[NO][kTailPrefetch];
#pragma unroll
  for (int i = 0; i < NO; i++)
#pragma unroll
    for (int s = 0; s < kTailPrefetch; s++) {
      const int d = PAIRS * (tid + i * OT);
      const float* src = po + static_cast<size_t>(s) * D + d;
      ov[i][s] = !(prefetch && s < S && d < D) ? make_float2(0.f, 0.f) : PAIRS == 2 ? __ldcg(reinterpret_cast<const float2*>(src)) : make_float2(__ldcg(src), 0.f);
    }
  float lv[NLV], lvl[NLV];
  float mx = -INFINITY;
#pragma unroll
  for (int r = 0; r < NLV; r++) {
    const int s = tid + r * kDecodeThreads;
    lv[r] = s < S ? __ldcg(pl + s) : -INFINITY;
    lvl[r] = shared_last && s + kGraphLane < S ? __ldcg(pl + s + kGraphLane) : -INFINITY;
    mx = fmaxf(mx, fmaxf(lv[r], lvl[r]));  // a max is exact in any order
  }
  const float M = block_reduce<true, WRITE_GRAPH>(mx, s_red);
  KVWALK_DECODE_MARK(6);
  const float M_use = M == -INFINITY ? 0.f : M;
  float sum = 0.f, sum_last = 0.f;
#pragma unroll
  for (int r = 0; r < NLV; r++) {
    const int s = tid + r * kDecodeThreads;
    if (s < S) {
      const float w = exp2f(lv[r] - M_use);
      s_w[s] = w;
      sum += w;
    }
    if (shared_last && s + kGraphLane < S) {
      const float w = exp2f(lvl[r] - M_use);
      s_w[s + kGraphLane] = w;
      sum_last += w;
    }
  }
  KVWALK_DECODE_MARK(7);
  const float L = block_reduce<false, WRITE_GRAPH>(sum, s_red, sum_last);  // ends with a barrier: s_w is complete
  KVWALK_DECODE_MARK(8);
  const float lse2 = L == 0.f ? -INFINITY : M_use + log2f(L);
  const float inv_l = L == 0.f ? 0.f : 1.f / L;
  if (WRITE_GRAPH && tid == 0) {  // lse2 for the graph warp
    s_red[kDecodeThreads / 32] = lse2;
    mbar_arrive(s_bar);
  }
#pragma unroll
  for (int i = 0; i < NO; i++) {
    const int d = PAIRS * (tid + i * OT);
    if (d >= D) break;
    float o[PAIRS];  // the same fmaf chain either way; empty splits: w = 0, o = 0
#pragma unroll
    for (int j = 0; j < PAIRS; j++) o[j] = 0.f;
    if (prefetch) {
#pragma unroll
      for (int s = 0; s < kTailPrefetch; s++)
        if (s < S) {
          o[0] = fmaf(s_w[s], ov[i][s].x, o[0]);
          if (PAIRS == 2) o[PAIRS - 1] = fmaf(s_w[s], ov[i][s].y, o[PAIRS - 1]);
        }
    } else {
#pragma unroll 8
      for (int s = 0; s < S; s++)
#pragma unroll
        for (int j = 0; j < PAIRS; j++) o[j] = fmaf(s_w[s], __ldcg(po + static_cast<size_t>(s) * D + d + j), o[j]);
    }
#pragma unroll
    for (int j = 0; j < PAIRS; j++) {
      const float oj = o[j] * inv_l;
      p.out[bh * D + d + j] = oj;
      if (p.out_bf16) p.out_bf16[bh * D + d + j] = __bfloat16_as_ushort(__float2bfloat16_rn(oj));
    }
  }
  KVWALK_DECODE_MARK(9);
  if (tid == 0) p.lse[bh] = lse2 * kLn2;
  if (tid == 0 && p.logits_lse2) p.logits_lse2[bh] = lse2;  // the deferred graph write's normalizer
}

// Stores a tile's valid logits (log2 units) for the deferred graph write: s[g][u] is query head g's logit
// of key j0 + u * key_stride, written at base[g * head_stride + key]. Every lane of a key group holds all
// of them after the butterfly reduction, so lane `sub` of the group's TPK lanes stores values sub,
// sub + TPK, ...: a warp issues ceil(QG * U / TPK) store instructions per tile (one for the shapes the
// engine runs) instead of QG * U with one lane each. Measured on the H200 (session 8) it changed nothing:
// the grouped kernel at batch 32 x 896 keys still takes ~6.5 us more with the stores than without (54.2
// vs 47.7 us; 54.6 vs 46.3 with one lane per value in session 7), far more than their 3.6 MB of bytes.
template <int QG, int U, int TPK>
__device__ __forceinline__ void spill_logits(float* base, size_t head_stride, int j0, int key_stride, int end, const float (&s)[QG][U], int sub) {
#pragma unroll
  for (int i0 = 0; i0 < QG * U; i0 += TPK) {
    const int i = i0 + sub;
    float v = 0.f;
#pragma unroll
    for (int k = i0; k < i0 + TPK && k < QG * U; k++) v = k == i ? s[k / U][k % U] : v;
    const int j = j0 + (i % U) * key_stride;
    if (i < QG * U && j < end) base[static_cast<size_t>(i / U) * head_stride + j] = v;
  }
}

// The block's split partial of query head h of sequence b: merges its G key groups' states (acc, m, l)
// through shared memory and writes part_o (normalized) and part_lse (log2); with WRITE_GRAPH each group's
// lanes 0-3 store its distributed top-4 list (tv / ti) as it is, list grp of the split in part_top_v /
// part_top_i (top_lists_per_split(D) = G lists per split; the tail merges them all).
// Shared by decode_attention_kernel and decode_attention_gqa_kernel; starts by storing into the shared
// arrays, so a caller reusing them syncs first.
template <int D, int G, bool WRITE_GRAPH>
__device__ __forceinline__ void write_split_partial(const DecodeParams& p, int b, int h, int split, int tid, int grp, int sub, int d0, const float (&acc)[8], float m, float l, float tv, int ti, float (&s_m)[G], float (&s_l)[G], float (&s_acc)[G][D]) {
#pragma unroll
  for (int i = 0; i < 8; i++) s_acc[grp][d0 + i] = acc[i];
  if (sub == 0) {
    s_m[grp] = m;
    s_l[grp] = l;
  }
  if (WRITE_GRAPH && sub < kTopK) {
    static_assert(!WRITE_GRAPH || G == top_lists_per_split(D), "lists per split");
    const size_t o = ((static_cast<size_t>(b) * p.num_heads + h) * p.num_splits + split) * (G * kTopK) + grp * kTopK + sub;
    p.part_top_v[o] = tv;
    p.part_top_i[o] = ti;
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
  if (tid == 0) p.part_lse[bh * p.num_splits + split] = lse2;
}

// Without the graph: 7 blocks/SM (72 registers); capped at 64 registers (8 blocks) it ran 10 % slower at
// batch 1 x 4k (H200: 22.4 vs 20.4 us, PDL). With the graph: 4 blocks/SM, for the pipelined tile loop.
// SPILL (deferred graph write; WRITE_GRAPH false): the baseline kernel that also stores every logit.
template <int D, bool WRITE_GRAPH, int LAYOUT, bool SPILL = false>
__global__ void __launch_bounds__(kDecodeThreads, WRITE_GRAPH ? kDecodeGraphBlocksPerSm : 7) decode_attention_kernel(const DecodeParams p) {
  static_assert(!(WRITE_GRAPH && SPILL), "the graph is written either in the kernel or deferred");
  constexpr int TPK = D / 8;                   // threads per key: each owns 8 dims (16 bytes of bf16)
  constexpr int G = kDecodeThreads / TPK;      // key groups per block
  static_assert(D % 8 == 0 && TPK <= 32 && (32 % TPK) == 0, "head dim");
  __shared__ float s_m[G], s_l[G];
  __shared__ float s_acc[G][D];

  KVWALK_DECODE_MARK(0);
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

  // The first tile of K/V is requested before waiting for the previous grid (programmatic dependent
  // launch; without the launch attribute the wait is a no-op): every key except lengths[b] - 1, which
  // the preceding kernel (RoPE + append) may still be writing. q, that key and everything this kernel
  // writes come after the wait. Contract with a PDL launch: the preceding kernel writes neither
  // lengths/starts nor any other key of the range.
  auto load_tile = [&](int j0, int lim, uint4 (&kr)[kDecodeUnroll], uint4 (&vr)[kDecodeUnroll]) {
#pragma unroll
    for (int u = 0; u < kDecodeUnroll; u++) {
      const int j = j0 + u * G;
      if (j < lim) {
        kr[u] = __ldg(reinterpret_cast<const uint4*>(kb + static_cast<size_t>(j) * D + d0));
        vr[u] = __ldg(reinterpret_cast<const uint4*>(vb + static_cast<size_t>(j) * D + d0));
      } else {
        kr[u] = make_uint4(0, 0, 0, 0);
        vr[u] = make_uint4(0, 0, 0, 0);
      }
    }
  };
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
  float qf[8];
  // One tile of keys j0 + u * G (u < kDecodeUnroll): logits, online softmax, V accumulation, top-4.
  auto step = [&](const int j0, const uint4 (&kr)[kDecodeUnroll], const uint4 (&vr)[kDecodeUnroll]) {
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
    if (SPILL) {
      const float(&s1)[1][kDecodeUnroll] = *reinterpret_cast<const float(*)[1][kDecodeUnroll]>(&s);
      spill_logits<1, kDecodeUnroll, TPK>(p.logits + (static_cast<size_t>(b) * p.num_heads + h) * p.logits_stride, 0, j0, G, end, s1, sub);
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
    // One vote per tile in the common case (no key of the warp's tile beats its group's 4th best);
    // otherwise the keys are inserted one by one.
    if (WRITE_GRAPH) {
      float smax = s[0];
#pragma unroll
      for (int u = 1; u < kDecodeUnroll; u++) smax = fmaxf(smax, s[u]);
      if (__any_sync(0xffffffffu, smax > thr)) {
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
    }
    m = m_new;
  };
  // The loop bounds are block-uniform (the group shuffles need every lane of a warp); each key is
  // bounds-checked. The first tile is peeled: its loads are issued before the wait.
  const int j_first = start + grp;
  {
    uint4 kr[kDecodeUnroll], vr[kDecodeUnroll];
    load_tile(j_first, min(end, len - 1), kr, vr);
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
    KVWALK_DECODE_MARK(1);
#pragma unroll
    for (int u = 0; u < kDecodeUnroll; u++) {
      const int j = j_first + u * G;
      if (j == len - 1 && j < end) {  // L2 reads: never an L1 line fetched before the wait
        kr[u] = __ldcg(reinterpret_cast<const uint4*>(kb + static_cast<size_t>(j) * D + d0));
        vr[u] = __ldcg(reinterpret_cast<const uint4*>(vb + static_cast<size_t>(j) * D + d0));
      }
    }
    const float* qp = p.q + (static_cast<size_t>(b) * p.num_heads + h) * D + d0;
    const float qs = p.scale * kLog2e;
#pragma unroll
    for (int i = 0; i < 8; i++) qf[i] = qp[i] * qs;
    if constexpr (WRITE_GRAPH) {
      // Software-pipelined tiles for the graph variant only (the next tile is requested before the
      // current one is processed, so the top-4 work hides under memory latency; 4 blocks/SM). Measured
      // for both variants (a3bb5b1): the graph variant gained everywhere, the grouped-query variant
      // without the graph lost 20 %, hence graph only. H200, PDL, graph overhead: batch 1 x 4k +33 ->
      // +22 %, 16k +8.3 -> +4.2 %, 32k +3.7 -> +1.9 %, batch 8 x 4k +3.1 -> +2.0 %.
      int j0 = j_first;
      for (;;) {
        const int jn = j0 + G * kDecodeUnroll;
        const bool more = jn - grp < end;  // block-uniform
        uint4 nk[kDecodeUnroll], nv[kDecodeUnroll];
        if (more) load_tile(jn, end, nk, nv);
        if (j0 - grp < end) step(j0, kr, vr);
        if (!more) break;
#pragma unroll
        for (int u = 0; u < kDecodeUnroll; u++) {
          kr[u] = nk[u];
          vr[u] = nv[u];
        }
        j0 = jn;
      }
    } else {
      if (start < end) step(j_first, kr, vr);
    }
  }
  if constexpr (!WRITE_GRAPH) {
    for (int j0 = j_first + G * kDecodeUnroll; j0 - grp < end; j0 += G * kDecodeUnroll) {
      uint4 kr[kDecodeUnroll], vr[kDecodeUnroll];
      load_tile(j0, end, kr, vr);
      step(j0, kr, vr);
    }
  }
  // No griddepcontrol.launch_dependents here: an early trigger let the next launch's blocks take SM
  // slots while this grid's merges ran (H200, batch 1 x 4k with the graph, PDL: 34.8 -> 25.9 us without it).

  KVWALK_DECODE_MARK(2);
  // Merge the G groups of this block and write the split's partial.
  write_split_partial<D, G, WRITE_GRAPH>(p, b, h, split, tid, grp, sub, d0, acc, m, l, tv, ti, s_m, s_l, s_acc);
  KVWALK_DECODE_MARK(3);
  // The last block of (b, h) to finish merges the splits (a split ticket); with one split that
  // is the block itself (one code path: the tail is fetched cold into the instruction cache).
  const size_t bh = static_cast<size_t>(b) * p.num_heads + h;
  __shared__ bool s_last;
  __shared__ float s_w[kMaxSplits];
  __shared__ float s_red[kDecodeThreads / 32 + 1];  // the warps' partials, then lse2 for the graph warp
  __shared__ uint64_t s_bar;                         // its hand-over (mbar_init)
  const bool last = take_split_ticket<WRITE_GRAPH>(p, bh, s_last, &s_bar);
  KVWALK_DECODE_MARK(4);
  if (!last) return;
  reduce_splits<D, WRITE_GRAPH, LAYOUT>(p, b, h, tid, s_w, s_red, &s_bar);
  if (tid == 0) p.tickets[bh] = 0;
  KVWALK_DECODE_MARK(5);
}

}  // namespace kvwalk
