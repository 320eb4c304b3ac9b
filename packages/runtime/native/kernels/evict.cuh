// Device code of the engine's live eviction (issue 7; launchers in native/src/evict.cu, contract in
// native/src/evict_launchers.h): attention-mass scores, walker counts -> scores, selection + stable
// in-place compaction of one region's KV rows, and the graph-cache remap. Raw pointers only; no Node
// includes.
//
// Layouts (evict_launchers.h): KV cache bf16 [L][2][R][KVH][C][D]; scores f32 [L][R][KVH][C];
// graph cache 32-byte AoS nodes [L][R][H][C]; counts u32 [L][R][H][C]; remap int [L][KVH][C].
//
// In-place moves (compaction and graph remap) rely on one fact: a kept slot's destination is its rank
// among kept slots, so dest <= source, and the destinations of a chunk of sources (in increasing source
// order) all lie below every source of the later chunks. Each chunk therefore loads all of its sources
// into registers, synchronizes the block, then stores; later chunks never read what earlier chunks
// wrote.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace kvwalk::engine::evict {

using bf16_t = uint16_t;

// ---------------------------------------------------------------------------------------------------
// Selection order. A score's key is an unsigned integer whose order is the float order, with every NaN
// mapped below -inf (key 0) and -0 equal to +0. The full order of a candidate is (key, slot): higher
// key first, ties toward the higher (more recent) slot. The TS twin is scoreKey in
// src/engine/kernels/evict-reference.ts.
__device__ __forceinline__ uint32_t score_key(float x) {
  if (x != x) return 0u;
  uint32_t u = __float_as_uint(x);
  if (x == 0.0f) u = 0u;
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

constexpr int kSelectThreads = 512;
constexpr int kSelectWarps = kSelectThreads / 32;
constexpr int kMoveUnits = 4;  // uint4 per thread per chunk, for each of K and V

struct SelectShared {
  int hist[256];
  int list[kSelectThreads];
  int warp_sums[kSelectWarps];
  int digit;
  int rem;
  int carry;
  int first_evicted;
};

// The m-th largest key(j) over j in [lo, hi) with pred(j) (1 <= m <= that count), by an 8-bit radix
// select from bit `top_shift + 7` down (every key must be < 2^(top_shift + 8)). Returns the key; `rem`
// gets how many of the keys equal to it are among the m largest (m minus the count of larger keys).
// Every thread of the block must call it; it ends with the block synchronized.
template <class KeyF, class PredF>
__device__ uint32_t block_radix_select(int lo, int hi, int m, int top_shift, KeyF key, PredF pred, SelectShared& sh, int& rem) {
  const int tid = threadIdx.x;
  const int lane = tid & 31;
  uint32_t prefix = 0u, mask = 0u;
  rem = m;
  for (int shift = top_shift; shift >= 0; shift -= 8) {
    for (int i = tid; i < 256; i += blockDim.x) sh.hist[i] = 0;
    __syncthreads();
    for (int j = lo + tid; j < hi; j += blockDim.x) {
      if (!pred(j)) continue;
      const uint32_t k = key(j);
      if ((k & mask) == prefix) atomicAdd(&sh.hist[(k >> shift) & 255u], 1);
    }
    __syncthreads();
    if (tid < 32) {
      // lane l owns bins 255 - 8l down to 248 - 8l: an inclusive scan over lanes counts from the top.
      int c[8];
      int tot = 0;
#pragma unroll
      for (int r = 0; r < 8; r++) {
        c[r] = sh.hist[255 - 8 * lane - r];
        tot += c[r];
      }
      int incl = tot;
#pragma unroll
      for (int off = 1; off < 32; off <<= 1) {
        const int y = __shfl_up_sync(0xffffffffu, incl, off);
        if (lane >= off) incl += y;
      }
      const unsigned hit = __ballot_sync(0xffffffffu, incl >= rem);
      const int first = hit ? __ffs(hit) - 1 : 31;
      if (lane == first) {
        int acc = incl - tot;
        int d = 255 - 8 * lane - 7;
        for (int r = 0; r < 8; r++) {
          if (acc + c[r] >= rem) {
            d = 255 - 8 * lane - r;
            break;
          }
          acc += c[r];
        }
        sh.digit = d;
        sh.rem = rem - acc;
      }
    }
    __syncthreads();
    rem = sh.rem;
    prefix |= static_cast<uint32_t>(sh.digit) << shift;
    mask |= 255u << shift;
  }
  __syncthreads();
  return prefix;
}

// Selection + stable in-place compaction of one (layer, KV head) row of region `region`.
// Grid L * KVH (block = l * KVH + kvh), block kSelectThreads. See launch_select_compact.
template <int D>
__global__ void __launch_bounds__(kSelectThreads) select_compact_kernel(float* scores, bf16_t* kv, int R, int KVH, int C, int region, int len,
                                                                       int budget, int sinks, int recent, int* remap, int* kept_out) {
  constexpr int UPS = D / 8;  // uint4 per slot row
  __shared__ SelectShared sh;
  const int tid = threadIdx.x;
  const int lane = tid & 31;
  const int warp = tid >> 5;
  const int l = blockIdx.x / KVH;
  const int kvh = blockIdx.x % KVH;
  const int64_t row = (static_cast<int64_t>(l) * R + region) * KVH + kvh;  // row of scores [L][R][KVH]
  float* srow = scores ? scores + row * C : nullptr;
  uint4* krow = reinterpret_cast<uint4*>(kv + ((static_cast<int64_t>(l) * 2 * R + region) * KVH + kvh) * C * D);
  uint4* vrow = reinterpret_cast<uint4*>(kv + ((static_cast<int64_t>(l) * 2 * R + R + region) * KVH + kvh) * C * D);
  int* rrow = remap + (static_cast<int64_t>(l) * KVH + kvh) * C;

  // ---- selection: protected = [0, s) and [hi, len); candidates [lo, hi) = [s, hi)
  const int s = min(max(sinks, 0), len);
  const int hi = max(s, len - max(recent, 0));
  const int lo = s;
  const int np = s + (len - hi);
  const int m = budget - np;  // candidates to keep
  // mode 0: keep everything below len; 1: protected overflow; 2: protected + top-m candidates
  int mode;
  int s_keep = 0, r_from = 0;  // mode 1: keep [0, s_keep) and [r_from, len)
  uint32_t T = 0u;
  int S = 0;  // mode 2: keep candidates with key > T, or key == T and slot >= S
  if (budget >= len) {
    mode = 0;
  } else if (m <= 0) {
    mode = 1;
    s_keep = min(s, max(budget, 0));
    r_from = len - (max(budget, 0) - s_keep);
  } else {
    mode = 2;
    auto fkey = [&](int j) -> uint32_t { return srow ? score_key(__ldg(srow + j)) : 0u; };
    auto all = [](int) { return true; };
    int rem = 0;
    T = block_radix_select(lo, hi, m, 24, fkey, all, sh, rem);
    int bits = 0;
    while (bits < 31 && ((C - 1) >> bits) != 0) bits++;
    const int top = bits > 0 ? ((bits - 1) / 8) * 8 : 0;
    auto slot = [](int j) { return static_cast<uint32_t>(j); };
    auto tie = [&](int j) { return fkey(j) == T; };
    int rem2 = 0;
    S = static_cast<int>(block_radix_select(lo, hi, rem, top, slot, tie, sh, rem2));
  }
  auto keep = [&](int j) -> bool {
    if (j >= len) return false;
    if (mode == 0) return true;
    if (mode == 1) return j < s_keep || j >= r_from;
    if (j < lo || j >= hi) return true;
    const uint32_t k = srow ? score_key(__ldg(srow + j)) : 0u;
    return k > T || (k == T && j >= S);
  };

  // ---- remap: exclusive prefix sum of the keep flags over [0, len); -1 beyond
  if (tid == 0) {
    sh.carry = 0;
    sh.first_evicted = len;
  }
  __syncthreads();
  for (int tile = 0; tile < len; tile += kSelectThreads) {
    const int j = tile + tid;
    const int flag = keep(j) ? 1 : 0;
    if (j < len && !flag) atomicMin(&sh.first_evicted, j);
    int incl = flag;
#pragma unroll
    for (int off = 1; off < 32; off <<= 1) {
      const int y = __shfl_up_sync(0xffffffffu, incl, off);
      if (lane >= off) incl += y;
    }
    if (lane == 31) sh.warp_sums[warp] = incl;
    __syncthreads();
    if (warp == 0) {
      const int w = lane < kSelectWarps ? sh.warp_sums[lane] : 0;
      int wi = w;
#pragma unroll
      for (int off = 1; off < 32; off <<= 1) {
        const int y = __shfl_up_sync(0xffffffffu, wi, off);
        if (lane >= off) wi += y;
      }
      if (lane < kSelectWarps) sh.warp_sums[lane] = wi - w;
    }
    __syncthreads();
    const int c = sh.carry;
    if (j < len) rrow[j] = flag ? c + sh.warp_sums[warp] + incl - flag : -1;
    __syncthreads();
    if (tid == kSelectThreads - 1) sh.carry = c + sh.warp_sums[warp] + incl;
    __syncthreads();
  }
  for (int j = max(len, 0) + tid; j < C; j += kSelectThreads) rrow[j] = -1;
  const int kept = sh.carry;
  const int k0 = sh.first_evicted;  // slots below k0 are all kept and stay in place
  if (tid == 0 && kept_out) kept_out[blockIdx.x] = kept;
  __syncthreads();  // remap (global, written by this block) visible block-wide

  // ---- moves, tile by tile of sources from k0 on
  int base = k0;
  for (int t0 = k0; t0 < len; t0 += kSelectThreads) {
    const int j = t0 + tid;
    const int r = j < len ? rrow[j] : -1;
    if (r >= 0) sh.list[r - base] = j;
    const int n = __syncthreads_count(r >= 0);
    const int units = n * UPS;
    for (int c0 = 0; c0 < units; c0 += kSelectThreads * kMoveUnits) {
      uint4 kb[kMoveUnits], vb[kMoveUnits];
#pragma unroll
      for (int u = 0; u < kMoveUnits; u++) {
        const int idx = c0 + u * kSelectThreads + tid;
        if (idx < units) {
          const int64_t src = static_cast<int64_t>(sh.list[idx / UPS]) * UPS + idx % UPS;
          kb[u] = krow[src];
          vb[u] = vrow[src];
        }
      }
      float sc = 0.f;
      const bool move_score = srow && c0 == 0 && tid < n;
      if (move_score) sc = srow[sh.list[tid]];
      __syncthreads();
#pragma unroll
      for (int u = 0; u < kMoveUnits; u++) {
        const int idx = c0 + u * kSelectThreads + tid;
        if (idx < units) {
          const int64_t dst = static_cast<int64_t>(base + idx / UPS) * UPS + idx % UPS;
          krow[dst] = kb[u];
          vrow[dst] = vb[u];
        }
      }
      if (move_score) srow[base + tid] = sc;
    }
    base += n;
    __syncthreads();  // the list is rewritten by the next tile
  }
  if (srow) {
    for (int j = kept + tid; j < len; j += kSelectThreads) srow[j] = 0.f;
  }
}

// ---------------------------------------------------------------------------------------------------
// Attention mass of one decode step. Grid (ceil(C / kMassKeysPerBlock), KVH, B), block kMassThreads;
// dynamic shared memory G * (D + 1) floats (the group's q rows and lse). kMassTPK = D / 16 threads per
// key, each handling uint4 chunks t and t + TPK of the key's row (coalesced 16-byte loads).
constexpr int kMassThreads = 256;
constexpr int kMassKeysPerBlock = 256;

__device__ __forceinline__ void bf16x8_to_f32(const uint4 v, float* f) {
  const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; i++) {
    f[2 * i] = __uint_as_float(w[i] << 16);
    f[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
  }
}

template <int D>
__global__ void __launch_bounds__(kMassThreads) attention_mass_kernel(const float* __restrict__ q, const bf16_t* __restrict__ k,
                                                                      const float* __restrict__ lse, const int* __restrict__ lengths,
                                                                      const int* __restrict__ starts, int H, int KVH, int C, float scale,
                                                                      int mode, float decay, float* __restrict__ scores) {
  constexpr int TPK = D / 16;
  constexpr int KEYS_PER_PASS = kMassThreads / TPK;
  extern __shared__ float mass_smem[];
  const int G = H / KVH;
  float* qs = mass_smem;       // [G][D]
  float* ls = mass_smem + G * D;  // [G]
  const int b = blockIdx.z;
  const int kvh = blockIdx.y;
  const int tid = threadIdx.x;
  const int len = min(lengths[b], C);
  const int start = starts ? max(starts[b], 0) : 0;
  const int tile0 = blockIdx.x * kMassKeysPerBlock;
  if (tile0 >= len) return;  // block-uniform
  for (int i = tid; i < G * D; i += kMassThreads) qs[i] = q[(static_cast<int64_t>(b) * H + kvh * G) * D + i];
  for (int g = tid; g < G; g += kMassThreads) ls[g] = lse[static_cast<int64_t>(b) * H + kvh * G + g];
  __syncthreads();
  const int t = tid % TPK;
  const int64_t rowbase = (static_cast<int64_t>(b) * KVH + kvh) * C;
  const uint4* krows = reinterpret_cast<const uint4*>(k) + rowbase * (D / 8);
  float* srow = scores + rowbase;
  const int tile_end = min(tile0 + kMassKeysPerBlock, len);
  for (int j0 = tile0; j0 < tile_end; j0 += KEYS_PER_PASS) {
    const int j = j0 + tid / TPK;  // TPK consecutive lanes share a key (TPK divides 32)
    const bool live = j < tile_end && j >= start;
    float kf[16];
    if (live) {
      const uint4 a = __ldg(krows + static_cast<int64_t>(j) * (D / 8) + t);
      const uint4 c = __ldg(krows + static_cast<int64_t>(j) * (D / 8) + t + TPK);
      bf16x8_to_f32(a, kf);
      bf16x8_to_f32(c, kf + 8);
    } else {
#pragma unroll
      for (int i = 0; i < 16; i++) kf[i] = 0.f;
    }
    float m = 0.f;
    for (int g = 0; g < G; g++) {
      const float* qg = qs + g * D;
      const float4 q0 = *reinterpret_cast<const float4*>(qg + 8 * t);
      const float4 q1 = *reinterpret_cast<const float4*>(qg + 8 * t + 4);
      const float4 q2 = *reinterpret_cast<const float4*>(qg + 8 * (t + TPK));
      const float4 q3 = *reinterpret_cast<const float4*>(qg + 8 * (t + TPK) + 4);
      float dot = q0.x * kf[0];
      dot = fmaf(q0.y, kf[1], dot);
      dot = fmaf(q0.z, kf[2], dot);
      dot = fmaf(q0.w, kf[3], dot);
      dot = fmaf(q1.x, kf[4], dot);
      dot = fmaf(q1.y, kf[5], dot);
      dot = fmaf(q1.z, kf[6], dot);
      dot = fmaf(q1.w, kf[7], dot);
      dot = fmaf(q2.x, kf[8], dot);
      dot = fmaf(q2.y, kf[9], dot);
      dot = fmaf(q2.z, kf[10], dot);
      dot = fmaf(q2.w, kf[11], dot);
      dot = fmaf(q3.x, kf[12], dot);
      dot = fmaf(q3.y, kf[13], dot);
      dot = fmaf(q3.z, kf[14], dot);
      dot = fmaf(q3.w, kf[15], dot);
#pragma unroll
      for (int off = TPK / 2; off > 0; off >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, off);
      if (live) m += expf(dot * scale - ls[g]);
    }
    if (t == 0 && j < tile_end) {
      float* sp = srow + j;
      if (mode == 1 || decay == 0.f) {
        *sp = m;
      } else {
        *sp = __fadd_rn(__fmul_rn(decay, *sp), m);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// PagerankTop4: scores[l][region][kvh][j] = decay * scores + f32(sum_g pr[l][kvh * G + g][j]) (decay 0:
// replace), pr the double PageRank of one region's graphs by slot l * H + h (H graph heads).
__global__ void pagerank_to_scores_kernel(const double* __restrict__ pr, int L, int R, int region, int H, int KVH, int C, float decay,
                                          float* __restrict__ scores) {
  const int G = H / KVH;
  const int64_t n = static_cast<int64_t>(L) * KVH * C;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t j = i % C;
    const int64_t rest = i / C;
    const int64_t kvh = rest % KVH;
    const int64_t l = rest / KVH;
    const double* pp = pr + ((l * H + kvh * G) * C + j);
    double sum = 0.0;
    for (int g = 0; g < G; g++) sum += pp[static_cast<int64_t>(g) * C];
    const float c = __double2float_rn(sum);
    float* s = scores + ((l * R + region) * KVH + kvh) * C + j;
    *s = decay == 0.f ? c : __fadd_rn(__fmul_rn(decay, *s), c);
  }
}

__global__ void fill_i32_kernel(int* __restrict__ out, int n, int value) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) out[i] = value;
}

// ---------------------------------------------------------------------------------------------------
// scores[l][r][kvh][j] = decay * scores + sum_g counts[l][r][kvh * G + g][j] (decay 0: replace). The
// counts are summed exactly in 64 bits, converted to f32 once (round to nearest), then
// fl(fl(decay * s) + c): the TS twin reproduces it bit for bit. Grid-stride over L * R * KVH * C.
__global__ void counts_to_scores_kernel(const uint32_t* __restrict__ counts, int64_t n, int H, int KVH, int C, float decay,
                                        float* __restrict__ scores) {
  const int G = H / KVH;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t j = i % C;
    const int64_t rest = i / C;
    const int64_t kvh = rest % KVH;
    const int64_t lr = rest / KVH;
    const uint32_t* cp = counts + ((lr * H + kvh * G) * C + j);
    unsigned long long sum = 0ull;
    for (int g = 0; g < G; g++) sum += cp[static_cast<int64_t>(g) * C];
    const float c = __ull2float_rn(sum);
    scores[i] = decay == 0.f ? c : __fadd_rn(__fmul_rn(decay, scores[i]), c);
  }
}

// ---------------------------------------------------------------------------------------------------
// Graph-cache remap of region `region`, in place. Grid L * H (block = l * H + h), block kGraphThreads.
// Requires the remap of a stable compaction (a kept node's new index <= its old one, increasing).
constexpr int kGraphThreads = 512;

struct Node32 {
  int4 n;
  float4 w;
};

__global__ void __launch_bounds__(kGraphThreads) graph_remap_kernel(Node32* graph, int R, int H, int KVH, int C, int region,
                                                                    const int* __restrict__ remap, int new_len) {
  const int l = blockIdx.x / H;
  const int h = blockIdx.x % H;
  const int kvh = h / (H / KVH);
  Node32* g = graph + ((static_cast<int64_t>(l) * R + region) * H + h) * C;
  const int* rr = remap + (static_cast<int64_t>(l) * KVH + kvh) * C;
  for (int c0 = 0; c0 < C; c0 += kGraphThreads) {
    const int i = c0 + threadIdx.x;
    int to = -1;
    int on[4] = {-1, -1, -1, -1};
    float ow[4] = {0.f, 0.f, 0.f, 0.f};
    if (i < C) {
      to = rr[i];
      if (to >= new_len) to = -1;
      if (to >= 0) {
        const Node32 node = g[i];
        const int in[4] = {node.n.x, node.n.y, node.n.z, node.n.w};
        const float iw[4] = {node.w.x, node.w.y, node.w.z, node.w.w};
        int k = 0;
#pragma unroll
        for (int s = 0; s < 4; s++) {
          const int nb = in[s];
          const int nn = (nb >= 0 && nb < C) ? __ldg(rr + nb) : -1;
          if (nn >= 0) {
#pragma unroll
            for (int d = 0; d <= s; d++) {
              if (d == k) {
                on[d] = nn;
                ow[d] = iw[s];
              }
            }
            k++;
          }
        }
      }
    }
    __syncthreads();
    if (to >= 0) {
      Node32 out;
      out.n = make_int4(on[0], on[1], on[2], on[3]);
      out.w = make_float4(ow[0], ow[1], ow[2], ow[3]);
      g[to] = out;
    }
  }
  __syncthreads();
  for (int i = max(new_len, 0) + threadIdx.x; i < C; i += kGraphThreads) {
    Node32 out;
    out.n = make_int4(-1, -1, -1, -1);
    out.w = make_float4(0.f, 0.f, 0.f, 0.f);
    g[i] = out;
  }
}

}  // namespace kvwalk::engine::evict
