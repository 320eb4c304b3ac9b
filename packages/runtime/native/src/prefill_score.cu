// Launcher of prompt scoring (kernels/prefill_score.cuh) behind evict_launchers.h's
// launch_prefill_score. Enqueues on `stream`, never synchronizes; cudaErrorInvalidValue for arguments
// the kernels cannot handle, else the launch error.
//
// Workspace layout (prefill_score_workspace_bytes): bf16 q [H, T, D] | lse2 f32 [H, T] | colsum f32
// [H, T], each section rounded up to 256 bytes.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "../kernels/prefill_score.cuh"
#include "evict_launchers.h"

namespace kvwalk::engine {

namespace {

namespace sc = kvwalk::engine::score;

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) % 16) == 0; }
size_t round256(size_t b) { return (b + 255) / 256 * 256; }

template <int D>
cudaError_t launch_impl(const PrefillScoreArgs& a, cudaStream_t stream) {
  constexpr int NW = sc::kNumWarps;
  using Rows = sc::RowsConfig<D, NW>;
  using Cols = sc::ColsConfig<D, NW>;
  const int T = a.T, H = a.H, group = a.H / a.KVH;
  const bool scores = a.mode >= 0;
  // TOVA, and H2O with decay 0 (the decode update then replaces the scores): the last row only.
  const bool last_only = a.mode == 1 || a.decay == 0.f;
  const float scale_log2 = a.scale * 1.4426950408889634f;  // launch_prefill_attention's constant

  char* ws = static_cast<char*>(a.workspace);
  const size_t nq = static_cast<size_t>(H) * T;
  uint16_t* qb = scores ? reinterpret_cast<uint16_t*>(ws) : nullptr;
  float* lse2 = scores ? reinterpret_cast<float*>(ws + round256(nq * D * sizeof(uint16_t))) : nullptr;
  float* colsum = scores ? lse2 + round256(nq * sizeof(float)) / sizeof(float) : nullptr;

  // ---- pass 1: every row when a graph, lse or full H2O is asked for, else the last row's tile
  sc::RowsParams rp{};
  rp.q = a.q;
  rp.k = a.k;
  rp.T = T;
  rp.H = H;
  rp.group = group;
  rp.capacity = a.capacity;
  rp.window = a.window;
  rp.scale_log2 = scale_log2;
  rp.row_lo = (a.graph != nullptr || a.lse != nullptr || (scores && !last_only)) ? 0 : T - 1;
  rp.graph = a.graph;
  rp.graph_capacity = a.graph_capacity;
  rp.lse = a.lse;
  rp.lse2 = lse2;
  rp.qb = qb;
  {
    auto kernel = sc::prefill_rows_kernel<D, NW>;
    cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(Rows::smem_bytes));
    if (err != cudaSuccess) return err;
    const int tiles = (T - 1) / Rows::BM - rp.row_lo / Rows::BM + 1;
    kernel<<<dim3(static_cast<unsigned>(H), static_cast<unsigned>(tiles)), NW * 32, Rows::smem_bytes, stream>>>(rp);
    err = cudaGetLastError();
    if (err != cudaSuccess || !scores) return err;
  }
  // ---- pass 2: per-head column sums of the (decay-weighted) probabilities
  sc::ColsParams cp{};
  cp.qb = qb;
  cp.lse2 = lse2;
  cp.k = a.k;
  cp.T = T;
  cp.H = H;
  cp.group = group;
  cp.capacity = a.capacity;
  cp.window = a.window;
  cp.scale_log2 = scale_log2;
  cp.row_lo = last_only ? T - 1 : 0;
  cp.log2_decay = last_only ? 0.f : std::log2(a.decay);
  cp.colsum = colsum;
  {
    auto kernel = sc::prefill_cols_kernel<D, NW>;
    cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(Cols::smem_bytes));
    if (err != cudaSuccess) return err;
    const int tiles = (T + Cols::BK - 1) / Cols::BK;
    kernel<<<dim3(static_cast<unsigned>(H), static_cast<unsigned>(tiles)), NW * 32, Cols::smem_bytes, stream>>>(cp);
    err = cudaGetLastError();
    if (err != cudaSuccess) return err;
  }
  // ---- pass 3: group sums into the scores
  const int64_t n = static_cast<int64_t>(a.KVH) * T;
  constexpr int threads = 256;
  const int64_t blocks = std::min<int64_t>((n + threads - 1) / threads, 4096);
  sc::prefill_scores_finalize_kernel<<<static_cast<unsigned>(blocks), threads, 0, stream>>>(colsum, T, a.KVH, group, a.scores, a.score_capacity);
  return cudaGetLastError();
}

}  // namespace

size_t prefill_score_workspace_bytes(int T, int H, int D) {
  if (T <= 0 || H <= 0 || D <= 0) return 0;
  const size_t n = static_cast<size_t>(T) * H;
  return round256(n * D * sizeof(uint16_t)) + 2 * round256(n * sizeof(float));
}

cudaError_t launch_prefill_score(const PrefillScoreArgs& a, cudaStream_t stream) {
  if (a.T < 0 || a.H < 1 || a.KVH < 1 || a.H % a.KVH != 0 || a.T > a.capacity || (a.D != 64 && a.D != 128)) return cudaErrorInvalidValue;
  if (a.mode < -1 || a.mode > 1) return cudaErrorInvalidValue;
  const bool scores = a.mode >= 0;
  if (scores && (a.scores == nullptr || a.score_capacity < a.T || !(a.decay >= 0.f) || std::isinf(a.decay))) return cudaErrorInvalidValue;
  if (a.graph != nullptr && (a.graph_capacity < a.T || !aligned16(a.graph))) return cudaErrorInvalidValue;
  if (a.q == nullptr || a.k == nullptr || !aligned16(a.q) || !aligned16(a.k)) return cudaErrorInvalidValue;
  // grid.y limits: T / 128 tiles (either pass) must stay below 65536
  if (a.T > 65535 * 128) return cudaErrorInvalidValue;
  if (a.T == 0 || (a.graph == nullptr && a.lse == nullptr && !scores)) return cudaSuccess;
  if (scores && (a.workspace == nullptr || !aligned16(a.workspace) || a.workspace_bytes < prefill_score_workspace_bytes(a.T, a.H, a.D)))
    return cudaErrorInvalidValue;
  if (a.D == 128) return launch_impl<128>(a, stream);
  return launch_impl<64>(a, stream);
}

}  // namespace kvwalk::engine
