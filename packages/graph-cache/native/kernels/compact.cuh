// Compaction remap: one block per graph. Pass 1 scans the keep mask (exclusive prefix sum = new slot
// numbers, -1 for dropped slots) into `remap`; pass 2 moves every kept node to its new slot and remaps
// its neighbours (dropped or out-of-range neighbours become -1 and are squeezed out, weights are not
// renormalized); nodes from the kept count on are cleared. Raw pointers only; no Node includes.
#pragma once
#include "graph_layout.cuh"

namespace kvwalk {

constexpr int kCompactThreads = 1024;

// keep:  uint8 [num_graphs, capacity], non-zero = keep
// src, dst: num_graphs * capacity nodes in LAYOUT (distinct buffers)
// remap: int [num_graphs, capacity] workspace; kept: int [num_graphs] kept count per graph
// Launch: grid num_graphs, block kCompactThreads.
template <int LAYOUT>
__global__ void __launch_bounds__(kCompactThreads) compact_kernel(const uint8_t* __restrict__ keep, const void* src, void* dst,
                                                                  int* __restrict__ remap, int* __restrict__ kept, int num_graphs,
                                                                  int capacity) {
  __shared__ int warp_sums[kCompactThreads / 32];
  __shared__ int carry;
  const int g = blockIdx.x;
  const int tid = threadIdx.x;
  const int lane = tid & 31;
  const int warp = tid >> 5;
  const int64_t base = static_cast<int64_t>(g) * capacity;
  const int64_t num_nodes = static_cast<int64_t>(num_graphs) * capacity;
  if (tid == 0) carry = 0;
  __syncthreads();
  for (int tile = 0; tile < capacity; tile += kCompactThreads) {
    const int i = tile + tid;
    const int flag = (i < capacity && keep[base + i] != 0) ? 1 : 0;
    int incl = flag;
#pragma unroll
    for (int off = 1; off < 32; off <<= 1) {
      const int y = __shfl_up_sync(0xffffffffu, incl, off);
      if (lane >= off) incl += y;
    }
    if (lane == 31) warp_sums[warp] = incl;
    __syncthreads();
    if (warp == 0) {
      int w = warp_sums[lane];
      int wi = w;
#pragma unroll
      for (int off = 1; off < 32; off <<= 1) {
        const int y = __shfl_up_sync(0xffffffffu, wi, off);
        if (lane >= off) wi += y;
      }
      warp_sums[lane] = wi - w;  // exclusive prefix over warps
    }
    __syncthreads();
    const int c = carry;
    if (i < capacity) remap[base + i] = flag ? c + warp_sums[warp] + incl - flag : -1;
    __syncthreads();  // everyone has read carry and warp_sums
    if (tid == kCompactThreads - 1) carry = c + warp_sums[warp] + incl;
    __syncthreads();
  }
  const int total = carry;
  if (tid == 0) kept[g] = total;
  // remap is global memory written by this block; __syncthreads makes it visible block-wide.
  for (int i = tid; i < capacity; i += kCompactThreads) {
    const int to = remap[base + i];
    if (to < 0) continue;
    int4 n;
    float4 w;
    load_node<LAYOUT>(src, num_nodes, base + i, n, w);
    const int in[kTopK] = {n.x, n.y, n.z, n.w};
    const float iw[kTopK] = {w.x, w.y, w.z, w.w};
    int on[kTopK] = {-1, -1, -1, -1};
    float ow[kTopK] = {0.f, 0.f, 0.f, 0.f};
    int k = 0;
#pragma unroll
    for (int s = 0; s < kTopK; s++) {
      const int j = in[s];
      const int nj = (j >= 0 && j < capacity) ? remap[base + j] : -1;
      if (nj >= 0) {
#pragma unroll
        for (int d = 0; d <= s; d++) {
          if (d == k) {
            on[d] = nj;
            ow[d] = iw[s];
          }
        }
        k++;
      }
    }
    store_node<LAYOUT>(dst, num_nodes, base + to, make_int4(on[0], on[1], on[2], on[3]), make_float4(ow[0], ow[1], ow[2], ow[3]));
  }
  for (int i = total + tid; i < capacity; i += kCompactThreads) {
    store_node<LAYOUT>(dst, num_nodes, base + i, make_int4(-1, -1, -1, -1), make_float4(0.f, 0.f, 0.f, 0.f));
  }
}

}  // namespace kvwalk
