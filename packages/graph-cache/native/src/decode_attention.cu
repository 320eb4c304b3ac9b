// Launchers of the fused decode attention (with and without the graph write).
#include <type_traits>
#include "launchers.h"
#include "decode_attention.cuh"
#include "decode_attention_gqa.cuh"
#include "graph_select.cuh"
#include "kvwalk/pdl.h"

namespace kvwalk {

bool decode_grouped_supported(int num_heads, int num_kv_heads, int head_dim) {
  if (num_kv_heads < 1 || num_heads % num_kv_heads != 0) return false;
  const int group = num_heads / num_kv_heads;
  return (group == 2 || group == 4) && (head_dim == 64 || head_dim == 128);
}

bool decode_use_grouped(int mode, int batch, int num_heads, int num_kv_heads, int head_dim, int sm_count) {
  if (mode == 0 || !decode_grouped_supported(num_heads, num_kv_heads, head_dim)) return false;
  if (mode == 1) return true;
  const long long pairs = static_cast<long long>(batch) * num_kv_heads;
  return 2 * pairs >= 3LL * (sm_count > 0 ? sm_count : 132);
}

bool decode_defer_graph(int mode, bool grouped, int batch, int num_heads, int sm_count) {
  if (mode != 2) return mode == 1;
  return grouped || static_cast<long long>(batch) * num_heads < (sm_count > 0 ? sm_count : 132);
}

// The split rule of both kernels, for `blocks` (sequence, head) blocks at `per_sm` resident blocks per
// SM (one wave = per_sm x SMs). A partly filled extra wave costs a whole block time (measured on H200),
// so: up to one wave of blocks, fill the wave; beyond, split into >= 4 waves, so the partly filled last
// wave is a small part, or with `one_beyond_wave` not at all. At least 256 keys per split (shorter
// splits pay the fixed per-block cost and a longer merge), at most 256 splits.
static int choose_splits(long long blocks, int per_sm, bool one_beyond_wave, int max_length, int sm_count) {
  const long long wave = static_cast<long long>(sm_count > 0 ? sm_count : 132) * per_sm;
  const long long by_len = (max_length + 255) / 256;
  long long splits = blocks <= wave ? wave / blocks : one_beyond_wave ? 1 : (4 * wave + blocks - 1) / blocks;
  if (splits > by_len) splits = by_len;
  if (splits > 256) splits = 256;
  return splits < 1 ? 1 : static_cast<int>(splits);
}

int decode_choose_splits(bool grouped, bool fused_graph, int batch, int num_heads, int num_kv_heads, int max_length, int sm_count) {
  // Grouped: one block per (sequence, KV head), 4 resident blocks per SM (the grouped kernel's launch
  // bound). Per head: without the fused graph 7 resident blocks per SM (<= 72 registers x 128 threads);
  // with it 4 (the pipelined loop's launch bound) and one split beyond a wave, since every split adds a
  // block's top-4 tracking warm-up and merges and a longer tail (H200, batch 32 x 896 keys, 32 heads:
  // 116.7 us at 1 split vs 124.3 at 3; 32 query over 8 KV heads 65.6 vs 88.3; at 4096 keys flat or better:
  // bench/results/h200-2026-11-30-b/gqa-variants/split-sweep.json).
  if (grouped) return choose_splits(static_cast<long long>(batch) * num_kv_heads, 4, false, max_length, sm_count);
  return choose_splits(static_cast<long long>(batch) * num_heads, fused_graph ? kDecodeGraphBlocksPerSm : 7, fused_graph, max_length, sm_count);
}

size_t decode_workspace_bytes(int batch, int num_heads, int head_dim, int num_splits) {
  const size_t parts = static_cast<size_t>(batch) * num_heads * num_splits;
  // tickets [batch, heads] (rounded up to 16 ints: the 64 spare bytes), part_o [parts, D], part_lse [parts]
  // (rounded up to 4 floats: the 16 spare bytes), part_top_v [parts, lists, 4], part_top_i [parts, lists, 4]
  // with lists = the key groups of a block (top_lists_per_split)
  const size_t lists = top_lists_per_split(head_dim);
  return parts * (static_cast<size_t>(head_dim) + 1 + 8 * lists) * 4 + static_cast<size_t>(batch) * num_heads * 4 + 64 + 16;
}

bool decode_head_dim_supported(int d) { return d == 32 || d == 64 || d == 128 || d == 256; }

// One launch of a decode kernel over (splits, y, batch) blocks of kDecodeThreads, as a programmatic
// dependent launch when asked for and the device has it.
static cudaError_t launch_decode_kernel(void (*kernel)(DecodeParams), const DecodeParams& p, int grid_y, bool pdl, cudaStream_t stream) {
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = dim3(p.num_splits, grid_y, p.batch);
  cfg.blockDim = dim3(kDecodeThreads);
  cfg.dynamicSmemBytes = 0;
  cfg.stream = stream;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = pdl && device_supports_pdl() ? 1 : 0;
  return cudaLaunchKernelEx(&cfg, kernel, p);
}

template <int D, bool G, int L, bool SPILL = false>
static cudaError_t launch_typed(const DecodeParams& p, bool pdl, cudaStream_t stream) {
  return launch_decode_kernel(decode_attention_kernel<D, G, L, SPILL>, p, p.num_heads, pdl, stream);
}

template <int D, int QG, bool G, int L, bool SPILL = false>
static cudaError_t launch_gqa_typed(const DecodeParams& p, bool pdl, cudaStream_t stream) {
  return launch_decode_kernel(decode_attention_gqa_kernel<D, QG, G, L, SPILL>, p, p.num_kv_heads, pdl, stream);
}

// Grouped launch for D in {64, 128} and groups of 2 or 4 (8 spills: ~0.8 KB per thread at 128
// registers; would need two blocks per group); cudaErrorInvalidValue otherwise.
template <int D>
static cudaError_t launch_gqa_dim(const DecodeParams& p, bool graph, int layout, bool pdl, cudaStream_t stream) {
  const int qg = p.num_heads / p.num_kv_heads;
  auto by_graph = [&](auto qgc) -> cudaError_t {
    constexpr int Q = decltype(qgc)::value;
    if (p.logits) return launch_gqa_typed<D, Q, false, kLayoutAoS, true>(p, pdl, stream);
    if (!graph) return launch_gqa_typed<D, Q, false, kLayoutAoS>(p, pdl, stream);
    return layout == kLayoutAoS ? launch_gqa_typed<D, Q, true, kLayoutAoS>(p, pdl, stream) : launch_gqa_typed<D, Q, true, kLayoutSoA>(p, pdl, stream);
  };
  switch (qg) {
    case 2: return by_graph(std::integral_constant<int, 2>{});
    case 4: return by_graph(std::integral_constant<int, 4>{});
    default: return cudaErrorInvalidValue;
  }
}

template <int D>
static cudaError_t launch_dim(const DecodeParams& p, bool graph, int layout, bool pdl, cudaStream_t stream) {
  if (p.logits) return launch_typed<D, false, kLayoutAoS, true>(p, pdl, stream);
  if (!graph) return launch_typed<D, false, kLayoutAoS>(p, pdl, stream);
  return layout == kLayoutAoS ? launch_typed<D, true, kLayoutAoS>(p, pdl, stream) : launch_typed<D, true, kLayoutSoA>(p, pdl, stream);
}

cudaError_t launch_decode_attention(const DecodeArgs& a, cudaStream_t stream) {
  if (!decode_head_dim_supported(a.head_dim) || a.num_splits < 1 || a.batch < 1 || a.num_heads < 1 || a.num_kv_heads < 1 ||
      a.num_heads % a.num_kv_heads != 0 || (a.logits && (a.graph || !a.logits_lse2 || a.logits_stride < a.kv_capacity))) {
    return cudaErrorInvalidValue;
  }
  DecodeParams p{};
  p.q = a.q;
  p.k = a.k;
  p.v = a.v;
  p.lengths = a.lengths;
  p.starts = a.starts;
  p.out = a.out;
  p.out_bf16 = a.out_bf16;
  p.lse = a.lse;
  p.batch = a.batch;
  p.num_heads = a.num_heads;
  p.num_kv_heads = a.num_kv_heads;
  p.kv_capacity = a.kv_capacity;
  p.scale = a.scale;
  p.num_splits = a.num_splits;
  p.split_len = (a.max_length + a.num_splits - 1) / a.num_splits;
  if (p.split_len < 1) p.split_len = 1;
  {
    // tickets first, in a fixed region (workspace_batch rows, rounded to 16 ints); partials after it
    const int wb = a.workspace_batch > 0 ? a.workspace_batch : a.batch;
    if (wb < a.batch) return cudaErrorInvalidValue;
    const size_t ticket_ints = (static_cast<size_t>(wb) * a.num_heads + 15) / 16 * 16;
    const size_t parts = static_cast<size_t>(a.batch) * a.num_heads * a.num_splits;
    p.tickets = reinterpret_cast<int*>(a.workspace);
    p.part_o = a.workspace + ticket_ints;
    p.part_lse = p.part_o + parts * a.head_dim;
    p.part_top_v = p.part_lse + (parts + 3) / 4 * 4;  // 16-byte aligned
    p.part_top_i = reinterpret_cast<int*>(p.part_top_v + parts * kTopK * top_lists_per_split(a.head_dim));
  }
  p.graph = a.graph;
  p.nodes = a.nodes;
  p.graph_capacity = a.graph_capacity;
  p.logits = a.logits;
  p.logits_lse2 = a.logits_lse2;
  p.logits_stride = a.logits_stride;
  const bool graph = a.graph != nullptr;
  if (a.grouped) {
    if (a.head_dim == 128) return launch_gqa_dim<128>(p, graph, a.layout, a.pdl, stream);
    if (a.head_dim == 64) return launch_gqa_dim<64>(p, graph, a.layout, a.pdl, stream);
    return cudaErrorInvalidValue;
  }
  switch (a.head_dim) {
    case 32: return launch_dim<32>(p, graph, a.layout, a.pdl, stream);
    case 64: return launch_dim<64>(p, graph, a.layout, a.pdl, stream);
    case 128: return launch_dim<128>(p, graph, a.layout, a.pdl, stream);
    default: return launch_dim<256>(p, graph, a.layout, a.pdl, stream);
  }
}

cudaError_t launch_graph_select(const GraphSelectArgs& a, cudaStream_t stream) {
  if (a.batch < 1 || a.num_heads < 1 || a.stride < 1 || a.graph_capacity < 1 || !a.logits || !a.lse2 || !a.lengths || !a.graph) return cudaErrorInvalidValue;
  if (a.group < 1 || a.num_heads % a.group != 0) return cudaErrorInvalidValue;
  const long long blocks = static_cast<long long>(a.batch) * (a.num_heads / a.group);
  if (blocks > 0x7fffffffLL) return cudaErrorInvalidValue;
  GraphSelectParams p{a.logits, a.lse2, a.stride, a.lengths, a.starts, a.nodes, a.batch, a.num_heads, a.graph, a.graph_capacity, a.group};
  const unsigned grid = static_cast<unsigned>(blocks);
  if (a.group > 1) {
    auto kernel = a.layout == kLayoutSoA ? graph_select_group_kernel<kLayoutSoA, 0> : graph_select_group_kernel<kLayoutAoS, 0>;
    if (a.group == 2) kernel = a.layout == kLayoutSoA ? graph_select_group_kernel<kLayoutSoA, 2> : graph_select_group_kernel<kLayoutAoS, 2>;
    if (a.group == 4) kernel = a.layout == kLayoutSoA ? graph_select_group_kernel<kLayoutSoA, 4> : graph_select_group_kernel<kLayoutAoS, 4>;
    if (a.group == 8) kernel = a.layout == kLayoutSoA ? graph_select_group_kernel<kLayoutSoA, 8> : graph_select_group_kernel<kLayoutAoS, 8>;
    kernel<<<grid, kGroupSelectThreads, 0, stream>>>(p);
  } else if (a.layout == kLayoutSoA) {
    graph_select_kernel<kLayoutSoA><<<grid, kSelectThreads, 0, stream>>>(p);
  } else {
    graph_select_kernel<kLayoutAoS><<<grid, kSelectThreads, 0, stream>>>(p);
  }
  return cudaGetLastError();
}

}  // namespace kvwalk
