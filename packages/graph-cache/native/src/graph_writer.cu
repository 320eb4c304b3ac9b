// Launchers of the top-4 writer and the compaction remap.
#include "launchers.h"
#include "compact.cuh"
#include "topk_writer.cuh"

namespace kvwalk {

cudaError_t launch_topk_writer(const float* probs, int rows, int n, const int* graph_ids, const int* nodes, void* graph, int num_graphs,
                               int capacity, int layout, cudaStream_t stream) {
  if (rows <= 0) return cudaSuccess;
  constexpr int threads = 256;
  const int warps = threads / 32;
  const int blocks = (rows + warps - 1) / warps < 65535 ? (rows + warps - 1) / warps : 65535;
  if (layout == kLayoutAoS) {
    topk_writer_kernel<kLayoutAoS><<<blocks, threads, 0, stream>>>(probs, rows, n, graph_ids, nodes, graph, num_graphs, capacity);
  } else {
    topk_writer_kernel<kLayoutSoA><<<blocks, threads, 0, stream>>>(probs, rows, n, graph_ids, nodes, graph, num_graphs, capacity);
  }
  return cudaGetLastError();
}

cudaError_t launch_compact(const uint8_t* keep, const void* src, void* dst, int* remap, int* kept, int num_graphs, int capacity, int layout,
                           cudaStream_t stream) {
  if (num_graphs <= 0) return cudaSuccess;
  if (layout == kLayoutAoS) {
    compact_kernel<kLayoutAoS><<<num_graphs, kCompactThreads, 0, stream>>>(keep, src, dst, remap, kept, num_graphs, capacity);
  } else {
    compact_kernel<kLayoutSoA><<<num_graphs, kCompactThreads, 0, stream>>>(keep, src, dst, remap, kept, num_graphs, capacity);
  }
  return cudaGetLastError();
}

}  // namespace kvwalk
