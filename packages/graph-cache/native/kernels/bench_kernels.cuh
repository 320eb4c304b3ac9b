// Kernels used only by the benchmarks: synthetic data fill and the layout probe (a random-walk style
// gather over a graph, the access pattern of the walker that reads the graph cache). No Node.
#pragma once
#include "graph_layout.cuh"

namespace kvwalk {

__device__ __forceinline__ uint32_t hash32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

// Uniform in [-1, 1): the top 24 bits of a hash.
__device__ __forceinline__ float hash_unit(uint64_t i, uint32_t seed) {
  const uint32_t h = hash32(static_cast<uint32_t>(i) ^ hash32(static_cast<uint32_t>(i >> 32) + seed));
  return static_cast<float>(h >> 8) * (2.f / 16777216.f) - 1.f;
}

__global__ void fill_bf16_kernel(uint16_t* out, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const uint32_t bits = __float_as_uint(hash_unit(i, seed));
    out[i] = static_cast<uint16_t>(bits >> 16);
  }
}

__global__ void fill_f32_kernel(float* out, size_t n, uint32_t seed, float amplitude) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    out[i] = amplitude * hash_unit(i, seed);
  }
}

__global__ void fill_u8_kernel(uint8_t* out, size_t n, uint32_t seed, float keep_fraction) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    out[i] = (hash_unit(i, seed) * 0.5f + 0.5f) < keep_fraction ? 1 : 0;
  }
}

// Random graph: node i of graph g points to 4 random nodes of the same graph, equal weights.
template <int LAYOUT>
__global__ void fill_graph_kernel(void* graph, int num_graphs, int capacity, uint32_t seed) {
  const int64_t num_nodes = static_cast<int64_t>(num_graphs) * capacity;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < num_nodes; i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int nb[4];
#pragma unroll
    for (int s = 0; s < 4; s++) nb[s] = static_cast<int>(hash32(static_cast<uint32_t>(i * 4 + s) + seed) % static_cast<uint32_t>(capacity));
    store_node<LAYOUT>(graph, num_nodes, i, make_int4(nb[0], nb[1], nb[2], nb[3]), make_float4(0.25f, 0.25f, 0.25f, 0.25f));
  }
}

// Layout probe: walkers_per_graph threads per graph, each doing `steps` dependent node reads and
// choosing an edge by its weights (as the walker does); the sum of visited indices is written so the
// loads cannot be optimized away.
template <int LAYOUT>
__global__ void gather_walk_kernel(const void* graph, int num_graphs, int capacity, int walkers_per_graph, int steps, uint32_t seed,
                                   int* sink) {
  const int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (t >= static_cast<int64_t>(num_graphs) * walkers_per_graph) return;
  const int g = static_cast<int>(t / walkers_per_graph);
  const int64_t num_nodes = static_cast<int64_t>(num_graphs) * capacity;
  uint32_t state = hash32(static_cast<uint32_t>(t) + seed);
  int node = static_cast<int>(state % static_cast<uint32_t>(capacity));
  int acc = 0;
  for (int s = 0; s < steps; s++) {
    int4 n;
    float4 w;
    load_node<LAYOUT>(graph, num_nodes, static_cast<int64_t>(g) * capacity + node, n, w);
    state = hash32(state);
    const float u = static_cast<float>(state >> 8) * (1.f / 16777216.f);
    const int next = u < w.x ? n.x : (u < w.x + w.y ? n.y : (u < w.x + w.y + w.z ? n.z : n.w));
    node = next >= 0 && next < capacity ? next : node;
    acc += node;
  }
  sink[t] = acc;
}

}  // namespace kvwalk
