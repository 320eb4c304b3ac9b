// The shadow walker and exact personalized PageRank over a batch of top-4 attention graphs.
// Raw pointers only (no Node): the runtime's engine can include this header and launch on its own
// streams. Semantics are those of src/reference.ts (the TypeScript twin), bit for bit:
//
//   graphs    neighbors int32 [numGraphs, capacity, 4], weights float32 [numGraphs, capacity, 4],
//             node u's entries at [(g*capacity + u)*4, +4); numNodes int32 [numGraphs].
//   RNG       Philox4x32-10, key (seed, 0), counter (walker, step, graphIndexBase + g, 0) -> x0..x3.
//   start     counter step 0: node n-1 - mulhi(x2, W), W = min(startWindow, n - excludeBelow).
//   step s    teleport if x0 < teleportThreshold; else the first entry (stored order, weights that
//             are not finite and > 0 skipped, float32 running sum c) with x1 < c*2^32 is drawn and its
//             neighbour v followed when excludeBelow <= v < n; otherwise teleport to n-1 - mulhi(x2, W).
//             The node arrived at gets atomicAdd(counts[g*capacity + node], 1).
// Integer counts do not depend on the order of the atomics, so they equal the TS walker's exactly.
#pragma once
#include <cstdint>
#include "philox.cuh"
#include "walker_params.h"

namespace kvwalk {

constexpr float kWalkerFltMax = 3.402823466e+38f;

// Per-graph live node count clamped to [0, capacity] (the kernel is sound on any numNodes).
__device__ __forceinline__ int32_t clamp_nodes(int32_t n, int32_t capacity) { return n < 0 ? 0 : (n > capacity ? capacity : n); }

// What a walk launch does; kFull is the walker, the others are benchmark probes that keep its
// thread layout and RNG but drop parts of the work, to say what bounds it.
enum WalkMode : int {
  kWalkFull = 0,     // the walk
  kWalkNoGraph = 1,  // RNG + atomics, the next node drawn uniformly instead of loading the graph
  kWalkRngOnly = 2,  // RNG only (one atomic per walker at the end)
  kWalkSharedCounts2 = 3,  // staging shared-counts, forcing the two-blocks-per-SM build
};

// The edge-or-teleport decision of one step given the node's entries (see the file comment).
__device__ __forceinline__ int32_t choose_next(const int4 nv, const float4 wv, uint32_t x1, int32_t lo, int32_t n) {
  const int32_t nbr[4] = {nv.x, nv.y, nv.z, nv.w};
  const float wgt[4] = {wv.x, wv.y, wv.z, wv.w};
  const double u = static_cast<double>(x1);
  float c = 0.f;
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const float wj = wgt[j];
    if (!(wj > 0.f && wj <= kWalkerFltMax)) continue;
    c = __fadd_rn(c, wj);
    if (u < static_cast<double>(c) * 4294967296.0) {
      const int32_t v = nbr[j];
      return (v >= lo && v < n) ? v : -1;
    }
  }
  return -1;
}

// One walker: `steps` steps from its start node, counting arrivals with atomicAdd(counts + node).
// The Philox block of step s+1 does not depend on the walk, so it is computed while step s's graph
// loads are in flight. kGlobal: nb/wt are global memory (read-only cache); else shared memory.
template <int kMode, bool kGlobal>
__device__ __forceinline__ void walk_one(uint32_t w, uint32_t gi, const WalkParams& p, int32_t n, int32_t lo, int32_t window,
                                         const int4* __restrict__ nb, const float4* __restrict__ wt, uint32_t* counts) {
  const int32_t last = n - 1;
  const uint32_t win = static_cast<uint32_t>(window);
  int32_t cur = last - static_cast<int32_t>(mulhi32(philox4x32_10(w, 0, gi, 0, p.seed, 0).x[2], win));
  if (p.steps == 0) return;
  Philox4 r = philox4x32_10(w, 1, gi, 0, p.seed, 0);
  uint32_t acc = 0;
  const int32_t stride = kGlobal && p.nodeStride > 1 ? p.nodeStride : 1;
  for (uint32_t s = 1; s <= p.steps; ++s) {
    const bool follow = static_cast<uint64_t>(r.x[0]) >= p.teleportThreshold;
    int4 nv = make_int4(-1, -1, -1, -1);
    float4 wv = make_float4(0.f, 0.f, 0.f, 0.f);
    if (kMode == kWalkFull && follow) {
      if (kGlobal) {
        nv = __ldg(nb + static_cast<int64_t>(cur) * stride);
        wv = __ldg(wt + static_cast<int64_t>(cur) * stride);
      } else {
        nv = nb[cur];
        wv = wt[cur];
      }
    }
    const Philox4 rn = s < p.steps ? philox4x32_10(w, s + 1, gi, 0, p.seed, 0) : r;
    int32_t next = -1;
    if (kMode == kWalkFull) {
      if (follow) next = choose_next(nv, wv, r.x[1], lo, n);
    } else if (kMode == kWalkNoGraph) {
      if (follow) next = lo + static_cast<int32_t>(mulhi32(r.x[1], static_cast<uint32_t>(n - lo)));
    }
    if (kMode == kWalkRngOnly) {
      acc ^= r.x[0] ^ r.x[1] ^ r.x[2];
    } else {
      cur = next >= 0 ? next : last - static_cast<int32_t>(mulhi32(r.x[2], win));
      atomicAdd(counts + cur, 1u);
    }
    r = rn;
  }
  if (kMode == kWalkRngOnly) atomicAdd(counts + last - static_cast<int32_t>(mulhi32(acc, win)), 1u);
}

// Global-memory walker: one thread per (graph, walker); thread t walks walker t % walkers of graph
// t / walkers, reading the graph through the read-only cache.
template <int kMode>
__global__ void __launch_bounds__(256) walk_kernel(WalkParams p) {
  const uint64_t t = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= static_cast<uint64_t>(p.numGraphs) * p.walkers) return;
  const int64_t g = static_cast<int64_t>(t / p.walkers);
  const uint32_t w = static_cast<uint32_t>(t % p.walkers);
  const int32_t n = clamp_nodes(p.numNodes[g], p.capacity);
  const int32_t lo = p.excludeBelow > 0 ? p.excludeBelow : 0;
  const int32_t window = p.startWindow < n - lo ? p.startWindow : n - lo;
  if (window <= 0) return;
  const int64_t base = g * p.capacity;
  const int64_t gbase = base * (p.nodeStride > 1 ? p.nodeStride : 1);
  walk_one<kMode, true>(w, p.graphIndexBase + static_cast<uint32_t>(g), p, n, lo, window, reinterpret_cast<const int4*>(p.neighbors) + gbase,
                        reinterpret_cast<const float4*>(p.weights) + gbase, p.counts + base);
}

// Bytes of dynamic shared memory the staged walkers need per graph of `capacity` nodes: a uint32
// histogram per node, plus int4 neighbours + float4 weights when the graph itself is staged.
constexpr int64_t walk_shared_bytes(int64_t capacity, bool stageGraph) { return capacity * (stageGraph ? 36 : 4); }

// Block-per-graph walkers: one block per graph counts its walkers' visits in a shared-memory
// histogram and adds it to the graph's counts at the end (the block owns them: plain adds, no global
// atomics). kStageGraph: the live part of the graph (numNodes nodes) is first copied to shared
// memory and walked there; otherwise it is read from global memory through the read-only cache.
// Threads walk w = tid, tid + blockDim, ...; counts equal walk_kernel's (integer sums commute).
// kMinBlocks = 2 caps registers at 32 so two 1024-thread blocks share an SM (sm_80/sm_90; sm_86/89
// hold 1536 threads per SM, so there it stays 1).
#if defined(__CUDA_ARCH__) && (__CUDA_ARCH__ == 860 || __CUDA_ARCH__ == 870 || __CUDA_ARCH__ == 890)
#define KVWALK_WALK_MIN_BLOCKS(k) 1
#else
#define KVWALK_WALK_MIN_BLOCKS(k) (k)
#endif
template <bool kStageGraph, int kMinBlocks = 1>
__global__ void __launch_bounds__(1024, KVWALK_WALK_MIN_BLOCKS(kMinBlocks)) walk_shared_kernel(WalkParams p) {
  extern __shared__ int4 stage[];
  const int64_t g = blockIdx.x;
  const int32_t n = clamp_nodes(p.numNodes[g], p.capacity);
  const int32_t lo = p.excludeBelow > 0 ? p.excludeBelow : 0;
  const int32_t window = p.startWindow < n - lo ? p.startWindow : n - lo;
  if (window <= 0) return;
  const int64_t base = g * p.capacity;
  const int4* gnb = reinterpret_cast<const int4*>(p.neighbors) + base;
  const float4* gwt = reinterpret_cast<const float4*>(p.weights) + base;
  int4* nb = stage;
  float4* wt = reinterpret_cast<float4*>(stage + (kStageGraph ? n : 0));
  uint32_t* hist = kStageGraph ? reinterpret_cast<uint32_t*>(wt + n) : reinterpret_cast<uint32_t*>(stage);
  for (int32_t v = threadIdx.x; v < n; v += blockDim.x) {
    if (kStageGraph) {
      nb[v] = __ldg(gnb + v);
      wt[v] = __ldg(gwt + v);
    }
    hist[v] = 0;
  }
  __syncthreads();
  const uint32_t gi = p.graphIndexBase + static_cast<uint32_t>(g);
  for (uint32_t w = threadIdx.x; w < p.walkers; w += blockDim.x) {
    if (kStageGraph) {
      walk_one<kWalkFull, false>(w, gi, p, n, lo, window, nb, wt, hist);
    } else {
      walk_one<kWalkFull, true>(w, gi, p, n, lo, window, gnb, gwt, hist);
    }
  }
  __syncthreads();
  uint32_t* counts = p.counts + base;
  for (int32_t v = threadIdx.x; v < n; v += blockDim.x) {
    const uint32_t h = hist[v];
    if (h != 0) counts[v] += h;
  }
}

// Dependent-load latency probe: one thread follows `loads` links of a random cyclic permutation.
__global__ void chase_kernel(const uint32_t* __restrict__ next, uint32_t start, int32_t loads, uint32_t* __restrict__ out) {
  uint32_t i = start;
  for (int32_t k = 0; k < loads; ++k) i = next[i];
  out[0] = i;
}

// scores[i] = fl(fl(decay * scores[i]) + fl(counts[i])), no FMA (the TS twin rounds the same way).
__global__ void accumulate_kernel(float* __restrict__ scores, const uint32_t* __restrict__ counts, int64_t n, float decay) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  scores[i] = __fadd_rn(__fmul_rn(decay, scores[i]), __uint2float_rn(counts[i]));
}

__global__ void empty_kernel() {}

// Number of x in [0, 2^32) with floor(x * W / 2^32) == k: the exact start probability * 2^32.
__device__ __forceinline__ double start_mass(int32_t k, int32_t W) {
  const uint64_t w = static_cast<uint64_t>(W);
  const uint64_t a = ((static_cast<uint64_t>(k) << 32) + w - 1) / w;
  const uint64_t b = ((static_cast<uint64_t>(k + 1) << 32) + w - 1) / w;
  return static_cast<double>(b - a) * 0x1p-32;
}

__device__ __forceinline__ double draw_bound(float c) {
  const double b = ceil(static_cast<double>(c) * 4294967296.0);
  return b < 4294967296.0 ? b : 4294967296.0;
}

// One edge of a node, in edge order, under choose_next's draw: false for an invalid weight (the draw skips
// it); else the running float sum c and its draw bound `taken` (2^32 units) advance and q is the edge's
// exact probability. Shared by the power iteration and the causal sweep.
__device__ __forceinline__ bool edge_probability(float wj, float& c, double& taken, double& q) {
  if (!(wj > 0.f && wj <= kWalkerFltMax)) return false;
  c = __fadd_rn(c, wj);
  const double b = draw_bound(c);
  q = (b - taken) * 0x1p-32;
  taken = b;
  return true;
}

template <int kThreads>
__device__ double block_sum(double v, double* shared) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  double total = 0;
  if (threadIdx.x == 0) {
    for (int i = 0; i < kThreads / 32; ++i) total += shared[i];
    shared[kThreads / 32] = total;
  }
  __syncthreads();
  return shared[kThreads / 32];
}

// One block per graph: power iteration x <- x P of the walk's chain from the start distribution until
// the L1 change is < tol or maxIter (the stopping rule of pagerankExact). Pushes use double atomics,
// so results match the TS twin to rounding (about 1e-15), not bit for bit.
template <int kThreads>
__global__ void __launch_bounds__(kThreads) pagerank_kernel(PagerankParams p) {
  __shared__ double red[kThreads / 32 + 1];
  const int64_t g = blockIdx.x;
  const int64_t graph = p.graphIds ? p.graphIds[g] : g;
  const int32_t stride = p.nodeStride > 1 ? p.nodeStride : 1;
  const int32_t n = clamp_nodes(p.numNodes[g], p.capacity);
  const int32_t lo = p.excludeBelow > 0 ? p.excludeBelow : 0;
  const int32_t window = p.startWindow < n - lo ? p.startWindow : n - lo;
  const int64_t base = g * p.capacity;
  double* x = p.x + base;
  double* y = p.y + base;
  double* out = p.result + base;
  if (window <= 0) {
    for (int32_t v = threadIdx.x; v < p.capacity; v += blockDim.x) out[v] = 0;
    if (threadIdx.x == 0) p.iterations[g] = 0;
    return;
  }
  const int4* nb = reinterpret_cast<const int4*>(p.neighbors) + graph * p.capacity * stride;
  const float4* wt = reinterpret_cast<const float4*>(p.weights) + graph * p.capacity * stride;
  const double pT = static_cast<double>(p.teleportThreshold) * 0x1p-32;
  const double keep = 1.0 - pT;
  for (int32_t v = threadIdx.x; v < p.capacity; v += blockDim.x) {
    x[v] = (v < n && v >= n - window) ? start_mass(n - 1 - v, window) : 0.0;
  }
  int32_t it = 0;
  for (; it < p.maxIter; ++it) {
    for (int32_t v = threadIdx.x; v < n; v += blockDim.x) y[v] = 0;
    __syncthreads();
    double tele = 0;
    for (int32_t u = threadIdx.x; u < n; u += blockDim.x) {
      const double m = x[u];
      if (m == 0) continue;
      const double rest = m * keep;
      tele += m * pT;
      const int4 nv = nb[static_cast<int64_t>(u) * stride];
      const float4 wv = wt[static_cast<int64_t>(u) * stride];
      const int32_t nbr[4] = {nv.x, nv.y, nv.z, nv.w};
      const float wgt[4] = {wv.x, wv.y, wv.z, wv.w};
      float c = 0.f;
      double taken = 0;
      double dead = 0;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        double q;
        if (!edge_probability(wgt[j], c, taken, q)) continue;
        const int32_t v = nbr[j];
        if (v >= lo && v < n) {
          atomicAdd(y + v, rest * q);
        } else {
          dead += q;
        }
      }
      dead += (4294967296.0 - taken) * 0x1p-32;
      tele += rest * dead;
    }
    const double teleTotal = block_sum<kThreads>(tele, red);
    double diff = 0;
    for (int32_t v = threadIdx.x; v < n; v += blockDim.x) {
      const double s = v >= n - window ? start_mass(n - 1 - v, window) : 0.0;
      const double yv = y[v] + teleTotal * s;
      y[v] = yv;
      diff += fabs(yv - x[v]);
    }
    const double diffTotal = block_sum<kThreads>(diff, red);
    double* tmp = x;
    x = y;
    y = tmp;
    if (diffTotal < p.tol) {
      ++it;
      break;
    }
  }
  __syncthreads();
  for (int32_t v = threadIdx.x; v < p.capacity; v += blockDim.x) out[v] = v < n ? x[v] : 0.0;
  if (threadIdx.x == 0) p.iterations[g] = it;
}

// The same stationary distribution for causal graphs (every live edge u -> v has v <= u: attention
// graphs) in one backward sweep instead of power iteration. With keep = 1 - teleport and Q the chain's
// edge probabilities, x = F (start + keep x Q), F the teleport flow; in causal order
//   y_u (1 - keep Q_uu) = start_u + keep sum_{w > u} y_w Q_wu,   x = y / sum(y)
// (F only scales). One warp per graph, y in shared memory (capacity x 8 bytes, dynamic). Nodes go in
// chunks of 32 from the newest down: lane k loads node (top - k) and decodes its edges (the walk's
// probabilities, the power iteration's bit for bit; 1 / (1 - keep Q_uu)) while the previous chunk is
// swept, then the sweep visits the chunk's nodes in order, lane k finalizing y[u] and pushing its edges
// to earlier nodes in edge order (one lane at a time: no atomics, deterministic). A live edge to a later
// node is not causal: iterations[g] = -1 (the edge is dropped); else 1. Needs teleport > 0 or no node
// whose only edge is itself (the launcher's caller checks teleport).
struct CausalNode {
  double q[4];     // keep * probability of each edge to an earlier node (0: none)
  int32_t t[4];    // its target
  double inv;      // 1 / (1 - keep * Q_uu)
  bool acausal;
};

__device__ __forceinline__ CausalNode decode_causal_node(int4 nv, float4 wv, int32_t u, int32_t lo, int32_t n, double keep) {
  CausalNode c{};
  const int32_t nbr[4] = {nv.x, nv.y, nv.z, nv.w};
  const float wgt[4] = {wv.x, wv.y, wv.z, wv.w};
  float sum = 0.f;
  double taken = 0, self = 0;
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    c.t[j] = 0;
    c.q[j] = 0;
    double qj;
    if (!edge_probability(wgt[j], sum, taken, qj)) continue;
    const int32_t v = nbr[j];
    if (v < lo || v >= n) continue;  // dead end: teleports
    if (v == u) {
      self += qj;
    } else if (v > u) {
      c.acausal = true;
    } else {
      c.q[j] = keep * qj;
      c.t[j] = v;
    }
  }
  c.inv = self == 0 ? 1.0 : 1.0 / (1.0 - keep * self);
  return c;
}

__global__ void __launch_bounds__(32) pagerank_causal_kernel(PagerankParams p) {
  extern __shared__ __align__(16) unsigned char causal_smem[];
  const int64_t g = blockIdx.x;
  const int64_t graph = p.graphIds ? p.graphIds[g] : g;
  const int32_t stride = p.nodeStride > 1 ? p.nodeStride : 1;
  const int32_t n = clamp_nodes(p.numNodes[g], p.capacity);
  const int32_t lo = p.excludeBelow > 0 ? p.excludeBelow : 0;
  const int32_t window = p.startWindow < n - lo ? p.startWindow : n - lo;
  const int lane = threadIdx.x;
  double* out = p.result + g * p.capacity;
  if (window <= 0) {
    for (int32_t v = lane; v < p.capacity; v += 32) out[v] = 0;
    if (lane == 0) p.iterations[g] = 0;
    return;
  }
  double* y = reinterpret_cast<double*>(causal_smem);
  const int4* nb = reinterpret_cast<const int4*>(p.neighbors) + graph * p.capacity * stride;
  const float4* wt = reinterpret_cast<const float4*>(p.weights) + graph * p.capacity * stride;
  for (int32_t v = lane; v < n; v += 32) y[v] = (v >= n - window) ? start_mass(n - 1 - v, window) : 0.0;
  const double keep = 1.0 - static_cast<double>(p.teleportThreshold) * 0x1p-32;
  bool acausal = false;
  // this lane's node of the first chunk
  int4 nv = make_int4(-1, -1, -1, -1);
  float4 wv = make_float4(0.f, 0.f, 0.f, 0.f);
  if (n - 1 - lane >= lo) {
    nv = nb[static_cast<int64_t>(n - 1 - lane) * stride];
    wv = wt[static_cast<int64_t>(n - 1 - lane) * stride];
  }
  __syncwarp();
  for (int32_t top = n - 1; top >= lo; top -= 32) {
    const int32_t u = top - lane;
    const CausalNode c = decode_causal_node(nv, wv, u, lo, n, keep);
    acausal |= u >= lo && c.acausal;
    // the next chunk's node, requested before this chunk is swept
    if (u - 32 >= lo) {
      nv = nb[static_cast<int64_t>(u - 32) * stride];
      wv = wt[static_cast<int64_t>(u - 32) * stride];
    }
    const int32_t last = top - lo < 31 ? top - lo : 31;  // warp-uniform
    for (int k = 0; k <= last; ++k) {
      if (lane == k) {
        const double yu = y[u] * c.inv;
        y[u] = yu;
#pragma unroll
        for (int j = 0; j < 4; ++j)
          if (c.q[j] != 0.0) y[c.t[j]] += c.q[j] * yu;
      }
      __syncwarp();
    }
  }
  double sum = 0;
  for (int32_t v = lo + lane; v < n; v += 32) sum += y[v];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  const double inv = sum > 0 ? 1.0 / sum : 0.0;
  for (int32_t v = lane; v < p.capacity; v += 32) out[v] = (v >= lo && v < n) ? y[v] * inv : 0.0;
  acausal = __any_sync(0xffffffffu, acausal);
  if (lane == 0) p.iterations[g] = acausal ? -1 : 1;
}

}  // namespace kvwalk
