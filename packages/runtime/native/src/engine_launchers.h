// Host-side declarations of the decode engine's launchers (native/src/*.cu). Includable from plain
// C++ (cuda_runtime.h types only). Every launcher enqueues on `stream` and returns the launch error
// without synchronizing; sizes are validated by the caller (engine.cc or the kernel-test bindings).
//
// Conventions: bf16 values travel as uint16_t bit patterns; row-major everywhere; "f32" = float.
// KV cache of one layer: K and V, each bf16 [regions, num_kv_heads, capacity, head_dim]; a region is
// one sequence's list of slots (the decode kernel of @kvwalk/graph-cache reads this layout).
#pragma once
#include <cuda_runtime.h>
#include <cstddef>
#include <cstdint>
#include <string>

namespace kvwalk::engine {

using bf16_t = uint16_t;

// ---------------------------------------------------------------- GEMM (gemm.cu, cublas_shim.cc)
// C[m, n] = (accumulate ? C[m, n] : 0) + sum_k A[m, k] * W[n, k]
//   A bf16 [M, K] (row stride lda), W bf16 [N, K] (row stride ldw; the checkpoint's [out, in] layout),
//   C f32 [M, N] (row stride ldc). f32 accumulation. M >= 1 (decode: M = batch; prefill: M = tokens).
enum class GemmBackend : int { Auto = 0, Builtin = 1, Cublas = 2 };
struct GemmContext;
// Auto: cuBLAS when libcublas can be loaded at run time (dlopen; $KVWALK_CUBLAS names the library
// file, else the usual sonames), otherwise the built-in kernels. Cublas: error if it cannot load.
// Returns nullptr and fills *error on failure.
GemmContext* gemm_context_create(GemmBackend backend, std::string* error);
void gemm_context_destroy(GemmContext* ctx);
// "builtin" or "cublas <version>"
std::string gemm_backend_name(const GemmContext* ctx);
// The backend a context dispatches to (Builtin or Cublas; never Auto).
GemmBackend gemm_context_backend(const GemmContext* ctx);
cudaError_t launch_gemm(GemmContext* ctx, const bf16_t* A, int lda, const bf16_t* W, int ldw, float* C, int ldc, int M, int N,
                        int K, bool accumulate, cudaStream_t stream);
// Split-K: parts[s] = A[:, s*K/S .. (s+1)*K/S) . W[:, same]^T, parts f32 [S, M, N] (compact), no accumulation;
// the caller adds the S slices (launch_residual_rmsnorm). More CTAs for skinny products (decode: M = batch,
// N = hidden) that one GEMM spreads over too few SMs. cuBLAS: one strided-batched call; built-in: one
// GEMM per slice. Needs gemm_split_k_valid(K, S): K divisible by S into multiples of 8 (16-byte aligned slices).
constexpr int kSplitKMax = 8;       // most K slices the engine uses
constexpr int kSplitKMaxRows = 64;  // rows (decode batch) up to which it splits
bool gemm_split_k_valid(int K, int splits);
cudaError_t launch_gemm_split_k(GemmContext* ctx, const bf16_t* A, int lda, const bf16_t* W, int ldw, float* parts, int M, int N, int K,
                                int splits, cudaStream_t stream);

// ---------------------------------------------------------------- element-wise and attention (kernels.cu)
// x[t, :] = f32(table[tokens[t], :]), table bf16 [vocab, hidden]. A token outside [0, vocab) writes
// zeros and sets *error_flag = 1 (error_flag: device int, zeroed by the caller).
cudaError_t launch_embed(const int* tokens, int T, const bf16_t* table, int vocab, int hidden, float* x, int* error_flag,
                         cudaStream_t stream);

// out[t, :] = bf16( (x[t, :] * rsqrt(mean(x[t, :]^2) + eps)) * f32(w) ), x f32 [T, hidden], w bf16 [hidden].
cudaError_t launch_rmsnorm(const float* x, const bf16_t* w, int T, int hidden, float eps, bf16_t* out, cudaStream_t stream);

// Split-K epilogue fused with the next RMSNorm: x_out[t, :] = x[t, :] + parts[0][t, :] + parts[1][t, :] + ...
// (f32, in that order; parts f32 [num_parts, T, hidden]; x_out may be x), then, when w is given,
// out = launch_rmsnorm(x_out) (w null: the residual update only). num_parts 0 is launch_rmsnorm.
cudaError_t launch_residual_rmsnorm(const float* x, const float* parts, int num_parts, float* x_out, const bf16_t* w, int T, int hidden,
                                    float eps, bf16_t* out, cudaStream_t stream);

// RoPE (transformers' "default" form: rotate_half, angle = inv_freq[i] * position in f32) and KV append.
//   qkv f32 [T, (H + 2*KVH) * D]: per token the H query heads, then KVH key heads, then KVH value heads.
//   inv_freq f32 [D/2]; positions int [T]; region int [T]; slot int [T].
//   q_out f32 [T, H, D] = rotated queries; k_cache[region[t], h, slot[t], :] = bf16(rotated key),
//   v_cache[...] = bf16(value). k_cache/v_cache bf16 [regions, KVH, capacity, D].
//   q_ring (optional, the lazy graph write): bf16 [regions][H][ring_rows][D]; rotated query row t also
//   goes to ring row ring_row[t] (device int [T]; < 0: not stored) of region[t].
cudaError_t launch_rope_append(const float* qkv, int T, int H, int KVH, int D, const float* inv_freq, const int* positions,
                               const int* region, const int* slot, int capacity, float* q_out, bf16_t* k_cache, bf16_t* v_cache,
                               cudaStream_t stream, bf16_t* q_ring = nullptr, const int* ring_row = nullptr, int ring_rows = 0);

// Causal prefill attention of one sequence over its own keys, tiled (online softmax, no T x T buffer):
//   q f32 [T, H, D] (rotated); keys/values: slots 0..T-1 of one region, k/v bf16 [KVH, capacity, D]
//   (pass k_cache + region * KVH * capacity * D); query t sees key j iff j <= t and (window <= 0 or
//   t - j < window); head h reads KV head h / (H / KVH). out bf16 [T, H * D]. scale = 1/sqrt(D).
//   D in {64, 128}.
cudaError_t launch_prefill_attention(const float* q, const bf16_t* k, const bf16_t* v, int T, int H, int KVH, int D, int capacity,
                                     int window, float scale, bf16_t* out, cudaStream_t stream);

// act[t, i] = bf16( silu(gu[t, i]) * gu[t, I + i] ), gu f32 [T, 2 * I] (gate columns, then up columns).
cudaError_t launch_swiglu(const float* gu, int T, int I, bf16_t* act, cudaStream_t stream);

// out[i] = bf16(in[i]).
cudaError_t launch_f32_to_bf16(const float* in, size_t n, bf16_t* out, cudaStream_t stream);

// ---------------------------------------------------------------- fused small-batch GEMV (kernels.cu, kernels/gemv.cuh)
// For decode steps of M <= kGemvMaxRows sequences: one weight-streaming kernel with the element-wise
// work around the product folded in (see kernels/gemv.cuh):
//   input  Bf16: A bf16 [M, K]; F32: A f32 [M, K] rounded to bf16; RmsNorm: A f32 [M, K] normalized as
//          launch_rmsnorm does (norm_w bf16 [K], eps), then rounded to bf16;
//   output F32: C[m, n] = (accumulate ? C[m, n] : 0) + sum_k A'[m, k] W[n, k], C f32 [M, N] (stride ldc);
//          Swiglu: act[m, j] = bf16(silu(g) * u), g and u the products with W rows j and N/2 + j,
//          act bf16 [M, N/2] (stride ld_act) -- launch_gemm + launch_swiglu in one pass.
// f32 accumulation in an order that depends only on K (batch rows are bit-identical to single rows).
enum class GemvInput : int { Bf16 = 0, F32 = 1, RmsNorm = 2 };
enum class GemvOutput : int { F32 = 0, Swiglu = 1 };
constexpr int kGemvMaxRows = 8;
struct GemvParams {
  const void* a = nullptr;
  int lda = 0;
  GemvInput input = GemvInput::Bf16;
  const bf16_t* norm_w = nullptr;
  float eps = 0.f;
  const bf16_t* w = nullptr;
  int ldw = 0;
  int M = 0, N = 0, K = 0;
  GemvOutput output = GemvOutput::F32;
  float* c = nullptr;
  int ldc = 0;
  bool accumulate = false;
  bf16_t* act = nullptr;
  int ld_act = 0;
  // Launch as a programmatic dependent of the previous kernel in the stream (compute capability >= 9.0;
  // ignored below): the kernel streams its first weights while that kernel drains, and waits for it
  // before touching A, C or act.
  bool pdl = false;
};
// Empty when launch_gemv can run `p`, else the reason (M outside [1, 8], K or ldw not a multiple of 8,
// W not 16-byte aligned, odd N for Swiglu, the staged rows exceeding shared memory, a null pointer).
std::string gemv_unsupported(const GemvParams& p);
cudaError_t launch_gemv(const GemvParams& p, cudaStream_t stream);
// The per-kernel setup launch_gemv does on first use (shared-memory opt-in, occupancy), without
// launching: call before capturing a CUDA graph that will contain the kernel.
cudaError_t prepare_gemv(const GemvParams& p);

// Sampling, one row per sequence: logits f32 [B, V]. temperature[b] <= 0: greedy (argmax, ties -> lowest
// index). Otherwise softmax(logits / temperature[b]) restricted to the smallest set of top tokens whose
// mass reaches top_p[b] (top_p >= 1: all tokens), sampled with Philox4x32-10 keyed by (seed, 0),
// counter (b, step, 0, 0). tokens int [B]; logprob f32 [B] (log-probability of the chosen token under
// the unmodified softmax(logits); may be nullptr).
cudaError_t launch_sample(const float* logits, int B, int V, const float* temperature, const float* top_p, uint32_t seed,
                          uint32_t step, int* tokens, float* logprob, cudaStream_t stream);

// Random weights: out[i] = bf16(uniform(-amplitude, amplitude)) from Philox keyed by (seed, 0), counter (i/4, 0, 0, 0).
cudaError_t launch_fill_uniform_bf16(bf16_t* out, size_t n, uint32_t seed, float amplitude, cudaStream_t stream);
// out[i] = bf16(value).
cudaError_t launch_fill_const_bf16(bf16_t* out, size_t n, float value, cudaStream_t stream);
// out[i] = bf16(in[i]) for host-uploaded f32 weights (round to nearest even; exact for bf16-origin values).
// (same as launch_f32_to_bf16; kept as one function)

}  // namespace kvwalk::engine
