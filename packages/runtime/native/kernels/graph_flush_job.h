// One job of the lazy decode graph write (launch_graph_flush, native/src/prefill_score.cu): the pending
// decode rows row_lo .. T-1 of one (layer, sequence), whose graph nodes the prompt-scoring kernels
// (kernels/prefill_score.cuh, job mode) write from the bf16 query rows the decode steps stored. Plain
// data, shared by host and device code; offsets in elements of the launch's base pointers.
#pragma once
#include <cstdint>

namespace kvwalk::engine {

struct GraphFlushJob {
  int T;              // rows (slots) 0 .. T-1 exist; row t sees keys j <= t
  int row_lo;         // first pending row
  int64_t k_off;      // bf16 elements from the K base to the job's region [KVH, capacity, D]
  int64_t graph_off;  // 32-byte nodes from the graph base to the job's [graph heads, graph_capacity] nodes
  int64_t q_off;      // bf16 elements from the query ring base to the job's row row_lo of head 0
  int64_t lse_off;    // floats from the lse2 workspace base to the job's [H, lse_stride] rows
};

}  // namespace kvwalk::engine
