// Launcher of prompt scoring (kernels/prefill_score.cuh) behind evict_launchers.h's
// launch_prefill_score. Enqueues on `stream`, never synchronizes; cudaErrorInvalidValue for arguments
// the kernels cannot handle, else the launch error.
//
// Workspace layout (prefill_score_workspace_bytes): bf16 q [H, T, D] | lse2 f32 [H, T] | colsum f32
// [H, T], each section rounded up to 256 bytes. Pass 1 writes q and lse2 when scores (mode >= 0) or
// a graph per KV head (graph_group > 1) are asked for; pass 2 writes colsum, pass 3 reads it; the graph
// pass per KV head reads q and lse2.
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

// Warps per 16-row strip of the graph pass per KV head (GroupConfig): the fewest that keep the staged
// Q rows at QG * BM <= 256 (QG 2 -> 1 (BM 128), <= 4 -> 2 (BM 64), <= 8 -> 4 (BM 32), else 8 (BM 16)):
// shared memory (QG * BM + 128) * (D + 8) * 2 + QG * BM * 4 bytes = 105 KB at D 128 / 56 KB at D 64 up to
// group 16, so two 256-thread blocks fit an SM (the kernel's launch bounds cap it at 128 registers).
// Measured on the H200 (T 4096, H 32, KVH 8, D 128): 1.09 ms for the graph per KV head with BM 64 against
// 1.27 ms with BM 128 (172 KB: one block per SM) and 1.16 ms with BM 32; D 64: 0.90 ms (BM 64) vs 1.11 (BM 128).
int group_ksplit(int group) {
  for (int ks = 1; ks < 8; ks *= 2) {
    if (group * (16 * (sc::kNumWarps / ks)) <= 256) return ks;
  }
  return 8;
}

// Shared memory (bytes) and query tiles of the graph pass per KV head.
template <int D, int KSPLIT>
void group_graph_shape(int group, int T, size_t& smem, int& tiles) {
  using G = sc::GroupConfig<D, KSPLIT>;
  smem = G::smem_bytes(group);
  tiles = (T - 1) / G::BM + 1;
}
template <int D>
void group_graph_shape(int group, int T, size_t& smem, int& tiles) {
  switch (group_ksplit(group)) {
    case 1:
      return group_graph_shape<D, 1>(group, T, smem, tiles);
    case 2:
      return group_graph_shape<D, 2>(group, T, smem, tiles);
    case 4:
      return group_graph_shape<D, 4>(group, T, smem, tiles);
    default:
      return group_graph_shape<D, 8>(group, T, smem, tiles);
  }
}

// cudaErrorInvalidValue when the graph pass per KV head cannot run this shape (its Q tiles exceed the
// device's shared memory per block -- with Hopper's 227 KB: D 128 groups above 44 query heads, D 64
// above 90 -- or more than 65535 query tiles), checked before any launch. ksplit 0: group_ksplit's
// (a prompt); the lazy write's job mode runs KSPLIT 4.
cudaError_t check_group_graph(int D, int group, int T, int ksplit = 0) {
  size_t smem = 0;
  int tiles = 0;
  if (ksplit == 4) {
    if (D == 128) group_graph_shape<128, 4>(group, T, smem, tiles);
    else group_graph_shape<64, 4>(group, T, smem, tiles);
  } else if (D == 128) {
    group_graph_shape<128>(group, T, smem, tiles);
  } else {
    group_graph_shape<64>(group, T, smem, tiles);
  }
  int dev = 0, optin = 0;
  cudaError_t err = cudaGetDevice(&dev);
  if (err != cudaSuccess) return err;
  err = cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev);
  if (err != cudaSuccess) return err;
  return smem > static_cast<size_t>(optin) || tiles > 65535 ? cudaErrorInvalidValue : cudaSuccess;
}

// Raises the kernel's dynamic shared-memory limit to `smem`, then launches it.
template <typename Params>
cudaError_t launch_with_smem(void (*kernel)(Params), dim3 grid, int threads, size_t smem, const Params& p, cudaStream_t stream) {
  const cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
  if (err != cudaSuccess) return err;
  kernel<<<grid, threads, smem, stream>>>(p);
  return cudaGetLastError();
}

// The group pass over (KV head, query tile of `rows` rows, job): a prompt is one job of gp.T rows.
template <int D, int KSPLIT>
cudaError_t launch_group_graph(const sc::GroupParams& gp, int KVH, int rows, int jobs, cudaStream_t stream) {
  using G = sc::GroupConfig<D, KSPLIT>;
  const int tiles = (rows - 1) / G::BM + 1;
  return launch_with_smem(sc::prefill_group_graph_kernel<D, KSPLIT>, dim3(static_cast<unsigned>(KVH), static_cast<unsigned>(tiles), static_cast<unsigned>(jobs)),
                          sc::kNumWarps * 32, G::smem_bytes(gp.group), gp, stream);
}

template <int D>
cudaError_t launch_group_graph(const sc::GroupParams& gp, int KVH, cudaStream_t stream) {
  switch (group_ksplit(gp.group)) {
    case 1:
      return launch_group_graph<D, 1>(gp, KVH, gp.T, 1, stream);
    case 2:
      return launch_group_graph<D, 2>(gp, KVH, gp.T, 1, stream);
    case 4:
      return launch_group_graph<D, 4>(gp, KVH, gp.T, 1, stream);
    default:
      return launch_group_graph<D, 8>(gp, KVH, gp.T, 1, stream);
  }
}

template <int D>
cudaError_t launch_impl(const PrefillScoreArgs& a, cudaStream_t stream) {
  constexpr int NW = sc::kNumWarps;
  using Rows = sc::RowsConfig<D, NW>;
  using Cols = sc::ColsConfig<D, NW>;
  const int T = a.T, H = a.H, group = a.H / a.KVH;
  const bool scores = a.mode >= 0;
  const bool kv_graph = a.graph != nullptr && a.graph_group > 1;  // graph per KV head (the group pass)
  const bool ws = scores || kv_graph;                               // pass 1 writes bf16 q and lse2
  // TOVA, and H2O with decay 0 (the decode update then replaces the scores): the last row only.
  const bool last_only = a.mode == 1 || a.decay == 0.f;
  const float scale_log2 = a.scale * 1.4426950408889634f;  // launch_prefill_attention's constant

  char* base = static_cast<char*>(a.workspace);
  const size_t nq = static_cast<size_t>(H) * T;
  uint16_t* qb = ws ? reinterpret_cast<uint16_t*>(base) : nullptr;
  float* lse2 = ws ? reinterpret_cast<float*>(base + round256(nq * D * sizeof(uint16_t))) : nullptr;
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
  rp.graph = kv_graph ? nullptr : a.graph;  // per KV head: the group pass writes the nodes
  rp.graph_capacity = a.graph_capacity;
  rp.lse = a.lse;
  rp.lse2 = lse2;
  rp.qb = qb;
  {
    const int tiles = (T - 1) / Rows::BM - rp.row_lo / Rows::BM + 1;
    const cudaError_t err = launch_with_smem(sc::prefill_rows_kernel<D, NW>, dim3(static_cast<unsigned>(H), static_cast<unsigned>(tiles)), NW * 32,
                                             Rows::smem_bytes, rp, stream);
    if (err != cudaSuccess) return err;
  }
  // ---- graph per KV head: group sums of the probabilities, top-4, nodes kvh * graph_capacity + t
  if (kv_graph) {
    sc::GroupParams gp{};
    gp.qb = qb;
    gp.lse2 = lse2;
    gp.k = a.k;
    gp.T = T;
    gp.group = group;
    gp.capacity = a.capacity;
    gp.window = a.window;
    gp.scale_log2 = scale_log2;
    gp.graph = a.graph;
    gp.graph_capacity = a.graph_capacity;
    const cudaError_t err = launch_group_graph<D>(gp, a.KVH, stream);
    if (err != cudaSuccess) return err;
  }
  if (!scores) return cudaSuccess;
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
    const int tiles = (T + Cols::BK - 1) / Cols::BK;
    const cudaError_t err = launch_with_smem(sc::prefill_cols_kernel<D, NW>, dim3(static_cast<unsigned>(H), static_cast<unsigned>(tiles)), NW * 32,
                                             Cols::smem_bytes, cp, stream);
    if (err != cudaSuccess) return err;
  }
  // ---- pass 3: group sums into the scores
  const int64_t n = static_cast<int64_t>(a.KVH) * T;
  constexpr int threads = 256;
  const int64_t blocks = std::min<int64_t>((n + threads - 1) / threads, 4096);
  sc::prefill_scores_finalize_kernel<<<static_cast<unsigned>(blocks), threads, 0, stream>>>(colsum, T, a.KVH, group, a.scores, a.score_capacity);
  return cudaGetLastError();
}

// Lazy decode graph write: pass 1 over every job's pending rows (BM 32: two warps), then, with a graph
// per KV head, the group pass with KSPLIT 4 (BM 32).
template <int D>
cudaError_t launch_flush_impl(const GraphFlushArgs& a, cudaStream_t stream) {
  constexpr int NW = 2;
  using Rows = sc::RowsConfig<D, NW>;
  const int group = a.H / a.KVH;
  const bool kv_graph = a.graph_group > 1;
  const float scale_log2 = a.scale * 1.4426950408889634f;
  sc::RowsParams rp{};
  rp.k = a.k;
  rp.T = 1;  // per job
  rp.H = a.H;
  rp.group = group;
  rp.capacity = a.capacity;
  rp.window = a.window;
  rp.scale_log2 = scale_log2;
  rp.graph = kv_graph ? nullptr : a.graph;
  rp.graph_capacity = a.graph_capacity;
  rp.lse2 = kv_graph ? a.lse2 : nullptr;
  rp.jobs = a.jobs;
  rp.qin = a.q_ring;
  rp.q_hstride = a.q_hstride;
  rp.lse_stride = a.max_rows;
  // a graph per KV head with the decode steps' lse (lse_ring): no pass 1
  if (!(kv_graph && a.lse_ring != nullptr)) {
    const int tiles = (a.max_rows - 1) / Rows::BM + 1;
    const cudaError_t err = launch_with_smem(sc::prefill_rows_kernel<D, NW>,
                                             dim3(static_cast<unsigned>(a.H), static_cast<unsigned>(tiles), static_cast<unsigned>(a.num_jobs)), NW * 32,
                                             Rows::smem_bytes, rp, stream);
    if (err != cudaSuccess) return err;
  }
  if (!kv_graph) return cudaSuccess;
  sc::GroupParams gp{};
  gp.qb = a.q_ring;
  gp.lse2 = a.lse_ring != nullptr ? a.lse_ring : a.lse2;
  gp.k = a.k;
  gp.T = 1;  // per job
  gp.group = group;
  gp.capacity = a.capacity;
  gp.window = a.window;
  gp.scale_log2 = scale_log2;
  gp.graph = a.graph;
  gp.graph_capacity = a.graph_capacity;
  gp.jobs = a.jobs;
  gp.q_hstride = a.q_hstride;
  gp.lse_stride = a.lse_ring != nullptr ? a.q_hstride : a.max_rows;
  return launch_group_graph<D, 4>(gp, a.KVH, a.max_rows, a.num_jobs, stream);
}

}  // namespace

size_t graph_flush_workspace_bytes(int num_jobs, int H, int max_rows) {
  if (num_jobs <= 0 || H <= 0 || max_rows <= 0) return 0;
  return static_cast<size_t>(num_jobs) * H * max_rows * sizeof(float);
}

cudaError_t launch_graph_flush(const GraphFlushArgs& a, cudaStream_t stream) {
  if (a.H < 1 || a.KVH < 1 || a.H % a.KVH != 0 || (a.D != 64 && a.D != 128) || a.capacity < 1) return cudaErrorInvalidValue;
  if (a.graph_group != 1 && a.graph_group != a.H / a.KVH) return cudaErrorInvalidValue;
  if (a.num_jobs < 0 || a.num_jobs > 65535 || a.max_rows < 1 || a.max_rows > a.q_hstride || a.graph_capacity < 1) return cudaErrorInvalidValue;
  if (a.num_jobs == 0) return cudaSuccess;
  if (a.jobs == nullptr || a.graph == nullptr || a.q_ring == nullptr || a.k == nullptr || !aligned16(a.graph) || !aligned16(a.k) ||
      !aligned16(a.q_ring))
    return cudaErrorInvalidValue;
  if (a.graph_group > 1) {
    if (a.lse2 == nullptr && a.lse_ring == nullptr) return cudaErrorInvalidValue;
    const cudaError_t err = check_group_graph(a.D, a.graph_group, a.max_rows, 4);
    if (err != cudaSuccess) return err;
  }
  if (a.D == 128) return launch_flush_impl<128>(a, stream);
  return launch_flush_impl<64>(a, stream);
}

cudaError_t launch_lse_ring_store(const float* lse, int L, int B, int lse_batch, int H, int R, int ring_rows, const int* region,
                                  const int* ring_row, float* lse_ring, cudaStream_t stream) {
  if (L < 1 || B < 0 || B > lse_batch || H < 1 || R < 1 || ring_rows < 1 || lse == nullptr || lse_ring == nullptr || region == nullptr ||
      ring_row == nullptr)
    return cudaErrorInvalidValue;
  const int64_t n = static_cast<int64_t>(L) * B * H;
  if (n == 0) return cudaSuccess;
  constexpr int threads = 256;
  const int64_t blocks = std::min<int64_t>((n + threads - 1) / threads, 1024);
  sc::lse_ring_store_kernel<<<static_cast<unsigned>(blocks), threads, 0, stream>>>(lse, L, B, lse_batch, H, R, ring_rows, region, ring_row, lse_ring);
  return cudaGetLastError();
}

size_t prefill_score_workspace_bytes(int T, int H, int D) {
  if (T <= 0 || H <= 0 || D <= 0) return 0;
  const size_t n = static_cast<size_t>(T) * H;
  return round256(n * D * sizeof(uint16_t)) + 2 * round256(n * sizeof(float));
}

bool prefill_score_needs_workspace(int mode, bool graph, int graph_group) { return mode >= 0 || (graph && graph_group > 1); }

cudaError_t launch_prefill_score(const PrefillScoreArgs& a, cudaStream_t stream) {
  if (a.T < 0 || a.H < 1 || a.KVH < 1 || a.H % a.KVH != 0 || a.T > a.capacity || (a.D != 64 && a.D != 128)) return cudaErrorInvalidValue;
  if (a.graph_group != 1 && a.graph_group != a.H / a.KVH) return cudaErrorInvalidValue;
  if (a.mode < -1 || a.mode > 1) return cudaErrorInvalidValue;
  const bool scores = a.mode >= 0;
  if (scores && (a.scores == nullptr || a.score_capacity < a.T || !(a.decay >= 0.f) || std::isinf(a.decay))) return cudaErrorInvalidValue;
  if (a.graph != nullptr && (a.graph_capacity < a.T || !aligned16(a.graph))) return cudaErrorInvalidValue;
  if (a.q == nullptr || a.k == nullptr || !aligned16(a.q) || !aligned16(a.k)) return cudaErrorInvalidValue;
  // grid.y limits: T / 128 tiles (either pass) must stay below 65536
  if (a.T > 65535 * 128) return cudaErrorInvalidValue;
  if (a.T == 0 || (a.graph == nullptr && a.lse == nullptr && !scores)) return cudaSuccess;
  if (prefill_score_needs_workspace(a.mode, a.graph != nullptr, a.graph_group) &&
      (a.workspace == nullptr || !aligned16(a.workspace) || a.workspace_bytes < prefill_score_workspace_bytes(a.T, a.H, a.D)))
    return cudaErrorInvalidValue;
  if (a.graph != nullptr && a.graph_group > 1) {
    const cudaError_t err = check_group_graph(a.D, a.graph_group, a.T);
    if (err != cudaSuccess) return err;
  }
  if (a.D == 128) return launch_impl<128>(a, stream);
  return launch_impl<64>(a, stream);
}

}  // namespace kvwalk::engine
