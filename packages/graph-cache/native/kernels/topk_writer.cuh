// Top-4 writer: one warp per probability row writes the row's top-4 into (graph_ids[r], nodes[r]).
// Raw pointers only; no Node includes.
#pragma once
#include "graph_layout.cuh"

namespace kvwalk {

// probs:     float [rows, n]  (row r = one query's attention probabilities over keys 0..n-1)
// graph_ids: int   [rows]     graph of each row, in [0, num_graphs)
// nodes:     int   [rows]     node of each row, in [0, capacity); (graph, node) pairs must be distinct
// graph:     num_graphs * capacity nodes in LAYOUT (see graph_layout.cuh)
// Entries that are NaN, <= 0 or infinite are skipped; ties go to the lower key index.
// Launch: blockDim.x a multiple of 32, one warp per row (grid-stride over rows).
template <int LAYOUT>
__global__ void topk_writer_kernel(const float* __restrict__ probs, int rows, int n, const int* __restrict__ graph_ids,
                                   const int* __restrict__ nodes, void* graph, int num_graphs, int capacity) {
  const int lane = threadIdx.x & 31;
  const int warps_per_block = blockDim.x >> 5;
  const int64_t num_nodes = static_cast<int64_t>(num_graphs) * capacity;
  for (int r = blockIdx.x * warps_per_block + (threadIdx.x >> 5); r < rows; r += gridDim.x * warps_per_block) {
    const float* row = probs + static_cast<int64_t>(r) * n;
    Top4 t;
    t.init();
    for (int j = lane; j < n; j += 32) {
      const float p = row[j];
      if (p > 0.f && p != INFINITY) t.push_scan(p, j);
    }
    t = warp_top4(t);
    if (lane == 0) {
      const int g = graph_ids[r];
      const int node = nodes[r];
      if (g >= 0 && g < num_graphs && node >= 0 && node < capacity) {
        store_top4_values<LAYOUT>(graph, num_nodes, static_cast<int64_t>(g) * capacity + node, t);
      }
    }
  }
}

}  // namespace kvwalk
