// Device layout of a graph batch and the top-4 helpers shared by every graph-cache kernel.
// Raw pointers only; no Node includes.
//
// A batch holds numNodes = numGraphs * capacity nodes in one allocation of numNodes * 32 bytes:
//   AoS (the design's struct, the default): node i at byte 32*i = { int32 neighbors[4]; float weights[4] }
//   SoA: neighbors int32 [numNodes, 4] at byte 0, weights float [numNodes, 4] at byte 16*numNodes.
// Node (g, i) is node g * capacity + i. Invalid neighbours are -1 with weight 0.
#pragma once
#include <cuda_runtime.h>
#include <climits>
#include <cstdint>

namespace kvwalk {

constexpr int kTopK = 4;

enum GraphLayout : int { kLayoutAoS = 0, kLayoutSoA = 1 };

struct GraphNode {
  int4 neighbors;
  float4 weights;
};
static_assert(sizeof(GraphNode) == 32, "GraphNode is 32 bytes");

template <int LAYOUT>
__device__ __forceinline__ void store_node(void* graph, int64_t num_nodes, int64_t node, int4 n, float4 w) {
  if (LAYOUT == kLayoutAoS) {
    GraphNode* g = static_cast<GraphNode*>(graph);
    g[node].neighbors = n;
    g[node].weights = w;
  } else {
    int4* nb = static_cast<int4*>(graph);
    float4* wb = reinterpret_cast<float4*>(nb + num_nodes);
    nb[node] = n;
    wb[node] = w;
  }
}

template <int LAYOUT>
__device__ __forceinline__ void load_node(const void* graph, int64_t num_nodes, int64_t node, int4& n, float4& w) {
  if (LAYOUT == kLayoutAoS) {
    const GraphNode* g = static_cast<const GraphNode*>(graph);
    n = g[node].neighbors;
    w = g[node].weights;
  } else {
    const int4* nb = static_cast<const int4*>(graph);
    const float4* wb = reinterpret_cast<const float4*>(nb + num_nodes);
    n = nb[node];
    w = wb[node];
  }
}

// One candidate of a top-4: a score and a key index. Sentinel: (-inf, INT_MAX), never chosen.
struct Cand {
  float v;
  int i;
};

__device__ __forceinline__ Cand sentinel() { return Cand{-INFINITY, INT_MAX}; }

// Total order of candidates: larger score first, then lower index (ties by lower key index).
__device__ __forceinline__ bool better(const Cand& a, const Cand& b) { return a.v > b.v || (a.v == b.v && a.i < b.i); }

// A sorted (best first) list of 4 candidates kept in registers.
struct Top4 {
  Cand c[kTopK];
  __device__ __forceinline__ void init() {
#pragma unroll
    for (int s = 0; s < kTopK; s++) c[s] = sentinel();
  }
  // Inserts a candidate whose index is larger than every index seen so far (a sequential scan):
  // strict > keeps the earlier (lower) index first among equal scores. NaN and -inf never enter.
  __device__ __forceinline__ void push_scan(float v, int i) {
    if (!(v > c[3].v)) return;
    c[3] = Cand{v, i};
#pragma unroll
    for (int s = 3; s > 0; s--) {
      if (c[s].v > c[s - 1].v) {
        Cand t = c[s];
        c[s] = c[s - 1];
        c[s - 1] = t;
      }
    }
  }
};

__device__ __forceinline__ void cswap(Cand& a, Cand& b) {
  if (better(b, a)) {
    Cand t = a;
    a = b;
    b = t;
  }
}

// Top-4 of the union of two sorted lists (bitonic merge: pairwise best of a[i], b[3-i] is a
// bitonic sequence holding the top 4; two compare-exchange stages sort it). Exact under the
// total order, so the result does not depend on the merge tree.
__device__ __forceinline__ Top4 merge(const Top4& a, const Top4& b) {
  Top4 r;
#pragma unroll
  for (int s = 0; s < kTopK; s++) r.c[s] = better(a.c[s], b.c[3 - s]) ? a.c[s] : b.c[3 - s];
  cswap(r.c[0], r.c[2]);
  cswap(r.c[1], r.c[3]);
  cswap(r.c[0], r.c[1]);
  cswap(r.c[2], r.c[3]);
  return r;
}

// Butterfly merge across the lanes of a warp (offsets < width): afterwards every lane holds the
// top-4 of the lanes in its aligned group of `width`.
__device__ __forceinline__ Top4 warp_merge(Top4 t, int width) {
  for (int off = 1; off < width; off <<= 1) {
    Top4 o;
#pragma unroll
    for (int s = 0; s < kTopK; s++) {
      o.c[s].v = __shfl_xor_sync(0xffffffffu, t.c[s].v, off);
      o.c[s].i = __shfl_xor_sync(0xffffffffu, t.c[s].i, off);
    }
    t = merge(t, o);
  }
  return t;
}

// The writer's rule (identical to writeNormalizedTop4 in src/topk.ts): candidates with a valid index
// whose probability p[s] is > 0 (not NaN) are kept in order and divided by their float32 sum taken in
// order; the rest of the node is -1 / 0.
__device__ __forceinline__ void normalize_top4(const Top4& t, const float p[kTopK], int4& n, float4& w) {
  float sum = 0.f;
  bool ok[kTopK];
#pragma unroll
  for (int s = 0; s < kTopK; s++) {
    ok[s] = t.c[s].i != INT_MAX && p[s] > 0.f;
    if (ok[s]) sum = __fadd_rn(sum, p[s]);
  }
  int idx[kTopK] = {-1, -1, -1, -1};
  float wt[kTopK] = {0.f, 0.f, 0.f, 0.f};
  int k = 0;
#pragma unroll
  for (int s = 0; s < kTopK; s++) {
    if (ok[s]) {
      // k <= s, so this unrolls to predicated moves.
#pragma unroll
      for (int d = 0; d <= s; d++) {
        if (d == k) {
          idx[d] = t.c[s].i;
          wt[d] = __fdiv_rn(p[s], sum);
        }
      }
      k++;
    }
  }
  n = make_int4(idx[0], idx[1], idx[2], idx[3]);
  w = make_float4(wt[0], wt[1], wt[2], wt[3]);
}

}  // namespace kvwalk
