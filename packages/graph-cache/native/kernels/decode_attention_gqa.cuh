// Fused flash-decoding attention for grouped-query
// heads, one block per (split, KV head, sequence) serving all QG = num_heads / num_kv_heads query heads of
// that KV head, so each K/V row is read from memory once instead of once per query head. Same contract,
// partial layout, split tickets, tail merge and graph write as decode_attention_kernel (decode_attention.cuh),
// whose helpers it reuses. Per query head the arithmetic is the per-head kernel's except that a key
// group advances 2 keys per tile instead of 4 (registers go to the QG queries and accumulators), so the
// online-softmax rescaling points differ: results agree with the TypeScript twin within the same
// tolerances as the per-head kernel's, not bit for bit with it (H200: all "decode grouped" cases pass).
// It is faster only when there are enough (sequence, KV head) pairs to fill the GPU (decode_use_grouped):
// H200, 32/8 heads x 4k: batch 32 170.7 vs 225.1 us without the graph, 216.7 vs 279.0 us with it;
// batch 1 22.2 vs 13.2 us and 47.0 vs 17.9 us (a quarter of the blocks, and every block tracks QG top-4s).
//
// Work per key: one K and one V row (16 bytes per lane), QG dot products (each reduced over the key's
// TPK lanes), QG online-softmax updates and QG top-4 votes. Registers: q (QG x 8), accumulators (QG x 8),
// running max / sum (2 QG), two keys of K/V per tile and QG distributed top-4 lists.
#pragma once
#include "decode_attention.cuh"

namespace kvwalk {

constexpr int kGqaUnroll = 2;  // keys per key group and tile (the per-head kernel: 4; registers go to q and acc)

// SPILL: the deferred graph write (no top-4 here; every logit stored, as in decode_attention_kernel).
template <int D, int QG, bool WRITE_GRAPH, int LAYOUT, bool SPILL = false>
__global__ void __launch_bounds__(kDecodeThreads, 4) decode_attention_gqa_kernel(const DecodeParams p) {
  static_assert(!(WRITE_GRAPH && SPILL), "the graph is written either in the kernel or deferred");
  constexpr int TPK = D / 8;
  constexpr int G = kDecodeThreads / TPK;
  constexpr int U = kGqaUnroll;
  static_assert(D % 8 == 0 && TPK <= 32 && (32 % TPK) == 0, "head dim");
  static_assert(QG >= 2 && QG <= 8, "query heads per KV head");
  __shared__ float s_m[G], s_l[G];
  __shared__ float s_acc[G][D];
  __shared__ bool s_last;
  __shared__ float s_w[kMaxSplits];
  __shared__ float s_red[kDecodeThreads / 32 + 1];  // the warps' partials, then lse2 for the graph warp
  __shared__ uint64_t s_bar;                         // its hand-over (mbar_init)

  const int split = blockIdx.x, kvh = blockIdx.y, b = blockIdx.z;
  const int tid = threadIdx.x;
  const int grp = tid / TPK, sub = tid % TPK;
  const int d0 = sub * 8;
  const int len = p.lengths[b];
  const int start = max(split * p.split_len, p.starts ? p.starts[b] : 0);
  const int end = min(len, split * p.split_len + p.split_len);
  const size_t kv_off = (static_cast<size_t>(b) * p.num_kv_heads + kvh) * p.kv_capacity * D;
  const uint16_t* kb = p.k + kv_off;
  const uint16_t* vb = p.v + kv_off;
  const int h0 = kvh * QG;  // first query head of the group

  auto load_tile = [&](int j0, int lim, uint4 (&kr)[U], uint4 (&vr)[U]) {
#pragma unroll
    for (int u = 0; u < U; u++) {
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
  float m[QG], l[QG], acc[QG][8], qf[QG][8];
  float tv[QG], thr[QG];
  int ti[QG];
#pragma unroll
  for (int g = 0; g < QG; g++) {
    m[g] = -INFINITY;
    l[g] = 0.f;
    tv[g] = -INFINITY;
    thr[g] = -INFINITY;
    ti[g] = INT_MAX;
#pragma unroll
    for (int i = 0; i < 8; i++) acc[g][i] = 0.f;
  }
  // One tile: per key the K row converts once and serves the QG dot products; the V row converts once
  // and serves the QG accumulators. Per head exactly the per-head kernel's operations, in its order.
  auto step = [&](const int j0, const uint4 (&kr)[U], const uint4 (&vr)[U]) {
    float s[QG][U];
#pragma unroll
    for (int u = 0; u < U; u++) {
      float kf[8];
      bf16x8_to_f32(kr[u], kf);
      const bool valid = j0 + u * G < end;
#pragma unroll
      for (int g = 0; g < QG; g++) {
        float dot = 0.f;
#pragma unroll
        for (int i = 0; i < 8; i++) dot = fmaf(qf[g][i], kf[i], dot);
#pragma unroll
        for (int off = TPK / 2; off > 0; off >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, off);
        s[g][u] = valid ? dot : -INFINITY;
      }
    }
    if (SPILL) spill_logits<QG, U, TPK>(p.logits + (static_cast<size_t>(b) * p.num_heads + h0) * p.logits_stride, p.logits_stride, j0, G, end, s, sub);
    float vf[U][8];
#pragma unroll
    for (int u = 0; u < U; u++) bf16x8_to_f32(vr[u], vf[u]);
#pragma unroll
    for (int g = 0; g < QG; g++) {
      float m_new = m[g];
#pragma unroll
      for (int u = 0; u < U; u++) m_new = fmaxf(m_new, s[g][u]);
      const float m_use = m_new == -INFINITY ? 0.f : m_new;
      const float corr = exp2f(m[g] - m_use);
      l[g] *= corr;
#pragma unroll
      for (int i = 0; i < 8; i++) acc[g][i] *= corr;
#pragma unroll
      for (int u = 0; u < U; u++) {
        const float pu = exp2f(s[g][u] - m_use);
        l[g] += pu;
#pragma unroll
        for (int i = 0; i < 8; i++) acc[g][i] = fmaf(pu, vf[u][i], acc[g][i]);
      }
      m[g] = m_new;
      if (WRITE_GRAPH) {
        float smax = s[g][0];
#pragma unroll
        for (int u = 1; u < U; u++) smax = fmaxf(smax, s[g][u]);
        if (__any_sync(0xffffffffu, smax > thr[g])) {
#pragma unroll
          for (int u = 0; u < U; u++) {
            if (__any_sync(0xffffffffu, s[g][u] > thr[g])) {
              const float pv = __shfl_up_sync(0xffffffffu, tv[g], 1, TPK);
              const int pi = __shfl_up_sync(0xffffffffu, ti[g], 1, TPK);
              if (s[g][u] > tv[g]) {
                if (sub == 0 || !(s[g][u] > pv)) {
                  tv[g] = s[g][u];
                  ti[g] = j0 + u * G;
                } else {
                  tv[g] = pv;
                  ti[g] = pi;
                }
              }
              thr[g] = __shfl_sync(0xffffffffu, tv[g], kTopK - 1, TPK);
            }
          }
        }
      }
    }
  };
  // As in the per-head kernel: the first tile is requested before the PDL wait, the newest key re-read
  // from L2 after it; q after it.
  const int j_first = start + grp;
  {
    uint4 kr[U], vr[U];
    load_tile(j_first, min(end, len - 1), kr, vr);
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
#pragma unroll
    for (int u = 0; u < U; u++) {
      const int j = j_first + u * G;
      if (j == len - 1 && j < end) {
        kr[u] = __ldcg(reinterpret_cast<const uint4*>(kb + static_cast<size_t>(j) * D + d0));
        vr[u] = __ldcg(reinterpret_cast<const uint4*>(vb + static_cast<size_t>(j) * D + d0));
      }
    }
    const float qs = p.scale * kLog2e;
#pragma unroll
    for (int g = 0; g < QG; g++) {
      const float* qp = p.q + (static_cast<size_t>(b) * p.num_heads + h0 + g) * D + d0;
#pragma unroll
      for (int i = 0; i < 8; i++) qf[g][i] = qp[i] * qs;
    }
    if (start < end) step(j_first, kr, vr);
  }
  for (int j0 = j_first + G * U; j0 - grp < end; j0 += G * U) {
    uint4 kr[U], vr[U];
    load_tile(j0, end, kr, vr);
    step(j0, kr, vr);
  }

  // Per query head: merge the G groups and write the split's partial (write_split_partial, the per-head kernel's epilogue).
#pragma unroll 1
  for (int g = 0; g < QG; g++) {
    const int h = h0 + g;
    // Select this head's registers with a compile-time index: unrolled compare (keeps them in registers).
    float mg = m[0], lg = l[0], tvg = tv[0];
    int tig = ti[0];
    float ag[8];
#pragma unroll
    for (int i = 0; i < 8; i++) ag[i] = acc[0][i];
#pragma unroll
    for (int k = 1; k < QG; k++) {
      if (g == k) {
        mg = m[k];
        lg = l[k];
        tvg = tv[k];
        tig = ti[k];
#pragma unroll
        for (int i = 0; i < 8; i++) ag[i] = acc[k][i];
      }
    }
    __syncthreads();  // the previous head's readers of s_acc / s_m / s_l are done
    write_split_partial<D, G, WRITE_GRAPH>(p, b, h, split, tid, grp, sub, d0, ag, mg, lg, tvg, tig, s_m, s_l, s_acc);
  }
  // One ticket per (sequence, KV head): the slot of the group's first query head.
  const size_t tk = static_cast<size_t>(b) * p.num_heads + h0;
  if (!take_split_ticket<WRITE_GRAPH>(p, tk, s_last, &s_bar)) return;
#pragma unroll 1
  for (int g = 0; g < QG; g++) {
    __syncthreads();  // the previous head's tail is done with the shared arrays
    reduce_splits<D, WRITE_GRAPH, LAYOUT>(p, b, h0 + g, tid, s_w, s_red, &s_bar, g);
  }
  if (tid == 0) p.tickets[tk] = 0;
}

}  // namespace kvwalk
