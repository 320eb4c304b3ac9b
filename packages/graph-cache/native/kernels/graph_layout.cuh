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

// Stores entry `slot` (0-3) of a node: its neighbour and weight (scalar stores; store_node writes whole nodes).
template <int LAYOUT>
__device__ __forceinline__ void store_node_entry(void* graph, int64_t num_nodes, int64_t node, int slot, int neighbor, float weight) {
  if (LAYOUT == kLayoutAoS) {
    GraphNode* g = static_cast<GraphNode*>(graph) + node;
    reinterpret_cast<int*>(&g->neighbors)[slot] = neighbor;
    reinterpret_cast<float*>(&g->weights)[slot] = weight;
  } else {
    int* nb = static_cast<int*>(graph);
    float* wb = reinterpret_cast<float*>(nb + num_nodes * kTopK);
    nb[node * kTopK + slot] = neighbor;
    wb[node * kTopK + slot] = weight;
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

// Inserts any candidate into a sorted list (compare-exchange chain; small code).
__device__ __forceinline__ void top4_insert(Top4& t, const Cand& c) {
  if (!better(c, t.c[3])) return;
  t.c[3] = c;
  cswap(t.c[2], t.c[3]);
  cswap(t.c[1], t.c[2]);
  cswap(t.c[0], t.c[1]);
}

// The best candidate over the 32 lanes (every lane gets it).
__device__ __forceinline__ Cand warp_best(Cand c) {
#pragma unroll 1
  for (int off = 16; off > 0; off >>= 1) {
    const Cand o{__shfl_xor_sync(0xffffffffu, c.v, off), __shfl_xor_sync(0xffffffffu, c.i, off)};
    if (better(o, c)) c = o;
  }
  return c;
}

// Top-4 of the union of every lane's sorted list: four rounds of a warp-wide best over the lists'
// heads, the winning lane popping its head (key indices are unique across lanes, so exactly one lane
// matches; sentinels may "pop" harmlessly). Exact under the total order, independent of how candidates
// were spread over lanes. Rolled loops on purpose: this code runs once per block, and code executed
// once is fetched cold into the instruction cache (straight-line bitonic merges cost ~10 us per launch
// on H200). Every lane returns the result.
__device__ __forceinline__ Top4 warp_top4(Top4 t) {
  const int lane = threadIdx.x & 31;
  Cand mine = sentinel();  // lane r keeps the winner of round r
#pragma unroll 1
  for (int r = 0; r < kTopK; r++) {
    const Cand best = warp_best(t.c[0]);
    if (lane == r) mine = best;
    if (t.c[0].i == best.i) {
      t.c[0] = t.c[1];
      t.c[1] = t.c[2];
      t.c[2] = t.c[3];
      t.c[3] = sentinel();
    }
  }
  Top4 out;
#pragma unroll
  for (int r = 0; r < kTopK; r++) out.c[r] = Cand{__shfl_sync(0xffffffffu, mine.v, r), __shfl_sync(0xffffffffu, mine.i, r)};
  return out;
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
  // One IEEE division per entry (each division site carries its own slow path in the code).
  float q[kTopK];
#pragma unroll
  for (int s = 0; s < kTopK; s++) q[s] = __fdiv_rn(ok[s] ? p[s] : 0.f, sum > 0.f ? sum : 1.f);
  // Squeeze dropped entries out (valid ones first, in order): a chain of conditional shifts.
  int idx[kTopK];
  float wt[kTopK];
#pragma unroll
  for (int s = 0; s < kTopK; s++) {
    idx[s] = ok[s] ? t.c[s].i : -1;
    wt[s] = ok[s] ? q[s] : 0.f;
  }
#pragma unroll
  for (int pass = 0; pass < kTopK - 1; pass++) {
#pragma unroll
    for (int s = 0; s < kTopK - 1; s++) {
      if (idx[s] < 0 && idx[s + 1] >= 0) {
        idx[s] = idx[s + 1];
        wt[s] = wt[s + 1];
        idx[s + 1] = -1;
        wt[s + 1] = 0.f;
      }
    }
  }
  n = make_int4(idx[0], idx[1], idx[2], idx[3]);
  w = make_float4(wt[0], wt[1], wt[2], wt[3]);
}

// Stores node `node` (of num_nodes) from a top-4 whose scores are the probabilities themselves (the
// top-4 writer's rows, the per-KV-head selection's summed probabilities): normalize_top4 with p = the
// scores, then store_node.
template <int LAYOUT>
__device__ __forceinline__ void store_top4_values(void* graph, int64_t num_nodes, int64_t node, const Top4& t) {
  float p[kTopK];
#pragma unroll
  for (int s = 0; s < kTopK; s++) p[s] = t.c[s].v;
  int4 n;
  float4 w;
  normalize_top4(t, p, n, w);
  store_node<LAYOUT>(graph, num_nodes, node, n, w);
}

}  // namespace kvwalk
