// Device code of prompt scoring (issue 7): during a prefill, the eviction state a sequence of decode
// steps would have written for the prompt -- graph-cache nodes (top-4 keys of every prompt row) and
// H2O / TOVA attention mass -- computed tile by tile with tensor cores. Raw pointers only; the launcher
// is native/src/prefill_score.cu, the contract native/src/evict_launchers.h (launch_prefill_score), the
// TypeScript twin src/engine/kernels/prefill-score-reference.ts.
//
// One sequence of T prompt rows, query head h reading KV head h / group; row t sees key j iff j <= t and
// (window <= 0 or t - j < window) -- exactly launch_prefill_attention's mask. Logits are kept in log2
// units like the prefill attention and graph-cache's decode kernel: x = (bf16(q) . k) * scale * log2(e),
// with q rounded to bf16 (round to nearest even) as the prefill attention does, bf16 x bf16 products
// accumulated in f32 by mma.sync m16n8k16.
//
//   pass 1, prefill_rows_kernel (grid (H, query tiles of BM = 16 * NWARPS rows)): per row an online
//     max / sum over key tiles of BN = 64 keys -> lse2 (log2 log-sum-exp), and a running top-4 of x
//     per row (each lane keeps the best 4 of its own columns, in increasing key order, then the 4 lanes
//     of a quad merge): graph node t of head h gets those keys with p = exp2(x - lse2) renormalized over
//     the four (graph-cache's normalize_top4: the decode kernel's rule, ties -> lower key index).
//     Optionally writes lse (natural log) [T, H], and for pass 2 and the graph pass per KV head lse2
//     [H, T] and bf16 q [H, T, D].
//   pass 2, prefill_cols_kernel (grid (H, key tiles of BK = 16 * NWARPS keys)): S^T = K Q^T with the
//     key tile as the A operand (registers) and query tiles of BQ = 64 rows streaming through shared
//     memory (cp.async double buffer); colsum[h][j] = sum over rows t >= row_lo of
//     exp2(x - (lse2_t - (T-1-t) log2(decay))) = sum_t decay^(T-1-t) p_h[t, j] in f32 (the decay
//     folded into the exponent; row T-1 has weight 1 exactly). Each block owns its keys: no atomics,
//     deterministic.
//   pass 3, prefill_scores_finalize_kernel: scores[kvh][j] = sum over the group's heads of colsum (in
//     head order) for j < T; slots >= T untouched.
//   graph per KV head (graph_group = H / KVH > 1): pass 1 writes lse2 and bf16 q but no nodes; then
//     prefill_group_graph_kernel (grid (KVH, query tiles of BM rows)) recomputes every group head's
//     masked logits tile by tile with the same bf16 q, k and code (attn::masked_scores_tile: the very
//     numbers of pass 1) and sums v[t, j] = ((0 + p_g0) + p_g1) + ... over the group's heads in head
//     order, p_g = exp2(x_g - lse2_g) in f32; node t of KV head kvh = the top-4 keys by v (v > 0, not
//     NaN; ties -> lower key index) with weights normalize_top4(p := v). All QG Q tiles of the block are
//     staged in shared memory (A fragments reloaded per head); KSPLIT warps share a 16-row strip, each
//     taking BN / KSPLIT keys of every key tile, their top-4s merged at the end (exact: total order).
//     The launcher picks the fewest KSPLIT with QG * BM <= 256 staged rows (prefill_score.cu:
//     group_ksplit), two blocks per SM (launch bounds: 128 registers).
// TOVA (and H2O with decay 0, which the decode update also turns into "last row only") is pass 1 on
// the last query tile (its lse) and pass 2 with row_lo = T - 1.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cfloat>
#include <climits>
#include <cstdint>

#include "attn_mma.cuh"       // the prefill attention's tensor-core helpers (attn::mma_bf16_16816, cp_async_16, Config)
#include "graph_flush_job.h"  // GraphFlushJob (shared with the engine)
#include "graph_layout.cuh"  // @kvwalk/graph-cache: Cand, Top4, better, normalize_top4, store_node

namespace kvwalk::engine::score {

namespace attn = ::kvwalk::engine::kernels::attn;
using ::kvwalk::engine::kernels::pack_bf16x2;
using ::kvwalk::Cand;
using ::kvwalk::Top4;

constexpr float kLn2 = 0.6931471805599453f;  // lse (natural) = lse2 * ln 2, as graph-cache's decode kernel
constexpr int kNumWarps = 8;                 // 256 threads: 128 query rows (pass 1) or 128 keys (pass 2) per block
constexpr int kColsBQ = 64;                  // pass 2: query rows per streamed tile

template <int D, int NWARPS>
struct RowsConfig {
  static constexpr int BM = attn::Config<D, NWARPS>::BM;
  static constexpr int BN = attn::Config<D, NWARPS>::BN;
  static constexpr int LD = attn::Config<D, NWARPS>::LD;
  static constexpr size_t smem_bytes = static_cast<size_t>(BM + 2 * BN) * LD * sizeof(uint16_t);  // Q tile + K double buffer
};

template <int D, int NWARPS>
struct ColsConfig {
  static constexpr int BK = 16 * NWARPS;
  static constexpr int BQ = kColsBQ;
  static constexpr int LD = D + 8;  // padded rows: 16-byte aligned, conflict-free fragment loads
  static constexpr size_t smem_bytes = static_cast<size_t>(BK + 2 * BQ) * LD * sizeof(uint16_t) + 2 * BQ * sizeof(float);
};

struct RowsParams {
  const float* q;       // [T, H, D] f32
  const uint16_t* k;    // [KVH, capacity, D] bf16 (one region)
  int T, H, group, capacity, window;
  float scale_log2;
  int row_lo;           // first row whose tile is computed (grid covers tiles row_lo / BM .. (T-1) / BM)
  void* graph;          // AoS nodes: head h, row t at node h * graph_capacity + t; nullptr: no graph
  int graph_capacity;
  float* lse;           // [T, H] natural log, or nullptr
  float* lse2;          // [H, T] log2 (pass 2), or nullptr
  uint16_t* qb;         // [H, T, D] bf16 q (pass 2), or nullptr
  // Job mode (the lazy decode graph write, launch_graph_flush; nullptr: one prompt, the fields above):
  // block z serves jobs[z], whose T, row_lo and offsets replace the prompt's; q comes as bf16 rows from
  // qin + jobs[z].q_off (row t of head h at (h * q_hstride + t - row_lo) * D), lse2 goes to
  // lse2 + jobs[z].lse_off (row t of head h at h * lse_stride + t - row_lo), qb and lse are unused.
  const GraphFlushJob* jobs;
  const uint16_t* qin;
  int q_hstride, lse_stride;
};

struct ColsParams {
  const uint16_t* qb;   // [H, T, D] bf16
  const float* lse2;    // [H, T]
  const uint16_t* k;    // [KVH, capacity, D] bf16
  int T, H, group, capacity, window;
  float scale_log2;
  int row_lo;           // rows below get weight 0
  float log2_decay;     // row t < T-1 weighs exp2((T-1-t) * log2_decay); row T-1 weighs 1
  float* colsum;        // [H, T]
};

struct GroupParams {
  const uint16_t* qb;   // [H, T, D] bf16 q (pass 1)
  const float* lse2;    // [H, T] log2 log-sum-exp (pass 1)
  const uint16_t* k;    // [KVH, capacity, D] bf16
  int T, group, capacity, window;
  float scale_log2;
  void* graph;          // AoS nodes: KV head kvh, row t at node kvh * graph_capacity + t
  int graph_capacity;
  // Job mode (see RowsParams): block z serves jobs[z]; qb and lse2 are then read at the job's offsets
  // with row t of head h at (h * q_hstride + t - row_lo) * D and h * lse_stride + t - row_lo.
  const GraphFlushJob* jobs;
  int q_hstride, lse_stride;
};

// Tiles of the per-KV-head graph pass: kNumWarps warps, KSPLIT of them on each 16-row strip (each
// taking BNW = BN / KSPLIT keys of every BN-key tile). Shared memory for a group of QG heads:
// Q tiles bf16 [QG][BM][LD] | K double buffer bf16 [2][BN][LD] | lse2 f32 [QG][BM].
template <int D, int KSPLIT>
struct GroupConfig {
  static_assert(KSPLIT == 1 || KSPLIT == 2 || KSPLIT == 4 || KSPLIT == 8, "warps per strip");
  static constexpr int STRIPS = kNumWarps / KSPLIT;
  static constexpr int BM = 16 * STRIPS;
  static constexpr int BN = 64;
  static constexpr int BNW = BN / KSPLIT;
  static constexpr int LD = D + 8;  // padded rows, as pass 1
  static constexpr size_t smem_bytes(int qg) {
    return static_cast<size_t>(qg * BM + 2 * BN) * LD * sizeof(uint16_t) + static_cast<size_t>(qg) * BM * sizeof(float);
  }
};

// Top-4 of the union of the four sorted lists held by the lanes of a quad (lanes 4r .. 4r+3, which
// share an mma accumulator row): four rounds of a quad-wide best over the lists' heads; the lane that
// owned the winner pops it. Key indices are unique across a quad's lanes (disjoint columns), so exactly
// one lane pops a real candidate (sentinels may pop harmlessly). Exact under graph-cache's total order
// (`better`: larger value, then lower index). Every lane of the warp must call it; each gets its quad's
// result.
__device__ __forceinline__ Top4 quad_top4(Top4 t) {
  Top4 out;
#pragma unroll
  for (int r = 0; r < kvwalk::kTopK; r++) {
    Cand best = t.c[0];
#pragma unroll
    for (int off = 1; off <= 2; off <<= 1) {
      const Cand o{__shfl_xor_sync(0xffffffffu, best.v, off), __shfl_xor_sync(0xffffffffu, best.i, off)};
      if (kvwalk::better(o, best)) best = o;
    }
    out.c[r] = best;
    if (t.c[0].i == best.i) {
      t.c[0] = t.c[1];
      t.c[1] = t.c[2];
      t.c[2] = t.c[3];
      t.c[3] = kvwalk::sentinel();
    }
  }
  return out;
}

// Copies key tile `tile` (BN keys of D bf16 values from kh, keys >= T zero-filled) into stage `stage` of
// the shared double buffer sK [2][BN][LD] with 16-byte cp.async copies spread over NT threads (the
// caller commits the copy group).
template <int D, int BN, int LD, int NT>
__device__ __forceinline__ void load_k_tile(uint16_t* sK, const uint16_t* kh, int T, int tile, int stage) {
  const int kb = tile * BN;
  constexpr int CPR = D / 8;  // 16-byte chunks per row
  for (int c = threadIdx.x; c < BN * CPR; c += NT) {
    const int r = c / CPR, col = (c - r * CPR) * 8;
    const int key = kb + r;
    const bool valid = key < T;
    attn::cp_async_16(sK + (stage * BN + r) * LD + col, kh + static_cast<size_t>(valid ? key : 0) * D + col, valid);
  }
}

// This lane's maxima of rows a and b (fragment rows fr and fr + 8) over a fragment tile s[nt][4] of NT * 8
// keys, from `init` (-inf for logits; 0 for probability sums, whose lists only take v > 0).
template <int NT>
__device__ __forceinline__ void tile_lane_max(const float (&s)[NT][4], float init, float& lm_a, float& lm_b) {
  lm_a = init;
  lm_b = init;
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) {
    lm_a = fmaxf(lm_a, fmaxf(s[nt][0], s[nt][1]));
    lm_b = fmaxf(lm_b, fmaxf(s[nt][2], s[nt][3]));
  }
}

// Running top-4 of rows a and b over this lane's columns of a fragment tile (keys kb + nt * 8 + fc and
// + 1), scanned only when the tile holds a value above the list's 4th (rare once the list fills). Keys
// arrive in increasing order per lane (nt, then e & 1, then tiles), so push_scan's strict > keeps the
// lower key first among equal values; values not above the sentinels (-inf / masked, NaN; with 0
// sentinels also 0) never enter.
template <int NT>
__device__ __forceinline__ void push_tile_top4(const float (&s)[NT][4], int kb, int fc, float lm_a, float lm_b, Top4& top_a, Top4& top_b) {
  if (lm_a > top_a.c[3].v) {
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
      top_a.push_scan(s[nt][0], kb + nt * 8 + fc);
      top_a.push_scan(s[nt][1], kb + nt * 8 + fc + 1);
    }
  }
  if (lm_b > top_b.c[3].v) {
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
      top_b.push_scan(s[nt][2], kb + nt * 8 + fc);
      top_b.push_scan(s[nt][3], kb + nt * 8 + fc + 1);
    }
  }
}

// Graph node of one row from its top-4 (log2 logits) and lse2: graph-cache's write_top4_node rule.
__device__ __forceinline__ void write_row_node(void* graph, int64_t node, const Top4& t, float lse2) {
  float pr[kvwalk::kTopK];
#pragma unroll
  for (int s = 0; s < kvwalk::kTopK; s++) pr[s] = exp2f(t.c[s].v - lse2);
  int4 n;
  float4 w;
  kvwalk::normalize_top4(t, pr, n, w);
  kvwalk::store_node<kvwalk::kLayoutAoS>(graph, 0, node, n, w);
}

// ------------------------------------------------------------------------------------------ pass 1
// grid (H, (T-1)/BM - row_lo/BM + 1); blockIdx.y counts query tiles from the last one (longest rows first).
template <int D, int NWARPS>
__global__ void __launch_bounds__(NWARPS * 32) prefill_rows_kernel(const RowsParams p) {
  using Cfg = RowsConfig<D, NWARPS>;
  constexpr int BM = Cfg::BM, BN = Cfg::BN, LD = Cfg::LD, NT = NWARPS * 32;
  extern __shared__ __align__(16) uint16_t smem[];
  uint16_t* sQ = smem;
  uint16_t* sK = sQ + BM * LD;  // [2][BN][LD]

  const int h = blockIdx.x;
  // prompt: rows 0..T-1, tiles from the last; job: rows row_lo..T-1 of job z, tiles from row_lo
  int T = p.T, row0 = 0, q0;
  const uint16_t* kbase = p.k;
  int64_t node0 = 0;
  float* lse2 = p.lse2;
  size_t lse_hs = static_cast<size_t>(p.T);
  const uint16_t* qin = nullptr;
  if (p.jobs != nullptr) {
    const GraphFlushJob j = p.jobs[blockIdx.z];
    T = j.T;
    row0 = j.row_lo;
    q0 = row0 + static_cast<int>(blockIdx.y) * BM;
    if (q0 >= T) return;  // this job has fewer pending rows than the grid's tallest
    kbase += j.k_off;
    node0 = j.graph_off;
    if (lse2 != nullptr) lse2 += j.lse_off;
    lse_hs = static_cast<size_t>(p.lse_stride);
    qin = p.qin + j.q_off;
  } else {
    q0 = ((T - 1) / BM - static_cast<int>(blockIdx.y)) * BM;
  }
  const uint16_t* kh = kbase + static_cast<size_t>(h / p.group) * p.capacity * D;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int window = p.window;

  int tile_lo, tile_hi;
  attn::key_tile_range<BN, BM>(q0, T, window, tile_lo, tile_hi);

  auto load_k = [&](int tile, int stage) { load_k_tile<D, BN, LD, NT>(sK, kh, T, tile, stage); };

  load_k(tile_lo, 0);
  attn::cp_async_commit();

  // Q tile -> bf16 shared memory (rows >= T zero); the same bf16 rows go to qb for pass 2.
  for (int c = threadIdx.x; c < BM * (D / 4); c += NT) {
    const int r = c / (D / 4), col = (c - r * (D / 4)) * 4;
    const int t = q0 + r;
    if (qin != nullptr) {  // job: bf16 rows as the decode step stored them
      uint2 b = make_uint2(0u, 0u);
      if (t < T) b = *reinterpret_cast<const uint2*>(qin + (static_cast<size_t>(h) * p.q_hstride + (t - row0)) * D + col);
      *reinterpret_cast<uint2*>(sQ + r * LD + col) = b;
      continue;
    }
    float4 x = make_float4(0.f, 0.f, 0.f, 0.f);
    if (t < T) x = *reinterpret_cast<const float4*>(p.q + (static_cast<size_t>(t) * p.H + h) * D + col);
    const uint2 b = make_uint2(pack_bf16x2(x.x, x.y), pack_bf16x2(x.z, x.w));
    *reinterpret_cast<uint2*>(sQ + r * LD + col) = b;
    if (p.qb != nullptr && t < T) *reinterpret_cast<uint2*>(p.qb + (static_cast<size_t>(h) * T + t) * D + col) = b;
  }
  __syncthreads();

  const int fr = lane >> 2, fc = (lane & 3) * 2;  // fragment row / column of this lane
  uint32_t qf[D / 16][4];
  attn::load_a_fragments<D, LD>(sQ + warp * 16 * LD, fr, fc, qf);

  float m_a = -INFINITY, m_b = -INFINITY, l_a = 0.0f, l_b = 0.0f;
  Top4 top_a, top_b;
  top_a.init();
  top_b.init();
  const int row_a = q0 + warp * 16 + fr, row_b = row_a + 8;
  const int warp_q_min = q0 + warp * 16, warp_q_max = warp_q_min + 15;

  for (int tile = tile_lo; tile <= tile_hi; ++tile) {
    const int stage = (tile - tile_lo) & 1;
    if (tile < tile_hi) load_k(tile + 1, stage ^ 1);
    attn::cp_async_commit();
    attn::cp_async_wait<1>();
    __syncthreads();

    const int kb = tile * BN;
    // whole tile masked for this warp: every key is in the future of every row, or too old for the window
    const bool skip = attn::key_tile_masked<BN>(kb, warp_q_min, warp_q_max, window);
    if (!skip) {
      const uint16_t* sKs = sK + stage * BN * LD;
      float s[BN / 8][4];
      attn::masked_scores_tile<D, BN, LD>(qf, sKs, fr, fc, p.scale_log2, kb, row_a, row_b, warp_q_min, warp_q_max, T, window, s);
      // this lane's maximum of each row over the tile, then the rows' running top-4 of the logits
      float lm_a, lm_b;
      tile_lane_max(s, -INFINITY, lm_a, lm_b);
      push_tile_top4(s, kb, fc, lm_a, lm_b, top_a, top_b);
      float mx_a = fmaxf(m_a, lm_a), mx_b = fmaxf(m_b, lm_b);
      mx_a = fmaxf(mx_a, __shfl_xor_sync(0xffffffffu, mx_a, 1));
      mx_a = fmaxf(mx_a, __shfl_xor_sync(0xffffffffu, mx_a, 2));
      mx_b = fmaxf(mx_b, __shfl_xor_sync(0xffffffffu, mx_b, 1));
      mx_b = fmaxf(mx_b, __shfl_xor_sync(0xffffffffu, mx_b, 2));
      const float base_a = mx_a == -INFINITY ? 0.0f : mx_a;
      const float base_b = mx_b == -INFINITY ? 0.0f : mx_b;
      l_a *= exp2f(m_a - base_a);
      l_b *= exp2f(m_b - base_b);
      m_a = mx_a;
      m_b = mx_b;
#pragma unroll
      for (int nt = 0; nt < BN / 8; ++nt) {
        l_a += exp2f(s[nt][0] - base_a) + exp2f(s[nt][1] - base_a);
        l_b += exp2f(s[nt][2] - base_b) + exp2f(s[nt][3] - base_b);
      }
    }
    __syncthreads();  // the next iteration's prefetch overwrites the stage read here
  }
  attn::cp_async_wait<0>();

  l_a += __shfl_xor_sync(0xffffffffu, l_a, 1);
  l_a += __shfl_xor_sync(0xffffffffu, l_a, 2);
  l_b += __shfl_xor_sync(0xffffffffu, l_b, 1);
  l_b += __shfl_xor_sync(0xffffffffu, l_b, 2);
  // L == 0 only for an empty row (never: a row sees its own key); NaN propagates (decode's rule).
  const float lse2_a = l_a == 0.0f ? -INFINITY : m_a + log2f(l_a);
  const float lse2_b = l_b == 0.0f ? -INFINITY : m_b + log2f(l_b);
  if (p.graph != nullptr) {
    top_a = quad_top4(top_a);
    top_b = quad_top4(top_b);
  }
  if ((lane & 3) == 0) {
    if (row_a < T) {
      if (p.graph != nullptr) write_row_node(p.graph, node0 + static_cast<int64_t>(h) * p.graph_capacity + row_a, top_a, lse2_a);
      if (p.lse != nullptr) p.lse[static_cast<size_t>(row_a) * p.H + h] = lse2_a * kLn2;
      if (lse2 != nullptr) lse2[static_cast<size_t>(h) * lse_hs + (row_a - row0)] = lse2_a;
    }
    if (row_b < T) {
      if (p.graph != nullptr) write_row_node(p.graph, node0 + static_cast<int64_t>(h) * p.graph_capacity + row_b, top_b, lse2_b);
      if (p.lse != nullptr) p.lse[static_cast<size_t>(row_b) * p.H + h] = lse2_b * kLn2;
      if (lse2 != nullptr) lse2[static_cast<size_t>(h) * lse_hs + (row_b - row0)] = lse2_b;
    }
  }
}

// ------------------------------------------------------------------------------------ graph per KV head
// grid (KVH, (T-1)/BM + 1); blockIdx.y counts query tiles from the last one (longest rows first).
// Warp w: strip w % STRIPS (rows q0 + 16 * strip ..), split w / STRIPS (keys kb + split * BNW .. of each
// tile). Per key tile and head g of the group (in order): the head's A fragments from shared memory,
// S_g = masked_scores_tile (masked -> -inf), acc += exp2(S_g - lse2_g[row]); then the running top-4
// of acc per row (push_scan: this lane's columns in increasing key order; only acc > 0 enters, the
// lists start with (0, INT_MAX) sentinels). At the end the quad merge, the splits' merge through
// shared memory, normalize_top4 with p = acc and the node store.
// Two blocks per SM (128 registers; ptxas -v: D 128 KSPLIT 2 spills 68 bytes, the others none): measured
// faster than one block of BM 128 rows with unbounded registers (prefill_score.cu, group_ksplit).
template <int D, int KSPLIT>
__global__ void __launch_bounds__(kNumWarps * 32, 2) prefill_group_graph_kernel(const GroupParams p) {
  using Cfg = GroupConfig<D, KSPLIT>;
  constexpr int BM = Cfg::BM, BN = Cfg::BN, BNW = Cfg::BNW, LD = Cfg::LD, STRIPS = Cfg::STRIPS, NT = kNumWarps * 32;
  constexpr int CPR = D / 8;  // 16-byte chunks per row
  extern __shared__ __align__(16) uint16_t smem[];
  const int QG = p.group;
  uint16_t* sQ = smem;                                      // [QG][BM][LD]
  uint16_t* sK = sQ + QG * BM * LD;                         // [2][BN][LD]
  float* sL = reinterpret_cast<float*>(sK + 2 * BN * LD);  // [QG][BM]

  const int kvh = blockIdx.x;
  // prompt: rows 0..T-1 (qb [H, T, D], lse2 [H, T]); job: rows row_lo..T-1 of job z at its offsets
  int T = p.T, row0 = 0, q0;
  const uint16_t* kbase = p.k;
  const uint16_t* qsrc = p.qb;
  const float* lsrc = p.lse2;
  size_t q_hs = static_cast<size_t>(p.T), l_hs = static_cast<size_t>(p.T);
  int64_t node0 = 0;
  if (p.jobs != nullptr) {
    const GraphFlushJob j = p.jobs[blockIdx.z];
    T = j.T;
    row0 = j.row_lo;
    q0 = row0 + static_cast<int>(blockIdx.y) * BM;
    if (q0 >= T) return;  // this job has fewer pending rows than the grid's tallest
    kbase += j.k_off;
    qsrc += j.q_off;
    lsrc += j.lse_off;
    q_hs = static_cast<size_t>(p.q_hstride);
    l_hs = static_cast<size_t>(p.lse_stride);
    node0 = j.graph_off;
  } else {
    q0 = ((T - 1) / BM - static_cast<int>(blockIdx.y)) * BM;
  }
  const uint16_t* kh = kbase + static_cast<size_t>(kvh) * p.capacity * D;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int strip = warp % STRIPS, split = warp / STRIPS;
  const int window = p.window;

  int tile_lo, tile_hi;
  attn::key_tile_range<BN, BM>(q0, T, window, tile_lo, tile_hi);

  auto load_k = [&](int tile, int stage) { load_k_tile<D, BN, LD, NT>(sK, kh, T, tile, stage); };

  load_k(tile_lo, 0);
  // the group's Q tiles (bf16 rows of pass 1; rows >= T zero) in the first copy group with K tile 0
  for (int c = threadIdx.x; c < QG * BM * CPR; c += NT) {
    const int gr = c / CPR, col = (c - gr * CPR) * 8;
    const int g = gr / BM, t = q0 + (gr - g * BM);
    const bool valid = t < T;
    attn::cp_async_16(sQ + gr * LD + col, qsrc + (static_cast<size_t>(kvh * QG + g) * q_hs + (valid ? t - row0 : 0)) * D + col, valid);
  }
  attn::cp_async_commit();
  for (int i = threadIdx.x; i < QG * BM; i += NT) {
    const int g = i / BM, t = q0 + (i - g * BM);
    sL[i] = t < T ? lsrc[static_cast<size_t>(kvh * QG + g) * l_hs + (t - row0)] : 0.0f;
  }

  const int fr = lane >> 2, fc = (lane & 3) * 2;
  const int strip_row = strip * 16;
  const int row_a = q0 + strip_row + fr, row_b = row_a + 8;
  const int warp_q_min = q0 + strip_row, warp_q_max = warp_q_min + 15;
  Top4 top_a, top_b;
#pragma unroll
  for (int s = 0; s < kvwalk::kTopK; s++) top_a.c[s] = top_b.c[s] = Cand{0.0f, INT_MAX};  // only v > 0 enters

  for (int tile = tile_lo; tile <= tile_hi; ++tile) {
    const int stage = (tile - tile_lo) & 1;
    if (tile < tile_hi) load_k(tile + 1, stage ^ 1);
    attn::cp_async_commit();
    attn::cp_async_wait<1>();
    __syncthreads();

    const int kb = tile * BN + split * BNW;  // this warp's keys kb .. kb + BNW - 1
    if (!attn::key_tile_masked<BNW>(kb, warp_q_min, warp_q_max, window)) {
      const uint16_t* sKs = sK + (stage * BN + split * BNW) * LD;
      float acc[BNW / 8][4];
#pragma unroll
      for (int nt = 0; nt < BNW / 8; ++nt) acc[nt][0] = acc[nt][1] = acc[nt][2] = acc[nt][3] = 0.0f;
#pragma unroll 1
      for (int g = 0; g < QG; ++g) {
        uint32_t qf[D / 16][4];
        attn::load_a_fragments<D, LD>(sQ + (g * BM + strip_row) * LD, fr, fc, qf);
        float s[BNW / 8][4];
        attn::masked_scores_tile<D, BNW, LD>(qf, sKs, fr, fc, p.scale_log2, kb, row_a, row_b, warp_q_min, warp_q_max, T, window, s);
        const float la = sL[g * BM + strip_row + fr], lb = sL[g * BM + strip_row + fr + 8];
        // p = exp2(x - lse2) of the rounded logit (no contraction into the scale's product), summed in
        // head order: ((0 + p_g0) + p_g1) + ...; masked keys add exp2(-inf) = 0
#pragma unroll
        for (int nt = 0; nt < BNW / 8; ++nt) {
          acc[nt][0] = __fadd_rn(acc[nt][0], exp2f(__fsub_rn(s[nt][0], la)));
          acc[nt][1] = __fadd_rn(acc[nt][1], exp2f(__fsub_rn(s[nt][1], la)));
          acc[nt][2] = __fadd_rn(acc[nt][2], exp2f(__fsub_rn(s[nt][2], lb)));
          acc[nt][3] = __fadd_rn(acc[nt][3], exp2f(__fsub_rn(s[nt][3], lb)));
        }
      }
      // the rows' running top-4 of the sums: 0 (masked or underflowed) and NaN never enter
      float lm_a, lm_b;
      tile_lane_max(acc, 0.0f, lm_a, lm_b);
      push_tile_top4(acc, kb, fc, lm_a, lm_b, top_a, top_b);
    }
    __syncthreads();  // the next iteration's prefetch overwrites the stage read here
  }
  attn::cp_async_wait<0>();

  top_a = quad_top4(top_a);
  top_b = quad_top4(top_b);
  if constexpr (KSPLIT > 1) {
    // the splits of a strip merge through shared memory (the Q tiles are no longer read: the loop
    // ended with a barrier); list of row r, split s at sT[r * KSPLIT + s]
    Top4* sT = reinterpret_cast<Top4*>(smem);
    if ((lane & 3) == 0) {
      sT[(strip_row + fr) * KSPLIT + split] = top_a;
      sT[(strip_row + fr + 8) * KSPLIT + split] = top_b;
    }
    __syncthreads();
    if (split == 0 && (lane & 3) == 0) {
#pragma unroll 1
      for (int o = 1; o < KSPLIT; ++o) {
        const Top4 ta = sT[(strip_row + fr) * KSPLIT + o], tb = sT[(strip_row + fr + 8) * KSPLIT + o];
#pragma unroll
        for (int s = 0; s < kvwalk::kTopK; s++) {
          kvwalk::top4_insert(top_a, ta.c[s]);
          kvwalk::top4_insert(top_b, tb.c[s]);
        }
      }
    }
  }
  if (split == 0 && (lane & 3) == 0) {
    const int64_t base = node0 + static_cast<int64_t>(kvh) * p.graph_capacity;
    int4 n;
    float4 w;
    if (row_a < T) {
      const float pr[kvwalk::kTopK] = {top_a.c[0].v, top_a.c[1].v, top_a.c[2].v, top_a.c[3].v};
      kvwalk::normalize_top4(top_a, pr, n, w);
      kvwalk::store_node<kvwalk::kLayoutAoS>(p.graph, 0, base + row_a, n, w);
    }
    if (row_b < T) {
      const float pr[kvwalk::kTopK] = {top_b.c[0].v, top_b.c[1].v, top_b.c[2].v, top_b.c[3].v};
      kvwalk::normalize_top4(top_b, pr, n, w);
      kvwalk::store_node<kvwalk::kLayoutAoS>(p.graph, 0, base + row_b, n, w);
    }
  }
}

// ------------------------------------------------------------------------------------------ pass 2
// grid (H, ceil(T / BK)); blockIdx.y = key tile from the first (the tile with the most rows first).
// Warp w owns keys k0 + 16w .. k0 + 16w + 15 (A fragments in registers); the accumulator element
// (row = key, column = query) is summed over the lane's query columns, then over the quad.
template <int D, int NWARPS>
__global__ void __launch_bounds__(NWARPS * 32) prefill_cols_kernel(const ColsParams p) {
  using Cfg = ColsConfig<D, NWARPS>;
  constexpr int BK = Cfg::BK, BQ = Cfg::BQ, LD = Cfg::LD, NT = NWARPS * 32;
  constexpr int CPR = D / 8;  // 16-byte chunks per row
  extern __shared__ __align__(16) uint16_t smem[];
  uint16_t* sK = smem;                                      // [BK][LD]
  uint16_t* sQ = sK + BK * LD;                              // [2][BQ][LD]
  float* sL = reinterpret_cast<float*>(sQ + 2 * BQ * LD);  // [2][BQ] row exponents (log2)

  const int T = p.T;
  const int h = blockIdx.x;
  const int k0 = static_cast<int>(blockIdx.y) * BK;
  const uint16_t* kh = p.k + static_cast<size_t>(h / p.group) * p.capacity * D;
  const uint16_t* qh = p.qb + static_cast<size_t>(h) * T * D;
  const float* lh = p.lse2 + static_cast<size_t>(h) * T;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int window = p.window, row_lo = p.row_lo;

  // rows that can see a key of this tile: [max(k0, row_lo), min(T - 1, last key + window - 1)]
  const int k_last = min(k0 + BK, T) - 1;
  const int t_lo = max(k0, row_lo);
  const int t_hi = window > 0 ? min(T - 1, k_last + window - 1) : T - 1;
  const int qt_lo = t_lo / BQ, qt_hi = t_lo <= t_hi ? t_hi / BQ : qt_lo - 1;

  for (int c = threadIdx.x; c < BK * CPR; c += NT) {
    const int r = c / CPR, col = (c - r * CPR) * 8;
    const int key = k0 + r;
    const bool valid = key < T;
    attn::cp_async_16(sK + r * LD + col, kh + static_cast<size_t>(valid ? key : 0) * D + col, valid);
  }
  auto load_q = [&](int qt, int stage) {
    const int tb = qt * BQ;
    for (int c = threadIdx.x; c < BQ * CPR; c += NT) {
      const int r = c / CPR, col = (c - r * CPR) * 8;
      const int t = tb + r;
      const bool valid = t < T;
      attn::cp_async_16(sQ + (stage * BQ + r) * LD + col, qh + static_cast<size_t>(valid ? t : 0) * D + col, valid);
    }
    for (int r = threadIdx.x; r < BQ; r += NT) {
      const int t = tb + r;
      float L = INFINITY;  // weight 0
      if (t < T && t >= row_lo) {
        const int n = T - 1 - t;
        L = lh[t];
        if (n > 0) L -= static_cast<float>(n) * p.log2_decay;
      }
      sL[stage * BQ + r] = L;
    }
  };
  if (qt_lo <= qt_hi) load_q(qt_lo, 0);
  attn::cp_async_commit();
  attn::cp_async_wait<0>();
  __syncthreads();

  const int fr = lane >> 2, fc = (lane & 3) * 2;
  uint32_t kf[D / 16][4];
  {
    const uint16_t* base = sK + (warp * 16 + fr) * LD + fc;
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      kf[kk][0] = *reinterpret_cast<const uint32_t*>(base + kk * 16);
      kf[kk][1] = *reinterpret_cast<const uint32_t*>(base + 8 * LD + kk * 16);
      kf[kk][2] = *reinterpret_cast<const uint32_t*>(base + kk * 16 + 8);
      kf[kk][3] = *reinterpret_cast<const uint32_t*>(base + 8 * LD + kk * 16 + 8);
    }
  }
  const int key_a = k0 + warp * 16 + fr, key_b = key_a + 8;
  const int warp_k_min = k0 + warp * 16, warp_k_max = warp_k_min + 15;
  float acc_a = 0.0f, acc_b = 0.0f;

  for (int qt = qt_lo; qt <= qt_hi; ++qt) {
    const int stage = (qt - qt_lo) & 1;
    if (qt < qt_hi) load_q(qt + 1, stage ^ 1);
    attn::cp_async_commit();
    attn::cp_async_wait<1>();
    __syncthreads();

    const int tb = qt * BQ;
    // whole tile masked for this warp: every row before every key, or every row too far past every key
    const bool skip = tb + BQ - 1 < warp_k_min || (window > 0 && tb - warp_k_max >= window);
    if (!skip) {
      const uint16_t* sQs = sQ + stage * BQ * LD;
      const float* sLs = sL + stage * BQ;
      float s[BQ / 8][4];
#pragma unroll
      for (int nt = 0; nt < BQ / 8; ++nt) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
#pragma unroll
        for (int nt = 0; nt < BQ / 8; ++nt) {
          const uint16_t* qp = sQs + (nt * 8 + fr) * LD + kk * 16 + fc;
          attn::mma_bf16_16816(s[nt], kf[kk], *reinterpret_cast<const uint32_t*>(qp), *reinterpret_cast<const uint32_t*>(qp + 8));
        }
      }
      const bool need_mask = warp_k_max > tb || tb + BQ > T || tb < row_lo || warp_k_max >= T ||
                             (window > 0 && tb + BQ - 1 - warp_k_min >= window);
#pragma unroll
      for (int nt = 0; nt < BQ / 8; ++nt) {
        const float2 L = *reinterpret_cast<const float2*>(sLs + nt * 8 + fc);
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          float pv = exp2f(s[nt][e] * p.scale_log2 - ((e & 1) ? L.y : L.x));
          if (need_mask) {
            const int t = tb + nt * 8 + fc + (e & 1);
            const int key = e < 2 ? key_a : key_b;
            const bool ok = key <= t && t < T && t >= row_lo && key < T && (window <= 0 || t - key < window);
            if (!ok) pv = 0.0f;
          }
          if (e < 2) acc_a += pv;
          else acc_b += pv;
        }
      }
    }
    __syncthreads();  // the next iteration's prefetch overwrites the stage read here
  }
  attn::cp_async_wait<0>();

  acc_a += __shfl_xor_sync(0xffffffffu, acc_a, 1);
  acc_a += __shfl_xor_sync(0xffffffffu, acc_a, 2);
  acc_b += __shfl_xor_sync(0xffffffffu, acc_b, 1);
  acc_b += __shfl_xor_sync(0xffffffffu, acc_b, 2);
  if ((lane & 3) == 0) {
    float* out = p.colsum + static_cast<size_t>(h) * T;
    if (key_a < T) out[key_a] = acc_a;
    if (key_b < T) out[key_b] = acc_b;
  }
}

// ------------------------------------------------------------------------------------------ pass 3
// scores[kvh * score_capacity + j] = sum over g < group (in order) of colsum[(kvh * group + g) * T + j],
// j < T. Grid-stride over KVH * T.
__global__ void prefill_scores_finalize_kernel(const float* __restrict__ colsum, int T, int KVH, int group, float* __restrict__ scores,
                                               int score_capacity) {
  const int64_t n = static_cast<int64_t>(KVH) * T;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t kvh = i / T, j = i - kvh * T;
    const float* c = colsum + kvh * group * T + j;
    float sum = 0.0f;
    for (int g = 0; g < group; g++) sum += c[static_cast<int64_t>(g) * T];
    scores[kvh * score_capacity + j] = sum;
  }
}

// ------------------------------------------------------------------------------- lazy write: lse ring
// The decode attention's natural-log lse of every layer's rows (lse [L][lse_batch][H], row b = decode row b)
// as log2 into the lse ring [L][R][H][ring_rows] at ring row ring_row[b] of region region[b]: the group
// pass of the lazy write then needs no pass 1. Grid-stride over L * B * H.
__global__ void lse_ring_store_kernel(const float* __restrict__ lse, int L, int B, int lse_batch, int H, int R, int ring_rows,
                                      const int* __restrict__ region, const int* __restrict__ ring_row, float* __restrict__ lse_ring) {
  const int64_t n = static_cast<int64_t>(L) * B * H;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t l = i / (static_cast<int64_t>(B) * H);
    const int b = static_cast<int>((i / H) % B), h = static_cast<int>(i % H);
    const int rr = ring_row[b];
    if (rr < 0) continue;
    const float x = lse[(l * lse_batch + b) * H + h];
    lse_ring[((l * R + region[b]) * H + h) * ring_rows + rr] = x / kLn2;
  }
}

}  // namespace kvwalk::engine::score
