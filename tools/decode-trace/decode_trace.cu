// Standalone timing and per-block timeline of the per-head decode kernel (decode_attention.cuh), with and
// without the fused graph write, on synthetic data. No Node: built with nvcc alone, so a device without
// Node runs it (tools/decode-trace/build.sh). Two builds of this file:
//   - timing (default): the kernels as shipped, PDL launches back to back, CUDA events, both variants
//     alternating in one process (medians of repeated batches);
//   - trace (-DKVWALK_TRACE): thread 0 of every block (or the thread a mark names) records %globaltimer
//     and clock64 at the kernel's marks (KVWALK_DECODE_MARK / _BY in decode_attention.cuh; summarize.mjs
//     lists them); the last of three launches per variant leaves its marks.
// Output: one JSON object on stdout (summarize.mjs turns a trace into Markdown tables).
// Usage: decode_trace [batch=1] [length=4096] [splits=0: the library's rule] [heads=32] [reps=15] [iters=200]
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <algorithm>
#include <cuda_runtime.h>

#ifdef KVWALK_TRACE
constexpr int kMarks = 16;               // marks 0-14; slot 15 holds the SM id
__device__ unsigned long long* g_trace;  // [blocks][kMarks][2]: globaltimer, clock64
__device__ __forceinline__ void kvwalk_trace_mark(int i, unsigned thread = 0) {
  if (threadIdx.x != thread || !g_trace) return;
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  const long long c = clock64();
  const size_t blk = blockIdx.x + static_cast<size_t>(gridDim.x) * (blockIdx.y + static_cast<size_t>(gridDim.y) * blockIdx.z);
  g_trace[(blk * kMarks + i) * 2] = t;
  g_trace[(blk * kMarks + i) * 2 + 1] = static_cast<unsigned long long>(c);
  if (i == 0 && thread == 0) {
    unsigned smid;
    asm volatile("mov.u32 %0, %%smid;" : "=r"(smid));
    g_trace[(blk * kMarks + kMarks - 1) * 2] = smid;
  }
}
#define KVWALK_DECODE_MARK(i) kvwalk_trace_mark(i)
#define KVWALK_DECODE_MARK_BY(i, thread) kvwalk_trace_mark(i, thread)
#endif

// One translation unit with the library sources, so the marks above reach the kernels.
#include "decode_attention.cu"
#include "bench.cu"

#define CK(x)                                                                                   \
  do {                                                                                          \
    cudaError_t e_ = (x);                                                                       \
    if (e_ != cudaSuccess) {                                                                    \
      fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_));        \
      exit(1);                                                                                  \
    }                                                                                           \
  } while (0)

using namespace kvwalk;

int main(int argc, char** argv) {
  const int batch = argc > 1 ? atoi(argv[1]) : 1;
  const int length = argc > 2 ? atoi(argv[2]) : 4096;
  const int splits_arg = argc > 3 ? atoi(argv[3]) : 0;
  const int heads = argc > 4 ? atoi(argv[4]) : 32;
  const int reps = argc > 5 ? atoi(argv[5]) : 15;
  const int iters = argc > 6 ? atoi(argv[6]) : 200;
  const int D = 128, kvh = heads;
  int dev = 0, sms = 0;
  CK(cudaSetDevice(dev));
  CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  cudaStream_t st;
  CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  const size_t kv_elems = static_cast<size_t>(batch) * kvh * length * D;
  uint16_t *k, *v;
  float *q, *out, *lse, *ws;
  int *lengths;
  void* graph;
  CK(cudaMalloc(&k, kv_elems * 2));
  CK(cudaMalloc(&v, kv_elems * 2));
  CK(cudaMalloc(&q, sizeof(float) * batch * heads * D));
  CK(cudaMalloc(&out, sizeof(float) * batch * heads * D));
  CK(cudaMalloc(&lse, sizeof(float) * batch * heads));
  CK(cudaMalloc(&lengths, sizeof(int) * batch));
  CK(cudaMalloc(&graph, static_cast<size_t>(batch) * heads * length * 32));
  CK(launch_fill_bf16(k, kv_elems, 1, st));
  CK(launch_fill_bf16(v, kv_elems, 2, st));
  CK(launch_fill_f32(q, static_cast<size_t>(batch) * heads * D, 3, 1.f, st));
  std::vector<int> hl(batch, length);
  CK(cudaMemcpy(lengths, hl.data(), sizeof(int) * batch, cudaMemcpyHostToDevice));
  int splits[2];
  size_t ws_bytes = 0;
  for (int g = 0; g < 2; g++) {
    splits[g] = splits_arg > 0 ? splits_arg : decode_choose_splits(false, g == 1, batch, heads, kvh, length, sms);
    ws_bytes = std::max(ws_bytes, decode_workspace_bytes(batch, heads, D, splits[g]));
  }
  CK(cudaMalloc(&ws, ws_bytes));
  CK(cudaMemset(ws, 0, ws_bytes));
  auto args = [&](int g) {
    DecodeArgs a{};
    a.q = q; a.k = k; a.v = v; a.lengths = lengths; a.out = out; a.lse = lse;
    a.batch = batch; a.num_heads = heads; a.num_kv_heads = kvh; a.head_dim = D; a.kv_capacity = length; a.max_length = length;
    a.scale = 0.08838834764831845f; a.num_splits = splits[g]; a.workspace = ws; a.workspace_batch = batch;
    a.graph = g ? graph : nullptr; a.graph_capacity = length; a.layout = 0; a.pdl = true;
    return a;
  };
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  std::vector<double> t[2];
  for (int g = 0; g < 2; g++)
    for (int i = 0; i < iters; i++) CK(launch_decode_attention(args(g), st));
  for (int r = 0; r < reps; r++)
    for (int g = 0; g < 2; g++) {
      CK(cudaEventRecord(e0, st));
      for (int i = 0; i < iters; i++) CK(launch_decode_attention(args(g), st));
      CK(cudaEventRecord(e1, st));
      CK(cudaEventSynchronize(e1));
      float ms;
      CK(cudaEventElapsedTime(&ms, e0, e1));
      t[g].push_back(ms * 1e3 / iters);
    }
  printf("{\"batch\":%d,\"length\":%d,\"heads\":%d,\"sms\":%d,\"splits\":[%d,%d]", batch, length, heads, sms, splits[0], splits[1]);
  for (int g = 0; g < 2; g++) {
    std::sort(t[g].begin(), t[g].end());
    printf(",\"%s_us\":{\"median\":%.3f,\"min\":%.3f}", g ? "graph" : "base", t[g][t[g].size() / 2], t[g][0]);
  }
#ifdef KVWALK_TRACE
  for (int g = 0; g < 2; g++) {
    const size_t blocks = static_cast<size_t>(splits[g]) * heads * batch;
    unsigned long long* tr;
    CK(cudaMalloc(&tr, blocks * kMarks * 16));
    CK(cudaMemset(tr, 0, blocks * kMarks * 16));
    CK(cudaMemcpyToSymbol(g_trace, &tr, sizeof(tr)));
    // three launches, PDL back to back; the last one leaves its marks (marks 5-14 of blocks that were a tail only in an
    // earlier launch are stale: older than every block start of the last launch)
    for (int i = 0; i < 3; i++) CK(launch_decode_attention(args(g), st));
    CK(cudaStreamSynchronize(st));
    std::vector<unsigned long long> h(blocks * kMarks * 2);
    CK(cudaMemcpy(h.data(), tr, h.size() * 8, cudaMemcpyDeviceToHost));
    unsigned long long* null = nullptr;
    CK(cudaMemcpyToSymbol(g_trace, &null, sizeof(null)));
    CK(cudaFree(tr));
    printf(",\"%s_trace\":[", g ? "graph" : "base");
    for (size_t b = 0; b < blocks; b++) {
      printf("%s[", b ? "," : "");
      for (int m = 0; m < kMarks * 2; m++) printf("%s%llu", m ? "," : "", h[b * kMarks * 2 + m]);
      printf("]");
    }
    printf("]");
  }
#endif
  printf("}\n");
  CK(cudaDeviceSynchronize());
  return 0;
}
