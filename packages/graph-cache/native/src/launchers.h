// Host-side declarations of the graph-cache launchers (native/src/*.cu). Includable from plain C++:
// only cuda_runtime.h types. Every launcher enqueues on `stream` and returns the launch error (no
// synchronization); sizes are validated by the caller (the binding).
#pragma once
#include <cuda_runtime.h>
#include <cstddef>
#include <cstdint>

namespace kvwalk {

// layout: 0 = AoS (32-byte node structs), 1 = SoA (see native/kernels/graph_layout.cuh).
cudaError_t launch_topk_writer(const float* probs, int rows, int n, const int* graph_ids, const int* nodes, void* graph, int num_graphs,
                               int capacity, int layout, cudaStream_t stream);

cudaError_t launch_compact(const uint8_t* keep, const void* src, void* dst, int* remap, int* kept, int num_graphs, int capacity, int layout,
                           cudaStream_t stream);

struct DecodeArgs {
  const float* q;        // [batch, num_heads, head_dim]
  const uint16_t* k;     // bf16 [batch, num_kv_heads, kv_capacity, head_dim]
  const uint16_t* v;     // bf16 [batch, num_kv_heads, kv_capacity, head_dim]
  const int* lengths;    // [batch], in [1, kv_capacity]
  const int* starts;     // [batch] first visible key (sliding window), or nullptr = 0
  float* out;            // [batch, num_heads, head_dim]
  uint16_t* out_bf16;    // optional bf16 copy of out [batch, num_heads, head_dim] (round to nearest even), or nullptr
  float* lse;            // [batch, num_heads], natural log
  int batch, num_heads, num_kv_heads, head_dim, kv_capacity;
  int max_length;        // max of lengths (host-side, sets the split size)
  float scale;
  int num_splits;        // >= 1 (see decode_choose_splits)
  float* workspace;      // decode_workspace_bytes(...) bytes, zeroed once before the first launch (each
                         // launch leaves its tickets at zero again)
  int workspace_batch;   // the batch the workspace was sized for (0: batch). The split tickets sit at the
                         // start of the workspace in a region of this many batch rows, so launches that
                         // share one workspace with different batch sizes or split counts never find
                         // another launch's partial results where their (zero) tickets should be.
  int grouped = 0;       // 1 = one block per KV head serving its num_heads / num_kv_heads query heads
                         // (decode_attention_gqa.cuh; groups of 2 or 4), 0 = one block per query head
  void* graph;           // nullptr: no graph write (the baseline kernel)
  const int* nodes;      // [batch] or nullptr (= lengths[b] - 1)
  int graph_capacity;
  int layout;
  float* logits = nullptr;       // deferred graph write (graph must be nullptr): every visible key's log2 logit,
                                 // [batch, num_heads, logits_stride], for launch_graph_select
  float* logits_lse2 = nullptr;  // [batch, num_heads] the final log2-sum-exp (with logits)
  int logits_stride = 0;         // >= kv_capacity
  bool pdl;              // programmatic dependent launch (compute capability >= 9.0; ignored below): the
                         // kernel requests its first K/V tile before waiting for the preceding kernel, so
                         // that kernel may only write q, out, lse, the graph and key lengths[b] - 1 of
                         // each sequence (the engine's RoPE + append), never lengths/starts/other keys.
};

// The split count of a decode launch: the grouped kernel (DecodeArgs::grouped: one block per sequence
// and KV head, 4 per SM), else the per-head kernel with the fused graph write (fused_graph: its own launch
// bound, 4 blocks per SM) or without it (7 per SM; also the deferred write's logit-storing kernel). Up to
// one wave of blocks fill the wave; beyond it >= 4 waves, or 1 split with the fused graph; at least 256
// keys per split; at most 256 splits.
int decode_choose_splits(bool grouped, bool fused_graph, int batch, int num_heads, int num_kv_heads, int max_length, int sm_count);
// Whether the grouped kernel has a shape: groups of 2 or 4 query heads per KV head, head dim 64 or 128.
bool decode_grouped_supported(int num_heads, int num_kv_heads, int head_dim);
// Whether a decode launch should take the grouped kernel. mode 0: never; 1: whenever it has the shape
// (groups of 2 or 4, head dim 64 or 128); 2 (auto): with the shape and at least 1.5 (sequence, KV head)
// pairs per SM. Measured on the H200 (Mistral-7B: 32 query heads over 8 KV heads, 132 SMs): at batch 32
// (256 pairs) faster with and without the graph write, at batch 8 (64 pairs) and 1 slower.
bool decode_use_grouped(int mode, int batch, int num_heads, int num_kv_heads, int head_dim, int sm_count);
// Whether a decode step with the graph write takes the deferred write (DecodeArgs::logits, then
// launch_graph_select on a side stream). mode 0: never (fused); 1: always; 2 (auto): when the step takes
// the grouped kernel or has fewer (sequence, query head) blocks than SMs, where the fused top-4 lengthens
// a latency-bound kernel. Measured on the H200 engine (7B shapes, 20 % budget, overhead of the walker
// policy over streaming, session 7): Llama-2-7B batch 1 deferred +0.7 % vs fused +1.8 %, batch 8 +5.1 vs
// +0.2 %, batch 32 +5.7 vs +1.8 %; Mistral-7B batch 1 +0.9 vs +2.2 %, batch 8 +5.3 vs +2.5 %, batch 32
// (grouped kernel) +8.1 vs +11.5 %.
bool decode_defer_graph(int mode, bool grouped, int batch, int num_heads, int sm_count);
size_t decode_workspace_bytes(int batch, int num_heads, int head_dim, int num_splits);
bool decode_head_dim_supported(int head_dim);
cudaError_t launch_decode_attention(const DecodeArgs& args, cudaStream_t stream);

// The deferred graph write's second half (native/kernels/graph_select.cuh): from the logits and
// log2-sum-exp a decode launch with DecodeArgs::logits stored, the top-4 of each (sequence, query head)
// into graph node nodes[b] (nullptr: lengths[b] - 1) of graph b * num_heads + h; bit-identical to the
// fused write at the same split count. May run on another stream, ordered after the decode launch.
struct GraphSelectArgs {
  const float* logits;  // [batch, num_heads, stride]
  const float* lse2;    // [batch, num_heads]
  int stride;
  const int* lengths;   // [batch], the decode launch's
  const int* starts;    // [batch] or nullptr
  const int* nodes;     // [batch] or nullptr
  int batch, num_heads;
  void* graph;
  int graph_capacity;
  int layout;
  // Query heads per graph: 1 = a graph per query head (the fused write's graphs); num_heads /
  // num_kv_heads (> 1) = a graph per KV head, graph b * (num_heads / group) + kvh, node = top-4 of the
  // group's summed probabilities (graph_select_group_kernel). num_heads must be a multiple.
  int group = 1;
};
cudaError_t launch_graph_select(const GraphSelectArgs& args, cudaStream_t stream);

// Benchmark helpers.
cudaError_t launch_fill_bf16(uint16_t* out, size_t n, uint32_t seed, cudaStream_t stream);
cudaError_t launch_fill_f32(float* out, size_t n, uint32_t seed, float amplitude, cudaStream_t stream);
cudaError_t launch_fill_u8(uint8_t* out, size_t n, uint32_t seed, float keep_fraction, cudaStream_t stream);
cudaError_t launch_fill_graph(void* graph, int num_graphs, int capacity, int layout, uint32_t seed, cudaStream_t stream);
cudaError_t launch_gather_walk(const void* graph, int num_graphs, int capacity, int layout, int walkers_per_graph, int steps, uint32_t seed,
                               int* sink, cudaStream_t stream);

}  // namespace kvwalk
