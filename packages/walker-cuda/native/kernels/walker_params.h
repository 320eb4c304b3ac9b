// Parameter blocks of the walker kernels (plain C++: shared by kernels, launchers and the binding).
#pragma once
#include <cstdint>

namespace kvwalk {

struct WalkParams {
  const int32_t* neighbors;  // [numGraphs, capacity, 4], 16-byte aligned
  const float* weights;      // [numGraphs, capacity, 4], 16-byte aligned
  const int32_t* numNodes;   // [numGraphs], device
  uint32_t* counts;          // [numGraphs, capacity], device, accumulated into (zero it first)
  int64_t numGraphs;
  int32_t capacity;
  uint32_t walkers;
  uint32_t steps;
  uint64_t teleportThreshold;  // floor(teleport * 2^32) in [0, 2^32]
  int32_t startWindow;         // >= 1
  int32_t excludeBelow;        // >= 0 (negative values act as 0)
  uint32_t seed;
  uint32_t graphIndexBase;
  // Distance between consecutive nodes in 16-byte units (global staging only): 0 or 1 = the separate
  // neighbour and weight arrays above; 2 = @kvwalk/graph-cache's 32-byte AoS nodes, with `weights`
  // pointing 16 bytes after `neighbors` (the engine walks the graph its attention kernel wrote).
  int32_t nodeStride;
};

struct PagerankParams {
  const int32_t* neighbors;  // [graphs, capacity, 4] (see nodeStride)
  const float* weights;      // [graphs, capacity, 4]
  const int32_t* numNodes;   // [numGraphs], by launch slot
  double* x;                 // [numGraphs, capacity] scratch
  double* y;                 // [numGraphs, capacity] scratch
  double* result;            // [numGraphs, capacity] the final distribution, by launch slot
  int32_t* iterations;       // [numGraphs] iterations run
  int64_t numGraphs;         // launch slots (one block each)
  int32_t capacity;
  uint64_t teleportThreshold;
  int32_t startWindow;
  int32_t excludeBelow;
  double tol;
  int32_t maxIter;
  // As WalkParams::nodeStride: 0 or 1 separate neighbour / weight arrays, 2 @kvwalk/graph-cache's
  // 32-byte AoS nodes with `weights` 16 bytes after `neighbors` (the engine's graph cache, in place).
  int32_t nodeStride;
  // Launch slot s reads graph graphIds[s] of the graph arrays (nullptr: graph s); numNodes, the
  // scratch, result and iterations stay indexed by slot (the engine ranks one sequence's graphs).
  const int64_t* graphIds;
};

}  // namespace kvwalk
