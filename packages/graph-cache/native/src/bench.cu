// Launchers of the benchmark-only kernels (synthetic data, layout probe).
#include "launchers.h"
#include "bench_kernels.cuh"

namespace kvwalk {

static int grid_for(size_t n, int threads) {
  const size_t b = (n + threads - 1) / threads;
  return b > 65535 ? 65535 : (b < 1 ? 1 : static_cast<int>(b));
}

cudaError_t launch_fill_bf16(uint16_t* out, size_t n, uint32_t seed, cudaStream_t stream) {
  fill_bf16_kernel<<<grid_for(n, 256), 256, 0, stream>>>(out, n, seed);
  return cudaGetLastError();
}

cudaError_t launch_fill_f32(float* out, size_t n, uint32_t seed, float amplitude, cudaStream_t stream) {
  fill_f32_kernel<<<grid_for(n, 256), 256, 0, stream>>>(out, n, seed, amplitude);
  return cudaGetLastError();
}

cudaError_t launch_fill_u8(uint8_t* out, size_t n, uint32_t seed, float keep_fraction, cudaStream_t stream) {
  fill_u8_kernel<<<grid_for(n, 256), 256, 0, stream>>>(out, n, seed, keep_fraction);
  return cudaGetLastError();
}

cudaError_t launch_fill_graph(void* graph, int num_graphs, int capacity, int layout, uint32_t seed, cudaStream_t stream) {
  const size_t n = static_cast<size_t>(num_graphs) * capacity;
  if (layout == kLayoutAoS) {
    fill_graph_kernel<kLayoutAoS><<<grid_for(n, 256), 256, 0, stream>>>(graph, num_graphs, capacity, seed);
  } else {
    fill_graph_kernel<kLayoutSoA><<<grid_for(n, 256), 256, 0, stream>>>(graph, num_graphs, capacity, seed);
  }
  return cudaGetLastError();
}

cudaError_t launch_gather_walk(const void* graph, int num_graphs, int capacity, int layout, int walkers_per_graph, int steps, uint32_t seed,
                               int* sink, cudaStream_t stream) {
  const size_t n = static_cast<size_t>(num_graphs) * walkers_per_graph;
  const int blocks = static_cast<int>((n + 255) / 256);
  if (layout == kLayoutAoS) {
    gather_walk_kernel<kLayoutAoS><<<blocks, 256, 0, stream>>>(graph, num_graphs, capacity, walkers_per_graph, steps, seed, sink);
  } else {
    gather_walk_kernel<kLayoutSoA><<<blocks, 256, 0, stream>>>(graph, num_graphs, capacity, walkers_per_graph, steps, seed, sink);
  }
  return cudaGetLastError();
}

}  // namespace kvwalk
