// Device code of the decode engine's element-wise, attention, sampling and fill kernels. Raw pointers
// only (no Node, no launch code); the launchers are in native/src/kernels.cu and the exact rules each
// kernel follows are written next to it here, because src/engine/kernels/reference.ts must reproduce them.
//
// bf16 travels as uint16_t bit patterns. f32 -> bf16 is round-to-nearest-even with NaN kept quiet
// (f32_to_bf16_bits), identical to reference.ts f32ToBf16 bit for bit.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cfloat>
#include <cstdint>

#include "attn_mma.cuh"
#include "philox.cuh"

namespace kvwalk::engine::kernels {

// ------------------------------------------------------------------------------------------ helpers

// Uniform in [0, 1) from one Philox word: the top 24 bits times 2^-24 (exact in f32 and f64).
__device__ __forceinline__ float philox_word_to_unit(uint32_t w) { return static_cast<float>(w >> 8) * (1.0f / 16777216.0f); }

template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, <= 1024); every thread gets the result. `red` holds >= 33 T.
template <typename T>
__device__ __forceinline__ T block_sum(T v, T* red) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // `red` may still be read by a previous call
  if (lane == 0) red[warp] = v;
  __syncthreads();
  if (warp == 0) {
    T w = lane < nwarps ? red[lane] : T(0);
    w = warp_sum(w);
    if (lane == 0) red[32] = w;
  }
  __syncthreads();
  return red[32];
}

// ------------------------------------------------------------------------------------------ embed
// One block per token: x[t, :] = f32(table[tok, :]); tok outside [0, vocab) -> zeros and *error_flag = 1.
__global__ void embed_kernel(const int* __restrict__ tokens, const uint16_t* __restrict__ table, int vocab, int hidden,
                             float* __restrict__ x, int* __restrict__ error_flag) {
  const int t = blockIdx.x;
  const int tok = tokens[t];
  float* dst = x + static_cast<size_t>(t) * hidden;
  const bool valid = tok >= 0 && tok < vocab;
  if (!valid) {
    if (threadIdx.x == 0 && error_flag != nullptr) atomicExch(error_flag, 1);
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) dst[i] = 0.0f;
    return;
  }
  const uint16_t* src = table + static_cast<size_t>(tok) * hidden;
  if ((hidden & 7) == 0 && (reinterpret_cast<uintptr_t>(table) & 15) == 0 && (reinterpret_cast<uintptr_t>(x) & 15) == 0) {
    const uint4* s8 = reinterpret_cast<const uint4*>(src);
    float4* d4 = reinterpret_cast<float4*>(dst);
    for (int i = threadIdx.x; i < hidden / 8; i += blockDim.x) {
      const uint4 w = s8[i];
      d4[2 * i] = make_float4(bf16_bits_to_f32(w.x), bf16_bits_to_f32(w.x >> 16), bf16_bits_to_f32(w.y), bf16_bits_to_f32(w.y >> 16));
      d4[2 * i + 1] = make_float4(bf16_bits_to_f32(w.z), bf16_bits_to_f32(w.z >> 16), bf16_bits_to_f32(w.w), bf16_bits_to_f32(w.w >> 16));
    }
  } else {
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) dst[i] = bf16_bits_to_f32(src[i]);
  }
}

// ------------------------------------------------------------------------------------------ rmsnorm
// One block per row, f32 throughout (LlamaRMSNorm on f32 activations):
//   ss = f32 sum of x^2 (block tree order); var = ss / hidden; r = 1 / sqrtf(var + eps) (IEEE sqrt and
//   division, no rsqrtf approximation); out = bf16( f32(w) * (x * r) ) with both products rounded to f32.
// One block per row t. With parts (f32 [num_parts, T, hidden], split-K partial products): first
// x[t] += parts[0][t] + parts[1][t] + ... (float32, in that order; written to x_out[t]). Then, when w
// is given: out[t] = bf16(w * (x[t] * r)), r = 1 / sqrt(mean(x[t]^2) + eps) (the plain RMSNorm when
// num_parts is 0). x_out may alias x (each element is read and written by the same thread).
__global__ void residual_rmsnorm_kernel(const float* x, const float* __restrict__ parts, int num_parts, float* x_out,
                                        const uint16_t* __restrict__ w, int hidden, float eps, uint16_t* __restrict__ out) {
  __shared__ float red[33];
  const size_t row = blockIdx.x;
  const size_t part_stride = static_cast<size_t>(gridDim.x) * hidden;
  const float* xr = x + row * hidden;
  float* xo = x_out + row * hidden;
  const float* pr = parts + row * hidden;
  uint16_t* o = out + row * hidden;
  const bool vec = (hidden & 3) == 0 && (reinterpret_cast<uintptr_t>(x) & 15) == 0 && (reinterpret_cast<uintptr_t>(w) & 7) == 0 &&
                   (reinterpret_cast<uintptr_t>(out) & 7) == 0 && (reinterpret_cast<uintptr_t>(x_out) & 15) == 0 &&
                   (reinterpret_cast<uintptr_t>(parts) & 15) == 0;
  // The row after the residual update: read back from x_out (this thread wrote it) or x.
  const float* xn = num_parts > 0 ? xo : xr;
  float ss = 0.0f;
  if (vec) {
    const float4* x4 = reinterpret_cast<const float4*>(xr);
    for (int i = threadIdx.x; i < hidden / 4; i += blockDim.x) {
      float4 v = x4[i];
      for (int p = 0; p < num_parts; p++) {
        const float4 q = reinterpret_cast<const float4*>(pr + p * part_stride)[i];
        v = make_float4(__fadd_rn(v.x, q.x), __fadd_rn(v.y, q.y), __fadd_rn(v.z, q.z), __fadd_rn(v.w, q.w));
      }
      if (num_parts > 0) reinterpret_cast<float4*>(xo)[i] = v;
      ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
    }
  } else {
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
      float v = xr[i];
      for (int p = 0; p < num_parts; p++) v = __fadd_rn(v, pr[p * part_stride + i]);
      if (num_parts > 0) xo[i] = v;
      ss += v * v;
    }
  }
  if (!w) return;  // residual update only
  ss = block_sum(ss, red);
  const float var = __fdiv_rn(ss, static_cast<float>(hidden));
  const float r = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(var, eps)));
  if (vec) {
    const float4* x4 = reinterpret_cast<const float4*>(xn);
    const uint2* w4 = reinterpret_cast<const uint2*>(w);
    uint2* o4 = reinterpret_cast<uint2*>(o);
    for (int i = threadIdx.x; i < hidden / 4; i += blockDim.x) {
      const float4 v = x4[i];
      const uint2 ww = w4[i];
      const float y0 = __fmul_rn(bf16_bits_to_f32(ww.x), __fmul_rn(v.x, r));
      const float y1 = __fmul_rn(bf16_bits_to_f32(ww.x >> 16), __fmul_rn(v.y, r));
      const float y2 = __fmul_rn(bf16_bits_to_f32(ww.y), __fmul_rn(v.z, r));
      const float y3 = __fmul_rn(bf16_bits_to_f32(ww.y >> 16), __fmul_rn(v.w, r));
      o4[i] = make_uint2(static_cast<uint32_t>(f32_to_bf16_bits(y0)) | (static_cast<uint32_t>(f32_to_bf16_bits(y1)) << 16),
                         static_cast<uint32_t>(f32_to_bf16_bits(y2)) | (static_cast<uint32_t>(f32_to_bf16_bits(y3)) << 16));
    }
  } else {
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) o[i] = f32_to_bf16_bits(__fmul_rn(bf16_bits_to_f32(w[i]), __fmul_rn(xn[i], r)));
  }
}

// ------------------------------------------------------------------------------------------ rope + append
// Grid (T, ceil(units / upb)): block (t, y) serves token t's head units y * upb .. y * upb + upb - 1 of
// the H query heads, KVH key heads (rotated) and KVH value heads (copied), upb = max(1, blockDim / (D/2))
// units per block, so a batch-32 step spreads over hundreds of blocks and each thread handles one (unit,
// i) pair instead of looping over every head of its token (latency-bound at 32 blocks: 11.7 us per layer
// on the H200, session 11 run 7). For i < D/2: a = f32(inv_freq[i] * f32(pos)); c = cosf(a), s = sinf(a)
// (precise); rotated[i] = f32(x[i] * c) - f32(x[i + D/2] * s), rotated[i + D/2] = f32(x[i + D/2] * c) +
// f32(x[i] * s) (each product and the sum rounded to f32, no FMA: transformers' q * cos + rotate_half(q) *
// sin in f32). Dynamic shared memory: D floats (cos table then sin table). q_ring (or nullptr): the lazy
// graph write's query rows, bf16 [regions][H][ring_rows][D]; row t goes to ring row ring_row[t] of its
// region (< 0: none).
__global__ void rope_append_kernel(const float* __restrict__ qkv, int H, int KVH, int D, const float* __restrict__ inv_freq,
                                   const int* __restrict__ positions, const int* __restrict__ region, const int* __restrict__ slot,
                                   int capacity, float* __restrict__ q_out, uint16_t* __restrict__ k_cache, uint16_t* __restrict__ v_cache,
                                   uint16_t* __restrict__ q_ring, const int* __restrict__ ring_row, int ring_rows) {
  extern __shared__ float cs[];
  const int half = D / 2;
  const int t = blockIdx.x;
  const float pos = static_cast<float>(positions[t]);
  for (int i = threadIdx.x; i < half; i += blockDim.x) {
    const float a = __fmul_rn(inv_freq[i], pos);
    float s, c;
    sincosf(a, &s, &c);
    cs[i] = c;
    cs[half + i] = s;
  }
  __syncthreads();
  const float* row = qkv + static_cast<size_t>(t) * (H + 2 * KVH) * D;
  const size_t kv_base = (static_cast<size_t>(region[t]) * KVH * capacity + slot[t]) * D;  // + kvh * capacity * D
  const int rr = q_ring != nullptr ? ring_row[t] : -1;
  uint16_t* qr = rr >= 0 ? q_ring + (static_cast<size_t>(region[t]) * H * ring_rows + rr) * D : nullptr;  // + head * ring_rows * D
  const int rot = H + KVH, units = rot + KVH;
  const int upb = max(1, static_cast<int>(blockDim.x) / half);
  const int u0 = static_cast<int>(blockIdx.y) * upb;
  for (int j = threadIdx.x; j < upb * half; j += blockDim.x) {
    const int u = u0 + j / half, i = j % half;
    if (u >= units) break;  // j only grows: the rest of this thread's pairs are past the last unit too
    if (u < rot) {
      // rotations: H query heads then KVH key heads
      const float x1 = row[u * D + i], x2 = row[u * D + half + i];
      const float c = cs[i], s = cs[half + i];
      const float y1 = __fadd_rn(__fmul_rn(x1, c), -__fmul_rn(x2, s));
      const float y2 = __fadd_rn(__fmul_rn(x2, c), __fmul_rn(x1, s));
      if (u < H) {
        float* qo = q_out + (static_cast<size_t>(t) * H + u) * D;
        qo[i] = y1;
        qo[half + i] = y2;
        if (qr != nullptr) {
          uint16_t* qd = qr + static_cast<size_t>(u) * ring_rows * D;
          qd[i] = f32_to_bf16_bits(y1);
          qd[half + i] = f32_to_bf16_bits(y2);
        }
      } else {
        uint16_t* kd = k_cache + kv_base + static_cast<size_t>(u - H) * capacity * D;
        kd[i] = f32_to_bf16_bits(y1);
        kd[half + i] = f32_to_bf16_bits(y2);
      }
    } else {
      // values: elements i and i + D/2 of value head u - rot
      const int head = u - rot;
      const float* vrow = row + (rot + head) * D;
      uint16_t* vd = v_cache + kv_base + static_cast<size_t>(head) * capacity * D;
      vd[i] = f32_to_bf16_bits(vrow[i]);
      vd[half + i] = f32_to_bf16_bits(vrow[half + i]);
    }
  }
}

// ------------------------------------------------------------------------------------------ swiglu
// act[t, i] = bf16( f32(g / f32(1 + expf(-g))) * u ), g = gu[t, i], u = gu[t, I + i] (expf precise).
__device__ __forceinline__ float silu_mul(float g, float u) {
  const float sg = __fdiv_rn(g, __fadd_rn(1.0f, expf(-g)));
  return __fmul_rn(sg, u);
}

__global__ void swiglu_kernel(const float* __restrict__ gu, int T, int I, uint16_t* __restrict__ act) {
  const size_t n = static_cast<size_t>(T) * I;
  for (size_t j = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; j < n; j += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t t = j / I, i = j - t * I;
    const float* r = gu + t * 2 * I;
    act[j] = f32_to_bf16_bits(silu_mul(r[i], r[I + i]));
  }
}

// ------------------------------------------------------------------------------------------ conversions / fills

__global__ void f32_to_bf16_kernel(const float* __restrict__ in, size_t n, uint16_t* __restrict__ out) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x)
    out[i] = f32_to_bf16_bits(in[i]);
}

// Philox keyed by (seed, 0), counter (i/4 low word, i/4 high word, 0, 0); word i%4 -> u in [0,1) (top 24
// bits * 2^-24); value = f32((2u - 1) * amplitude) (2u - 1 is exact); out[i] = bf16(value).
__global__ void fill_uniform_bf16_kernel(uint16_t* __restrict__ out, size_t n, uint32_t seed, float amplitude) {
  const size_t groups = (n + 3) / 4;
  for (size_t g = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; g < groups; g += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const Philox4 r = philox4x32_10(static_cast<uint32_t>(g), static_cast<uint32_t>(g >> 32), 0u, 0u, seed, 0u);
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const size_t i = g * 4 + k;
      if (i < n) {
        const float u = philox_word_to_unit(r.x[k]);
        out[i] = f32_to_bf16_bits(__fmul_rn(2.0f * u - 1.0f, amplitude));
      }
    }
  }
}

__global__ void fill_const_bf16_kernel(uint16_t* __restrict__ out, size_t n, uint16_t bits) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x) out[i] = bits;
}

// ------------------------------------------------------------------------------------------ prefill attention
// Flash-attention-2 style forward with mma.sync m16n8k16 bf16 tensor cores (sm_80+), f32 accumulation.
// Block = NWARPS warps = BM = 16 * NWARPS query rows of one head; each warp owns 16 rows. Keys stream in
// tiles of BN = 64 rows of K and V (bf16, cp.async double buffer, rows padded by 8 elements so the
// fragment loads are bank-conflict free). Q is converted f32 -> bf16 (round to nearest even) into shared
// memory and kept in registers as A fragments. S = Q K^T in f32, masked, scaled by scale * log2(e);
// online softmax in base 2 (exp2f); P is rounded to bf16 for the P V product; the row sum l uses the f32 P.
// out = bf16(O / l). Rows >= T are computed on zeros and never stored; keys >= T are zero-filled and masked.


// grid (H, ceil(T / BM)); blockIdx.y counts query tiles from the last one (the longest rows start first).
// k, v: bf16 [KVH, capacity, D] (one region), q f32 [T, H, D], out bf16 [T, H * D].
template <int D, int NWARPS>
__global__ void __launch_bounds__(NWARPS * 32) prefill_attention_kernel(const float* __restrict__ q, const uint16_t* __restrict__ k,
                                                                        const uint16_t* __restrict__ v, int T, int H, int group, int capacity,
                                                                        int window, float scale_log2, uint16_t* __restrict__ out) {
  using C = attn::Config<D, NWARPS>;
  constexpr int BM = C::BM, BN = C::BN, LD = C::LD, NT = NWARPS * 32;
  extern __shared__ __align__(16) uint16_t smem[];
  uint16_t* sQ = smem;
  uint16_t* sK = sQ + BM * LD;       // [2][BN][LD]
  uint16_t* sV = sK + 2 * BN * LD;   // [2][BN][LD]

  const int h = blockIdx.x;
  const int qt = gridDim.y - 1 - blockIdx.y;
  const int q0 = qt * BM;
  const int kvh = h / group;
  const uint16_t* kh = k + static_cast<size_t>(kvh) * capacity * D;
  const uint16_t* vh = v + static_cast<size_t>(kvh) * capacity * D;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;

  int tile_lo, tile_hi;
  attn::key_tile_range<BN, BM>(q0, T, window, tile_lo, tile_hi);

  auto load_kv = [&](int tile, int stage) {
    const int kb = tile * BN;
    constexpr int CPR = D / 8;  // 16-byte chunks per row
    for (int c = threadIdx.x; c < BN * CPR; c += NT) {
      const int r = c / CPR, col = (c - r * CPR) * 8;
      const int key = kb + r;
      const bool valid = key < T;
      const size_t goff = static_cast<size_t>(valid ? key : 0) * D + col;
      attn::cp_async_16(sK + (stage * BN + r) * LD + col, kh + goff, valid);
      attn::cp_async_16(sV + (stage * BN + r) * LD + col, vh + goff, valid);
    }
  };

  load_kv(tile_lo, 0);
  attn::cp_async_commit();

  // Q tile -> bf16 shared memory (rows >= T zero).
  for (int c = threadIdx.x; c < BM * (D / 4); c += NT) {
    const int r = c / (D / 4), col = (c - r * (D / 4)) * 4;
    const int t = q0 + r;
    float4 x = make_float4(0.f, 0.f, 0.f, 0.f);
    if (t < T) x = *reinterpret_cast<const float4*>(q + (static_cast<size_t>(t) * H + h) * D + col);
    *reinterpret_cast<uint2*>(sQ + r * LD + col) = make_uint2(pack_bf16x2(x.x, x.y), pack_bf16x2(x.z, x.w));
  }
  __syncthreads();

  const int fr = lane >> 2, fc = (lane & 3) * 2;  // fragment row / column of this lane
  uint32_t qf[D / 16][4];
  attn::load_a_fragments<D, LD>(sQ + warp * 16 * LD, fr, fc, qf);

  float o[D / 8][4];
#pragma unroll
  for (int i = 0; i < D / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
  float m_a = -INFINITY, m_b = -INFINITY, l_a = 0.0f, l_b = 0.0f;
  const int row_a = q0 + warp * 16 + fr, row_b = row_a + 8;
  const int warp_q_min = q0 + warp * 16, warp_q_max = warp_q_min + 15;

  for (int tile = tile_lo; tile <= tile_hi; ++tile) {
    const int stage = (tile - tile_lo) & 1;
    if (tile < tile_hi) load_kv(tile + 1, stage ^ 1);
    attn::cp_async_commit();
    attn::cp_async_wait<1>();
    __syncthreads();

    const int kb = tile * BN;
    // whole tile masked for this warp: every key is in the future of every row, or too old for the window
    const bool skip = attn::key_tile_masked<BN>(kb, warp_q_min, warp_q_max, window);
    if (!skip) {
      const uint16_t* sKs = sK + stage * BN * LD;
      const uint16_t* sVs = sV + stage * BN * LD;
      float s[BN / 8][4];
      attn::masked_scores_tile<D, BN, LD>(qf, sKs, fr, fc, scale_log2, kb, row_a, row_b, warp_q_min, warp_q_max, T, window, s);
      float mx_a = m_a, mx_b = m_b;
#pragma unroll
      for (int nt = 0; nt < BN / 8; ++nt) {
        mx_a = fmaxf(mx_a, fmaxf(s[nt][0], s[nt][1]));
        mx_b = fmaxf(mx_b, fmaxf(s[nt][2], s[nt][3]));
      }
      mx_a = fmaxf(mx_a, __shfl_xor_sync(0xffffffffu, mx_a, 1));
      mx_a = fmaxf(mx_a, __shfl_xor_sync(0xffffffffu, mx_a, 2));
      mx_b = fmaxf(mx_b, __shfl_xor_sync(0xffffffffu, mx_b, 1));
      mx_b = fmaxf(mx_b, __shfl_xor_sync(0xffffffffu, mx_b, 2));
      const float base_a = mx_a == -INFINITY ? 0.0f : mx_a;
      const float base_b = mx_b == -INFINITY ? 0.0f : mx_b;
      const float alpha_a = exp2f(m_a - base_a), alpha_b = exp2f(m_b - base_b);
      m_a = mx_a;
      m_b = mx_b;
      l_a *= alpha_a;
      l_b *= alpha_b;
#pragma unroll
      for (int dt = 0; dt < D / 8; ++dt) {
        o[dt][0] *= alpha_a;
        o[dt][1] *= alpha_a;
        o[dt][2] *= alpha_b;
        o[dt][3] *= alpha_b;
      }
#pragma unroll
      for (int nt = 0; nt < BN / 8; ++nt) {
        s[nt][0] = exp2f(s[nt][0] - base_a);
        s[nt][1] = exp2f(s[nt][1] - base_a);
        s[nt][2] = exp2f(s[nt][2] - base_b);
        s[nt][3] = exp2f(s[nt][3] - base_b);
        l_a += s[nt][0] + s[nt][1];
        l_b += s[nt][2] + s[nt][3];
      }
      // O += P V: the accumulator layout of two adjacent n-tiles is the A layout of one k16 step.
#pragma unroll
      for (int j = 0; j < BN / 16; ++j) {
        const uint32_t a[4] = {pack_bf16x2(s[2 * j][0], s[2 * j][1]), pack_bf16x2(s[2 * j][2], s[2 * j][3]),
                               pack_bf16x2(s[2 * j + 1][0], s[2 * j + 1][1]), pack_bf16x2(s[2 * j + 1][2], s[2 * j + 1][3])};
        const int mat = lane >> 3, mr = lane & 7;
        const uint16_t* vrow = sVs + (j * 16 + (mat & 1) * 8 + mr) * LD + (mat >> 1) * 8;
#pragma unroll
        for (int dp = 0; dp < D / 16; ++dp) {
          uint32_t b0, b1, b2, b3;
          attn::ldmatrix_x4_trans(b0, b1, b2, b3, vrow + dp * 16);
          attn::mma_bf16_16816(o[2 * dp], a, b0, b1);
          attn::mma_bf16_16816(o[2 * dp + 1], a, b2, b3);
        }
      }
    }
    __syncthreads();  // the next iteration's prefetch overwrites the stage read here
  }
  attn::cp_async_wait<0>();

  l_a += __shfl_xor_sync(0xffffffffu, l_a, 1);
  l_a += __shfl_xor_sync(0xffffffffu, l_a, 2);
  l_b += __shfl_xor_sync(0xffffffffu, l_b, 1);
  l_b += __shfl_xor_sync(0xffffffffu, l_b, 2);
  const float inv_a = l_a > 0.0f ? 1.0f / l_a : 0.0f, inv_b = l_b > 0.0f ? 1.0f / l_b : 0.0f;
  const size_t ld_out = static_cast<size_t>(H) * D;
  if (row_a < T) {
    uint16_t* dst = out + row_a * ld_out + static_cast<size_t>(h) * D + fc;
#pragma unroll
    for (int dt = 0; dt < D / 8; ++dt) *reinterpret_cast<uint32_t*>(dst + dt * 8) = pack_bf16x2(o[dt][0] * inv_a, o[dt][1] * inv_a);
  }
  if (row_b < T) {
    uint16_t* dst = out + row_b * ld_out + static_cast<size_t>(h) * D + fc;
#pragma unroll
    for (int dt = 0; dt < D / 8; ++dt) *reinterpret_cast<uint32_t*>(dst + dt * 8) = pack_bf16x2(o[dt][2] * inv_b, o[dt][3] * inv_b);
  }
}

// ------------------------------------------------------------------------------------------ sampling
// One block (SAMPLE_THREADS threads) per row b of logits f32 [B, V]. The exact rule (reference.ts
// sampleRowReference reproduces it; f32 ops are rounded to f32, sums are f64):
//   x_i = logits[b, i], NaN treated as -inf.
//   argmax: the largest x_i, ties -> lowest index. m0 = x[argmax].
//   logprob (always under the unmodified softmax): lse = m0 + log(sum_i f32(expf(f32(x_i - m0))));
//     logprob = f32(f64(f32(x_tok - m0)) - log(sum)). If m0 is not finite: greedy token, logprob NaN.
//   temperature[b] <= 0 or NaN: token = argmax (greedy).
//   Otherwise: z_i = f32(x_i / temp); mz = f32(m0 / temp); e_i = f32(expf(f32(z_i - mz))) in [0, 1];
//     S = sum e_i (f64). top_p >= 1 or NaN: tau = 0 (all tokens kept). Otherwise tau = the largest value
//     such that F(tau) = sum_{e_i >= tau} e_i >= top_p * S (f64) -- always one of the e_i, ties kept
//     together (top_p <= 0 keeps the ties of the maximum). Found by bisection over the f32 bit patterns
//     in [0, bits(1.0f)].
//   (Launched with V floats of dynamic shared memory when they fit, `cache_bytes_ok`: e_i are then computed
//   once and reused by the bisection passes; otherwise they are recomputed, with identical values.)
//     kept = {i : e_i >= tau}, M = F(tau). u = (philox4x32_10(b, step, 0, 0; key seed, 0).x[0] >> 8) * 2^-24,
//     r = u * M (f64). token = the lowest index i in kept with sum_{j in kept, j <= i} e_j > r (index order);
//     when rounding leaves no such index, the highest kept index with e_i > 0.
constexpr int SAMPLE_THREADS = 1024;

struct ArgMax {
  float v;
  int i;
};

__device__ __forceinline__ ArgMax argmax_better(ArgMax a, ArgMax b) {
  if (b.v > a.v || (b.v == a.v && b.i < a.i)) return b;
  return a;
}

__device__ __forceinline__ float sample_logit(const float* x, int i) {
  const float v = x[i];
  return v != v ? -INFINITY : v;
}

__global__ void __launch_bounds__(SAMPLE_THREADS) sample_kernel(const float* __restrict__ logits, int V, const float* __restrict__ temperature,
                                                                const float* __restrict__ top_p, uint32_t seed, uint32_t step,
                                                                int* __restrict__ tokens, float* __restrict__ logprob,
                                                                bool cache_bytes_ok) {
  __shared__ double redd[33];
  __shared__ float redv[32];
  __shared__ int redi[32];
  __shared__ ArgMax best_s;
  __shared__ int pick_s;
  __shared__ int last_s;
  __shared__ uint32_t redu[64];
  extern __shared__ float cache_smem[];
  float* cache = cache_bytes_ok ? cache_smem : nullptr;
  const int b = blockIdx.x;
  const float* x = logits + static_cast<size_t>(b) * V;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, nwarps = blockDim.x >> 5;

  // argmax, ties -> lowest index
  ArgMax best{-INFINITY, V};
  for (int i = tid; i < V; i += blockDim.x) best = argmax_better(best, ArgMax{sample_logit(x, i), i});
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    ArgMax other{__shfl_xor_sync(0xffffffffu, best.v, o), __shfl_xor_sync(0xffffffffu, best.i, o)};
    best = argmax_better(best, other);
  }
  if (lane == 0) {
    redv[warp] = best.v;
    redi[warp] = best.i;
  }
  __syncthreads();
  if (warp == 0) {
    ArgMax w = lane < nwarps ? ArgMax{redv[lane], redi[lane]} : ArgMax{-INFINITY, V};
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      ArgMax other{__shfl_xor_sync(0xffffffffu, w.v, o), __shfl_xor_sync(0xffffffffu, w.i, o)};
      w = argmax_better(w, other);
    }
    if (lane == 0) {
      if (w.i >= V) w.i = 0;  // every logit -inf or NaN
      best_s = w;
    }
  }
  __syncthreads();
  const ArgMax top = best_s;
  const float m0 = top.v;
  const bool finite_max = isfinite(m0);

  // log-sum-exp of the raw logits
  double se = 0.0;
  if (finite_max)
    for (int i = tid; i < V; i += blockDim.x) se += static_cast<double>(expf(__fsub_rn(sample_logit(x, i), m0)));
  se = block_sum(se, redd);
  const double log_se = log(se);

  int token = top.i;
  const float temp = temperature[b];
  if (finite_max && temp > 0.0f) {
    const float mz = __fdiv_rn(m0, temp);
    const bool cached = cache != nullptr;
    auto e_of = [&](int i) -> float {
      return cached ? cache[i] : expf(__fsub_rn(__fdiv_rn(sample_logit(x, i), temp), mz));
    };
    double S = 0.0;
    for (int i = tid; i < V; i += blockDim.x) {
      const float e = expf(__fsub_rn(__fdiv_rn(sample_logit(x, i), temp), mz));
      if (cached) cache[i] = e;
      S += static_cast<double>(e);
    }
    S = block_sum(S, redd);  // its barriers also publish `cache`
    const float tp = top_p[b];
    float tau = 0.0f;
    if (tp < 1.0f) {
      // Largest bit pattern b in [0, bits(1.0f)] with F(b) >= target. Invariant: F(lo) >= target (lo is 0 or
      // one of the e_i), F(hi) < target (hi is never tested). Each pass jumps lo up to the smallest e_i >= mid
      // (same F) or hi down to just above the largest e_i < mid, so the loop ends after ~log2(distinct e_i).
      const double target = static_cast<double>(tp) * S;
      uint32_t lo = 0u, hi = 0x3f800001u;
      while (hi - lo > 1u) {
        const uint32_t mid = lo + (hi - lo) / 2u;
        const float th = __uint_as_float(mid);
        double f = 0.0;
        uint32_t min_above = 0xffffffffu, max_below = 0u;
        bool any_below = false;
        for (int i = tid; i < V; i += blockDim.x) {
          const float e = e_of(i);
          const uint32_t eb = __float_as_uint(e);
          if (e >= th) {
            f += static_cast<double>(e);
            min_above = min(min_above, eb);
          } else {
            max_below = max(max_below, eb);
            any_below = true;
          }
        }
        f = warp_sum(f);
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
          min_above = min(min_above, __shfl_xor_sync(0xffffffffu, min_above, o));
          max_below = max(max_below, __shfl_xor_sync(0xffffffffu, max_below, o));
          const int other_below = __shfl_xor_sync(0xffffffffu, static_cast<int>(any_below), o);  // every lane shuffles
          any_below = any_below || other_below != 0;
        }
        __syncthreads();
        if (lane == 0) {
          redd[warp] = f;
          redu[warp] = min_above;
          redu[32 + warp] = any_below ? max_below + 1u : 0u;
        }
        __syncthreads();
        f = 0.0;
        min_above = 0xffffffffu;
        uint32_t below1 = 0u;
        for (int w = 0; w < nwarps; ++w) {
          f += redd[w];
          min_above = min(min_above, redu[w]);
          below1 = max(below1, redu[32 + w]);
        }
        if (f >= target) lo = min_above != 0xffffffffu ? max(min_above, mid) : mid;
        else hi = below1 > lo ? min(below1, mid) : mid;
      }
      tau = __uint_as_float(lo);
    }
    // inverse CDF in index order: thread tid owns the contiguous chunk [beg, end)
    const int chunk = (V + blockDim.x - 1) / blockDim.x;
    const int beg = min(V, tid * chunk), end = min(V, beg + chunk);
    double mine = 0.0;
    int my_last = -1;
    for (int i = beg; i < end; ++i) {
      const float e = e_of(i);
      if (e >= tau && e > 0.0f) {
        mine += static_cast<double>(e);
        my_last = i;
      }
    }
    // exclusive block scan of `mine`: thread tid owns [start, end) with end == the next thread's start
    double incl = mine;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
      const double y = __shfl_up_sync(0xffffffffu, incl, o);
      if (lane >= o) incl += y;
    }
    double excl = __shfl_up_sync(0xffffffffu, incl, 1);
    if (lane == 0) excl = 0.0;
    __syncthreads();
    if (lane == 31) redd[warp] = incl;
    if (tid == 0) {
      pick_s = -1;
      last_s = -1;
    }
    __syncthreads();
    if (warp == 0) {
      double wt = lane < nwarps ? redd[lane] : 0.0;
#pragma unroll
      for (int o = 1; o < 32; o <<= 1) {
        const double y = __shfl_up_sync(0xffffffffu, wt, o);
        if (lane >= o) wt += y;
      }
      if (lane < nwarps) redd[lane] = wt;  // inclusive warp totals
    }
    __syncthreads();
    const double start = (warp > 0 ? redd[warp - 1] : 0.0) + excl;
    const double next_start = __shfl_down_sync(0xffffffffu, start, 1);
    const double stop = lane == 31 ? redd[warp] : next_start;
    const double total = redd[nwarps - 1];
    const float u = philox_word_to_unit(philox4x32_10(static_cast<uint32_t>(b), step, 0u, 0u, seed, 0u).x[0]);
    const double r = static_cast<double>(u) * total;
    if (my_last >= 0) atomicMax(&last_s, my_last);
    if (mine > 0.0 && start <= r && r < stop) {
      double acc = start;
      int chosen = my_last;
      for (int i = beg; i < end; ++i) {
        const float e = e_of(i);
        if (e >= tau && e > 0.0f) {
          acc += static_cast<double>(e);
          if (acc > r) {
            chosen = i;
            break;
          }
        }
      }
      pick_s = chosen;
    }
    __syncthreads();
    token = pick_s >= 0 ? pick_s : (last_s >= 0 ? last_s : top.i);
  }
  if (tid == 0) {
    tokens[b] = token;
    if (logprob != nullptr) {
      logprob[b] = finite_max ? static_cast<float>(static_cast<double>(__fsub_rn(sample_logit(x, token), m0)) - log_se) : NAN;
    }
  }
}

}  // namespace kvwalk::engine::kernels
