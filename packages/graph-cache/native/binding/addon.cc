// Node-API binding of @kvwalk/graph-cache: the only node-addon-api code of the package.
// Every entry point validates its arguments (TypeError/RangeError naming the parameter, expected and
// received), copies JS typed arrays to device buffers, launches on the addon's stream, copies back and
// synchronizes. CUDA failures become JS errors carrying the kernel name and CUDA's message
// (properties: code "KVWALK_CUDA", operation, cudaMessage); nothing aborts the process.
#include <napi.h>
#include <kvwalk/args.h>
#include <kvwalk/probe.h>

#include <cmath>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#ifdef KVWALK_WITH_CUDA
#include "launchers.h"
#endif

namespace {


[[noreturn]] void throw_arg(Napi::Env env, const std::string& name, const std::string& expected, const Napi::Value& got, bool range = false) {
  kvwalk::throw_invalid_argument(env, name, expected, got, range);
}

int get_int(const Napi::Object& o, const char* name, long long lo, long long hi) {
  Napi::Value v = o.Get(name);
  if (!v.IsNumber()) throw_arg(o.Env(), name, "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]", v);
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d == std::floor(d)) || d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
    throw_arg(o.Env(), name, "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]", v, true);
  }
  return static_cast<int>(d);
}

double get_number(const Napi::Object& o, const char* name) {
  Napi::Value v = o.Get(name);
  if (!v.IsNumber() || !std::isfinite(v.As<Napi::Number>().DoubleValue())) throw_arg(o.Env(), name, "a finite number", v);
  return v.As<Napi::Number>().DoubleValue();
}

template <typename T>
struct TypeName;
template <> struct TypeName<float> { static constexpr napi_typedarray_type type = napi_float32_array; static constexpr const char* name = "Float32Array"; };
template <> struct TypeName<int32_t> { static constexpr napi_typedarray_type type = napi_int32_array; static constexpr const char* name = "Int32Array"; };
template <> struct TypeName<uint16_t> { static constexpr napi_typedarray_type type = napi_uint16_array; static constexpr const char* name = "Uint16Array"; };
template <> struct TypeName<uint8_t> { static constexpr napi_typedarray_type type = napi_uint8_array; static constexpr const char* name = "Uint8Array"; };

// A typed array field of `o` with exactly `len` elements.
template <typename T>
T* get_array(const Napi::Object& o, const char* name, size_t len) {
  Napi::Value v = o.Get(name);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != TypeName<T>::type ||
      v.As<Napi::TypedArray>().ElementLength() != len) {
    throw_arg(o.Env(), name, std::string(TypeName<T>::name) + " of length " + std::to_string(len), v);
  }
  return v.As<Napi::TypedArrayOf<T>>().Data();
}

template <typename T>
T* get_array_any(const Napi::Object& o, const char* name, size_t& len) {
  Napi::Value v = o.Get(name);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != TypeName<T>::type) {
    throw_arg(o.Env(), name, std::string("a ") + TypeName<T>::name, v);
  }
  len = v.As<Napi::TypedArray>().ElementLength();
  return v.As<Napi::TypedArrayOf<T>>().Data();
}

Napi::Object args_object(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsObject()) throw_arg(info.Env(), "args", "an object", info.Length() ? info[0] : info.Env().Undefined());
  return info[0].As<Napi::Object>();
}

#ifdef KVWALK_WITH_CUDA

[[noreturn]] void throw_cuda(Napi::Env env, cudaError_t err, const std::string& op) {
  const std::string cuda_msg = std::string(cudaGetErrorName(err)) + " (" + cudaGetErrorString(err) + ")";
  Napi::Error e = Napi::Error::New(env, "CUDA error in " + op + ": " + cuda_msg);
  e.Set("code", Napi::String::New(env, "KVWALK_CUDA"));
  e.Set("operation", Napi::String::New(env, op));
  e.Set("cudaMessage", Napi::String::New(env, cuda_msg));
  cudaGetLastError();  // clear a non-sticky error so later calls can proceed
  throw e;
}

void check(Napi::Env env, cudaError_t err, const std::string& op) {
  if (err != cudaSuccess) throw_cuda(env, err, op);
}

// Owns one device allocation; freed on scope exit (also when a JS exception unwinds).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(Napi::Env env, size_t bytes, const char* what) : bytes_(bytes) {
    if (bytes > 0) check(env, cudaMalloc(&ptr_, bytes), std::string("cudaMalloc(") + what + ", " + std::to_string(bytes) + " bytes)");
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) { o.ptr_ = nullptr; }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      if (ptr_) cudaFree(ptr_);
      ptr_ = o.ptr_;
      bytes_ = o.bytes_;
      o.ptr_ = nullptr;
    }
    return *this;
  }
  ~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);
  }
  template <typename T = void>
  T* get() const { return static_cast<T*>(ptr_); }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

cudaStream_t stream(Napi::Env env) {
  static cudaStream_t s = nullptr;
  if (!s) check(env, cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
  return s;
}

int sm_count() {
  static int n = 0;
  if (n == 0) {
    int dev = 0;
    cudaGetDevice(&dev);
    cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev);
  }
  return n;
}

void upload(Napi::Env env, DeviceBuffer& d, const void* src, size_t bytes, const char* what) {
  if (bytes) check(env, cudaMemcpyAsync(d.get(), src, bytes, cudaMemcpyHostToDevice, stream(env)), std::string("cudaMemcpy H2D ") + what);
}

void download(Napi::Env env, void* dst, const DeviceBuffer& d, size_t bytes, const char* what) {
  if (bytes) check(env, cudaMemcpyAsync(dst, d.get(), bytes, cudaMemcpyDeviceToHost, stream(env)), std::string("cudaMemcpy D2H ") + what);
}

void sync(Napi::Env env, const std::string& op) { check(env, cudaStreamSynchronize(stream(env)), op); }

// Host SoA arrays (neighbors int [nodes*4], weights float [nodes*4]) <-> device layout bytes.
std::vector<uint8_t> pack_graph(const int32_t* nb, const float* w, size_t nodes, int layout) {
  std::vector<uint8_t> out(nodes * 32);
  if (layout == 0) {
    for (size_t i = 0; i < nodes; i++) {
      std::memcpy(&out[i * 32], nb + i * 4, 16);
      std::memcpy(&out[i * 32 + 16], w + i * 4, 16);
    }
  } else if (nodes) {
    std::memcpy(out.data(), nb, nodes * 16);
    std::memcpy(out.data() + nodes * 16, w, nodes * 16);
  }
  return out;
}

void unpack_graph(const std::vector<uint8_t>& in, int32_t* nb, float* w, size_t nodes, int layout) {
  if (layout == 0) {
    for (size_t i = 0; i < nodes; i++) {
      std::memcpy(nb + i * 4, &in[i * 32], 16);
      std::memcpy(w + i * 4, &in[i * 32 + 16], 16);
    }
  } else if (nodes) {
    std::memcpy(nb, in.data(), nodes * 16);
    std::memcpy(w, in.data() + nodes * 16, nodes * 16);
  }
}

const char* layout_name(int layout) { return layout == 0 ? "AoS" : "SoA"; }

// writeTopK({ probs, n, graphIds, nodes, neighbors, weights, numGraphs, capacity, layout }):
// neighbors/weights (the batch, [numGraphs, capacity, 4]) are updated in place.
Napi::Value WriteTopK(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object a = args_object(info);
  const int n = get_int(a, "n", 0, 1 << 30);
  const int num_graphs = get_int(a, "numGraphs", 0, 1 << 24);
  const int capacity = get_int(a, "capacity", 0, 1 << 28);
  const int layout = get_int(a, "layout", 0, 1);
  size_t rows_sz = 0;
  const int32_t* gids = get_array_any<int32_t>(a, "graphIds", rows_sz);
  const size_t rows = rows_sz;
  const int32_t* nodes = get_array<int32_t>(a, "nodes", rows);
  const float* probs = get_array<float>(a, "probs", rows * static_cast<size_t>(n));
  const size_t total = static_cast<size_t>(num_graphs) * capacity;
  int32_t* nb = get_array<int32_t>(a, "neighbors", total * 4);
  float* w = get_array<float>(a, "weights", total * 4);
  std::unordered_set<long long> seen;
  for (size_t r = 0; r < rows; r++) {
    if (gids[r] < 0 || gids[r] >= num_graphs) throw_arg(env, "graphIds[" + std::to_string(r) + "]", "an integer in [0, numGraphs)", Napi::Number::New(env, gids[r]), true);
    if (nodes[r] < 0 || nodes[r] >= capacity) throw_arg(env, "nodes[" + std::to_string(r) + "]", "an integer in [0, capacity)", Napi::Number::New(env, nodes[r]), true);
    if (!seen.insert(static_cast<long long>(gids[r]) * capacity + nodes[r]).second) {
      throw_arg(env, "nodes[" + std::to_string(r) + "]", "a (graphId, node) pair not used by an earlier row", Napi::Number::New(env, nodes[r]), true);
    }
  }
  if (rows == 0 || total == 0) return env.Undefined();
  std::vector<uint8_t> host = pack_graph(nb, w, total, layout);
  DeviceBuffer d_probs(env, rows * n * sizeof(float), "probs"), d_g(env, rows * 4, "graphIds"), d_n(env, rows * 4, "nodes"),
      d_graph(env, host.size(), "graph");
  upload(env, d_probs, probs, d_probs.bytes(), "probs");
  upload(env, d_g, gids, rows * 4, "graphIds");
  upload(env, d_n, nodes, rows * 4, "nodes");
  upload(env, d_graph, host.data(), host.size(), "graph");
  const std::string op = std::string("topk_writer_kernel<") + layout_name(layout) + ">";
  check(env, kvwalk::launch_topk_writer(d_probs.get<float>(), static_cast<int>(rows), n, d_g.get<int>(), d_n.get<int>(), d_graph.get(),
                                        num_graphs, capacity, layout, stream(env)),
        op);
  download(env, host.data(), d_graph, host.size(), "graph");
  sync(env, op);
  unpack_graph(host, nb, w, total, layout);
  return env.Undefined();
}

// compact({ neighbors, weights, numGraphs, capacity, keep, layout, outNeighbors, outWeights, kept })
Napi::Value Compact(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object a = args_object(info);
  const int num_graphs = get_int(a, "numGraphs", 0, 1 << 24);
  const int capacity = get_int(a, "capacity", 0, 1 << 28);
  const int layout = get_int(a, "layout", 0, 1);
  const size_t total = static_cast<size_t>(num_graphs) * capacity;
  const int32_t* nb = get_array<int32_t>(a, "neighbors", total * 4);
  const float* w = get_array<float>(a, "weights", total * 4);
  const uint8_t* keep = get_array<uint8_t>(a, "keep", total);
  int32_t* onb = get_array<int32_t>(a, "outNeighbors", total * 4);
  float* ow = get_array<float>(a, "outWeights", total * 4);
  int32_t* kept = get_array<int32_t>(a, "kept", num_graphs);
  if (num_graphs == 0) return env.Undefined();
  std::vector<uint8_t> host = pack_graph(nb, w, total, layout);
  DeviceBuffer d_keep(env, total, "keep"), d_src(env, host.size(), "graph"), d_dst(env, host.size(), "graph out"),
      d_remap(env, total * 4, "remap"), d_kept(env, static_cast<size_t>(num_graphs) * 4, "kept");
  upload(env, d_keep, keep, total, "keep");
  upload(env, d_src, host.data(), host.size(), "graph");
  const std::string op = std::string("compact_kernel<") + layout_name(layout) + ">";
  check(env, kvwalk::launch_compact(d_keep.get<uint8_t>(), d_src.get(), d_dst.get(), d_remap.get<int>(), d_kept.get<int>(), num_graphs, capacity,
                                    layout, stream(env)),
        op);
  download(env, host.data(), d_dst, host.size(), "graph out");
  download(env, kept, d_kept, static_cast<size_t>(num_graphs) * 4, "kept");
  sync(env, op);
  unpack_graph(host, onb, ow, total, layout);
  return env.Undefined();
}

// decodeAttention({ q, k, v, lengths, out, lse, batch, numHeads, numKvHeads, headDim, kvCapacity, scale,
//   numSplits (0 = auto), layout, [graphNeighbors, graphWeights, graphCapacity, nodes, graphWrite], [outBf16], [pdl] })
//   -> { numSplits }. graphWrite: 0 = fused (the top-4 tracked in the attention kernel), 1 = deferred (the
//   kernel stores its logits, graph_select_kernel writes the nodes; same stream here).
// The decode launch plan (host heuristics only, no device call): which kernel and how many splits the
// launchers and the engine choose for a shape. { batch, numHeads, numKvHeads, headDim, maxLength,
// writeGraph 0/1, groupedMode 0 never / 1 where possible / 2 auto, [graphWriteMode 0 fused / 1 deferred /
// 2 auto], smCount } -> { grouped, deferred, numSplits }.
Napi::Value DecodePlan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw_arg(env, "args", "an object", info.Length() ? info[0] : env.Undefined());
  Napi::Object o = info[0].As<Napi::Object>();
  const int batch = get_int(o, "batch", 1, 1 << 20), heads = get_int(o, "numHeads", 1, 4096), kvh = get_int(o, "numKvHeads", 1, 4096);
  const int d = get_int(o, "headDim", 1, 4096), len = get_int(o, "maxLength", 1, 1 << 24);
  const bool graph = get_int(o, "writeGraph", 0, 1) == 1;
  const int mode = get_int(o, "groupedMode", 0, 2), sms = get_int(o, "smCount", 1, 100000);
  const int write_mode = o.Get("graphWriteMode").IsUndefined() ? 0 : get_int(o, "graphWriteMode", 0, 2);
  if (heads % kvh != 0) throw_arg(env, "numHeads", "a multiple of numKvHeads", o.Get("numHeads"));
  const bool grouped = kvwalk::decode_use_grouped(mode, batch, heads, kvh, d, sms);
  const bool deferred = graph && kvwalk::decode_defer_graph(write_mode, grouped, batch, heads, sms);
  const int splits = kvwalk::decode_choose_splits(grouped, graph && !deferred, batch, heads, kvh, len, sms);
  Napi::Object r = Napi::Object::New(env);
  r.Set("grouped", Napi::Boolean::New(env, grouped));
  r.Set("deferred", Napi::Boolean::New(env, deferred));
  r.Set("numSplits", Napi::Number::New(env, splits));
  return r;
}

Napi::Value DecodeAttention(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object a = args_object(info);
  const int batch = get_int(a, "batch", 1, 1 << 16);
  const int num_heads = get_int(a, "numHeads", 1, 1 << 12);
  const int num_kv_heads = get_int(a, "numKvHeads", 1, num_heads);
  if (num_heads % num_kv_heads != 0) throw_arg(env, "numKvHeads", "a divisor of numHeads", a.Get("numKvHeads"), true);
  const int d = get_int(a, "headDim", 1, 1024);
  if (!kvwalk::decode_head_dim_supported(d)) throw_arg(env, "headDim", "one of 32, 64, 128, 256", a.Get("headDim"), true);
  const int cap = get_int(a, "kvCapacity", 1, 1 << 24);
  const double scale = get_number(a, "scale");
  int splits = get_int(a, "numSplits", 0, 256);
  const int layout = get_int(a, "layout", 0, 1);
  const size_t q_len = static_cast<size_t>(batch) * num_heads * d;
  const size_t kv_len = static_cast<size_t>(batch) * num_kv_heads * cap * d;
  const float* q = get_array<float>(a, "q", q_len);
  const uint16_t* k = get_array<uint16_t>(a, "k", kv_len);
  const uint16_t* v = get_array<uint16_t>(a, "v", kv_len);
  const int32_t* lengths = get_array<int32_t>(a, "lengths", batch);
  float* out = get_array<float>(a, "out", q_len);
  float* lse = get_array<float>(a, "lse", static_cast<size_t>(batch) * num_heads);
  uint16_t* out_bf16 = a.Get("outBf16").IsUndefined() ? nullptr : get_array<uint16_t>(a, "outBf16", q_len);
  const bool pdl = a.Get("pdl").IsUndefined() ? false : get_int(a, "pdl", 0, 1) == 1;
  const bool grouped = a.Get("grouped").IsUndefined() ? false : get_int(a, "grouped", 0, 1) == 1;
  if (grouped && !kvwalk::decode_grouped_supported(num_heads, num_kv_heads, d)) {
    throw_arg(env, "grouped", "0 unless numHeads / numKvHeads is 2 or 4 and headDim is 64 or 128 (the grouped kernel's shapes)", a.Get("grouped"), true);
  }
  int max_len = 0;
  for (int b = 0; b < batch; b++) {
    if (lengths[b] < 1 || lengths[b] > cap) throw_arg(env, "lengths[" + std::to_string(b) + "]", "an integer in [1, kvCapacity]", Napi::Number::New(env, lengths[b]), true);
    max_len = lengths[b] > max_len ? lengths[b] : max_len;
  }
  const bool with_graph = !a.Get("graphNeighbors").IsUndefined();
  const bool deferred = with_graph && !a.Get("graphWrite").IsUndefined() && get_int(a, "graphWrite", 0, 1) == 1;
  int gcap = 0;
  int32_t* gnb = nullptr;
  float* gw = nullptr;
  const int32_t* nodes = nullptr;
  size_t gnodes = 0;
  // Query heads per graph: 1 (a graph per query head) or numHeads / numKvHeads (a graph per KV head,
  // written by the deferred selection only).
  const int group = a.Get("graphGroup").IsUndefined() ? 1 : get_int(a, "graphGroup", 1, num_heads);
  if (group != 1 && group != num_heads / num_kv_heads) {
    throw_arg(env, "graphGroup", "1 or numHeads / numKvHeads (" + std::to_string(num_heads / num_kv_heads) + ")", a.Get("graphGroup"), true);
  }
  if (group != 1 && !deferred) throw_arg(env, "graphGroup", "1 unless graphWrite is 1 (deferred): per-KV-head nodes need every head's final log-sum-exp", a.Get("graphGroup"), true);
  if (with_graph) {
    gcap = get_int(a, "graphCapacity", 1, 1 << 28);
    gnodes = static_cast<size_t>(batch) * (num_heads / group) * gcap;
    gnb = get_array<int32_t>(a, "graphNeighbors", gnodes * 4);
    gw = get_array<float>(a, "graphWeights", gnodes * 4);
    if (!a.Get("nodes").IsUndefined()) nodes = get_array<int32_t>(a, "nodes", batch);
    for (int b = 0; b < batch; b++) {
      const int node = nodes ? nodes[b] : lengths[b] - 1;
      if (node < 0 || node >= gcap) throw_arg(env, nodes ? "nodes[" + std::to_string(b) + "]" : "lengths[" + std::to_string(b) + "] - 1 (default node)", "an integer in [0, graphCapacity)", Napi::Number::New(env, node), true);
    }
  }
  if (splits == 0) {
    splits = kvwalk::decode_choose_splits(grouped, with_graph && !deferred, batch, num_heads, num_kv_heads, max_len, sm_count());
  }
  DeviceBuffer d_q(env, q_len * 4, "q"), d_k(env, kv_len * 2, "k"), d_v(env, kv_len * 2, "v"), d_len(env, batch * 4, "lengths"),
      d_out(env, q_len * 4, "out"), d_lse(env, static_cast<size_t>(batch) * num_heads * 4, "lse"),
      d_ws(env, kvwalk::decode_workspace_bytes(batch, num_heads, d, splits), "workspace");
  DeviceBuffer d_out_bf16;
  if (out_bf16) d_out_bf16 = DeviceBuffer(env, q_len * 2, "outBf16");
  upload(env, d_q, q, q_len * 4, "q");
  upload(env, d_k, k, kv_len * 2, "k");
  upload(env, d_v, v, kv_len * 2, "v");
  upload(env, d_len, lengths, batch * 4, "lengths");
  std::vector<uint8_t> host;
  DeviceBuffer d_graph, d_nodes;
  if (with_graph) {
    host = pack_graph(gnb, gw, gnodes, layout);
    d_graph = DeviceBuffer(env, host.size(), "graph");
    upload(env, d_graph, host.data(), host.size(), "graph");
    if (nodes) {
      d_nodes = DeviceBuffer(env, batch * 4, "nodes");
      upload(env, d_nodes, nodes, batch * 4, "nodes");
    }
  }
  kvwalk::DecodeArgs da{};
  da.q = d_q.get<float>();
  da.k = d_k.get<uint16_t>();
  da.v = d_v.get<uint16_t>();
  da.lengths = d_len.get<int>();
  da.out = d_out.get<float>();
  da.out_bf16 = out_bf16 ? d_out_bf16.get<uint16_t>() : nullptr;
  da.lse = d_lse.get<float>();
  da.pdl = pdl;
  da.grouped = grouped ? 1 : 0;
  da.batch = batch;
  da.num_heads = num_heads;
  da.num_kv_heads = num_kv_heads;
  da.head_dim = d;
  da.kv_capacity = cap;
  da.max_length = max_len;
  da.scale = static_cast<float>(scale);
  da.num_splits = splits;
  da.workspace = d_ws.get<float>();
  da.graph = with_graph && !deferred ? d_graph.get() : nullptr;
  da.nodes = nodes ? d_nodes.get<int>() : nullptr;
  da.graph_capacity = gcap;
  da.layout = layout;
  DeviceBuffer d_logits, d_lse2;
  if (deferred) {
    d_logits = DeviceBuffer(env, static_cast<size_t>(batch) * num_heads * cap * 4, "logits");
    d_lse2 = DeviceBuffer(env, static_cast<size_t>(batch) * num_heads * 4, "logitsLse2");
    da.logits = d_logits.get<float>();
    da.logits_lse2 = d_lse2.get<float>();
    da.logits_stride = cap;
  }
  const std::string op = std::string(grouped ? "decode_attention_gqa_kernel<" : "decode_attention_kernel<") + std::to_string(d) +
                         (!with_graph ? std::string(", no graph") : deferred ? std::string(", logits") : std::string(", graph ") + layout_name(layout)) + ">" +
                         (splits > 1 ? " (split-K, " + std::to_string(splits) + " splits)" : "");
  if (d_ws.bytes()) check(env, cudaMemsetAsync(d_ws.get(), 0, d_ws.bytes(), stream(env)), "cudaMemset workspace");
  check(env, kvwalk::launch_decode_attention(da, stream(env)), op);
  if (deferred) {
    kvwalk::GraphSelectArgs ga{da.logits, da.logits_lse2, cap, da.lengths, nullptr, da.nodes, batch, num_heads, d_graph.get(), gcap, layout, group};
    check(env, kvwalk::launch_graph_select(ga, stream(env)), std::string(group > 1 ? "graph_select_group_kernel<" : "graph_select_kernel<") + layout_name(layout) + ">");
  }
  download(env, out, d_out, q_len * 4, "out");
  download(env, lse, d_lse, d_lse.bytes(), "lse");
  if (out_bf16) download(env, out_bf16, d_out_bf16, q_len * 2, "outBf16");
  if (with_graph) download(env, host.data(), d_graph, host.size(), "graph");
  sync(env, op);
  if (with_graph) unpack_graph(host, gnb, gw, gnodes, layout);
  Napi::Object r = Napi::Object::New(env);
  r.Set("numSplits", splits);
  return r;
}

// ---- benchmark sessions: device-resident inputs, CUDA-event timing of back-to-back launches ----
struct BenchSession {
  std::deque<DeviceBuffer> buffers;  // deque: references stay valid as buffers are added
  std::function<cudaError_t(cudaStream_t, int)> launch;  // (stream, launch index)
  std::function<cudaError_t(cudaStream_t)> finish;       // optional: joins side work into the stream before the end event
  cudaStream_t side = nullptr;                           // optional side stream (deferred graph write), owned
  std::vector<cudaEvent_t> events;                       // owned
  ~BenchSession() {
    if (side) cudaStreamSynchronize(side);
    for (cudaEvent_t e : events) cudaEventDestroy(e);
    if (side) cudaStreamDestroy(side);
  }
  std::string op;
  double bytes = 0;  // bytes one launch must move (the roofline numerator)
  int splits = 0;
};
std::map<int, std::unique_ptr<BenchSession>> sessions;
int next_session = 1;

DeviceBuffer& add(Napi::Env env, BenchSession& s, size_t bytes, const char* what) {
  s.buffers.emplace_back(env, bytes, what);
  return s.buffers.back();
}

// benchCreate(kind, opts) -> id. kinds: "decode", "memcpy", "compact", "topk", "gather".
Napi::Value BenchCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsObject()) throw Napi::TypeError::New(env, "Expected (kind: string, opts: object) for benchCreate");
  const std::string kind = info[0].As<Napi::String>().Utf8Value();
  Napi::Object o = info[1].As<Napi::Object>();
  auto s = std::make_unique<BenchSession>();
  cudaStream_t st = stream(env);
  if (kind == "decode") {
    const int batch = get_int(o, "batch", 1, 1 << 12), heads = get_int(o, "numHeads", 1, 1 << 12), kvh = get_int(o, "numKvHeads", 1, heads);
    const int d = get_int(o, "headDim", 32, 256), len = get_int(o, "length", 1, 1 << 22), layout = get_int(o, "layout", 0, 1);
    // writeGraph: 0 none, 1 fused, 2 deferred with the top-4 selection on a side stream (forked after
    // every launch, joined at the end; a ring of kRing logits buffers), 3 deferred on the same stream;
    // attribution of the deferred write: 4 the logit-storing kernel alone (no selection), 5 the selection
    // kernel alone (over logits stored once at setup).
    const int graph_mode = get_int(o, "writeGraph", 0, 5);
    const bool graph = graph_mode == 1;
    const bool deferred = graph_mode >= 2;
    const bool pdl = o.Get("pdl").IsUndefined() ? false : get_int(o, "pdl", 0, 1) == 1;
    const bool grouped = o.Get("grouped").IsUndefined() ? false : get_int(o, "grouped", 0, 1) == 1;
    int splits = get_int(o, "numSplits", 0, 256);
    // graphPerKvHead: the deferred modes select one node per (sequence, KV head) from the group's summed probabilities.
    const bool per_kv = o.Get("graphPerKvHead").IsUndefined() ? false : get_int(o, "graphPerKvHead", 0, 1) == 1;
    if (per_kv && !deferred) throw Napi::RangeError::New(env, "graphPerKvHead needs a deferred writeGraph mode (2, 3 or 5)");
    if (!kvwalk::decode_head_dim_supported(d) || heads % kvh) throw Napi::RangeError::New(env, "unsupported decode bench shape");
    if (grouped && !kvwalk::decode_grouped_supported(heads, kvh, d)) throw Napi::RangeError::New(env, "unsupported grouped decode bench shape");
    if (splits == 0) splits = kvwalk::decode_choose_splits(grouped, graph, batch, heads, kvh, len, sm_count());
    const size_t kv = static_cast<size_t>(batch) * kvh * len * d;
    // Enough copies of K/V that the working set is >= 4x the 50 MB L2: every launch streams from HBM.
    const int copies = static_cast<int>(std::min<size_t>(8, std::max<size_t>(1, (size_t(256) << 20) / (kv * 4) + 1)));
    std::vector<uint16_t*> ks, vs;
    for (int c = 0; c < copies; c++) {
      ks.push_back(add(env, *s, kv * 2, "k").get<uint16_t>());
      vs.push_back(add(env, *s, kv * 2, "v").get<uint16_t>());
      check(env, kvwalk::launch_fill_bf16(ks.back(), kv, 1 + 2 * c, st), "fill_bf16_kernel");
      check(env, kvwalk::launch_fill_bf16(vs.back(), kv, 2 + 2 * c, st), "fill_bf16_kernel");
    }
    const size_t qn = static_cast<size_t>(batch) * heads * d;
    float* q = add(env, *s, qn * 4, "q").get<float>();
    check(env, kvwalk::launch_fill_f32(q, qn, 99, 4.f, st), "fill_f32_kernel");
    int* lengths = add(env, *s, batch * 4, "lengths").get<int>();
    std::vector<int> hl(batch, len);
    check(env, cudaMemcpy(lengths, hl.data(), batch * 4, cudaMemcpyHostToDevice), "cudaMemcpy lengths");
    float* out = add(env, *s, qn * 4, "out").get<float>();
    float* lse = add(env, *s, static_cast<size_t>(batch) * heads * 4, "lse").get<float>();
    DeviceBuffer& wsb = add(env, *s, kvwalk::decode_workspace_bytes(batch, heads, d, splits), "workspace");
    float* ws = wsb.get<float>();
    if (wsb.bytes()) check(env, cudaMemset(ws, 0, wsb.bytes()), "cudaMemset workspace");
    void* g = graph || deferred ? add(env, *s, static_cast<size_t>(batch) * heads * len * 32, "graph").get() : nullptr;
    if (g) check(env, cudaMemset(g, 0xff, static_cast<size_t>(batch) * heads * len * 32), "cudaMemset graph");
    constexpr int kRing = 4;
    std::vector<float*> logits, lse2;
    if (deferred) {
      for (int r = 0; r < kRing; r++) {
        logits.push_back(add(env, *s, static_cast<size_t>(batch) * heads * len * 4, "logits").get<float>());
        lse2.push_back(add(env, *s, static_cast<size_t>(batch) * heads * 4, "logits lse2").get<float>());
      }
    }
    if (graph_mode == 2) {
      check(env, cudaStreamCreateWithFlags(&s->side, cudaStreamNonBlocking), "cudaStreamCreate");
      for (int r = 0; r < 2 * kRing; r++) {
        cudaEvent_t e;
        check(env, cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreate");
        s->events.push_back(e);
      }
    }
    kvwalk::DecodeArgs da{};
    da.q = q; da.lengths = lengths; da.out = out; da.lse = lse;
    da.batch = batch; da.num_heads = heads; da.num_kv_heads = kvh; da.head_dim = d; da.kv_capacity = len; da.max_length = len;
    da.scale = 1.f / std::sqrt(static_cast<float>(d)); da.num_splits = splits; da.workspace = ws;
    da.graph = graph ? g : nullptr; da.nodes = nullptr; da.graph_capacity = len; da.layout = layout; da.pdl = pdl; da.grouped = grouped ? 1 : 0;
    kvwalk::GraphSelectArgs ga{nullptr, nullptr, len, lengths, nullptr, nullptr, batch, heads, g, len, layout, per_kv ? heads / kvh : 1};
    BenchSession* sp = s.get();
    s->launch = [da, ga, ks, vs, logits, lse2, graph_mode, sp](cudaStream_t stream, int i) {
      kvwalk::DecodeArgs x = da;
      x.k = ks[i % ks.size()];
      x.v = vs[i % vs.size()];
      if (graph_mode < 2) return kvwalk::launch_decode_attention(x, stream);
      const int r = i % kRing;
      kvwalk::GraphSelectArgs y = ga;
      x.logits = logits[r];
      x.logits_lse2 = lse2[r];
      x.logits_stride = ga.stride;
      y.logits = logits[r];
      y.lse2 = lse2[r];
      if (graph_mode == 3) {
        cudaError_t e = kvwalk::launch_decode_attention(x, stream);
        return e != cudaSuccess ? e : kvwalk::launch_graph_select(y, stream);
      }
      if (graph_mode == 4) return kvwalk::launch_decode_attention(x, stream);
      if (graph_mode == 5) return kvwalk::launch_graph_select(y, stream);
      // Side stream: launch i may overwrite ring slot r only once launch i - kRing's selection is done.
      cudaEvent_t fork = sp->events[r], done = sp->events[kRing + r];
      cudaError_t e = i >= kRing ? cudaStreamWaitEvent(stream, done, 0) : cudaSuccess;
      if (e == cudaSuccess) e = kvwalk::launch_decode_attention(x, stream);
      if (e == cudaSuccess) e = cudaEventRecord(fork, stream);
      if (e == cudaSuccess) e = cudaStreamWaitEvent(sp->side, fork, 0);
      if (e == cudaSuccess) e = kvwalk::launch_graph_select(y, sp->side);
      if (e == cudaSuccess) e = cudaEventRecord(done, sp->side);
      return e;
    };
    if (graph_mode == 2) {
      s->finish = [sp](cudaStream_t stream) {
        cudaError_t e = cudaEventRecord(sp->events[0], sp->side);
        return e != cudaSuccess ? e : cudaStreamWaitEvent(stream, sp->events[0], 0);
      };
    }
    s->bytes = static_cast<double>(kv) * 4 + qn * 8;
    s->splits = splits;
    if (graph_mode == 5) {
      // logits to select from: one launch of the storing kernel per ring slot
      for (int r = 0; r < kRing; r++) {
        kvwalk::DecodeArgs x = da;
        x.k = ks[r % ks.size()];
        x.v = vs[r % vs.size()];
        x.logits = logits[r];
        x.logits_lse2 = lse2[r];
        x.logits_stride = len;
        check(env, kvwalk::launch_decode_attention(x, st), "decode_attention_kernel (logits for the selection bench)");
      }
    }
    s->op = graph_mode == 5 ? std::string(per_kv ? "graph_select_group_kernel" : "graph_select_kernel")
                            : std::string(grouped ? "decode_attention_gqa_kernel<" : "decode_attention_kernel<") + std::to_string(d) +
                                  (graph ? ", graph>" : graph_mode == 4 ? ", logits>" : deferred ? (per_kv ? ", logits> + graph_select_group_kernel" : ", logits> + graph_select_kernel") : ", no graph>") +
                                  (graph_mode == 2 ? " (side stream)" : "") + (pdl ? " (PDL)" : "");
  } else if (kind == "memcpy") {
    const double mib = get_number(o, "mebibytes");
    const size_t bytes = static_cast<size_t>(mib * 1048576.0);
    // Rotate over enough buffer pairs that the working set is >= 256 MiB (no L2 reuse between launches).
    const size_t copies = std::min<size_t>(8, std::max<size_t>(1, (size_t(256) << 20) / std::max<size_t>(1, 2 * bytes) + 1));
    std::vector<void*> src, dst;
    for (size_t c = 0; c < copies; c++) {
      src.push_back(add(env, *s, bytes, "memcpy src").get());
      dst.push_back(add(env, *s, bytes, "memcpy dst").get());
      check(env, cudaMemset(src.back(), 1, bytes), "cudaMemset");
    }
    s->launch = [src, dst, bytes](cudaStream_t stream, int i) {
      return cudaMemcpyAsync(dst[i % dst.size()], src[i % src.size()], bytes, cudaMemcpyDeviceToDevice, stream);
    };
    s->bytes = 2.0 * bytes;  // read + write
    s->op = "cudaMemcpyAsync D2D";
  } else if (kind == "compact" || kind == "gather" || kind == "topk") {
    const int ng = get_int(o, "numGraphs", 1, 1 << 20), cap = get_int(o, "capacity", 1, 1 << 24), layout = get_int(o, "layout", 0, 1);
    const size_t nodes = static_cast<size_t>(ng) * cap;
    void* g = add(env, *s, nodes * 32, "graph").get();
    check(env, kvwalk::launch_fill_graph(g, ng, cap, layout, 7, st), "fill_graph_kernel");
    if (kind == "compact") {
      void* dst = add(env, *s, nodes * 32, "graph out").get();
      uint8_t* keep = add(env, *s, nodes, "keep").get<uint8_t>();
      int* remap = add(env, *s, nodes * 4, "remap").get<int>();
      int* kept = add(env, *s, ng * 4, "kept").get<int>();
      check(env, kvwalk::launch_fill_u8(keep, nodes, 5, 0.8f, st), "fill_u8_kernel");
      s->launch = [=](cudaStream_t stream, int) { return kvwalk::launch_compact(keep, g, dst, remap, kept, ng, cap, layout, stream); };
      s->bytes = static_cast<double>(nodes) * (32 + 32 + 1 + 8);
      s->op = std::string("compact_kernel<") + layout_name(layout) + ">";
    } else if (kind == "gather") {
      const int walkers = get_int(o, "walkers", 1, 1 << 20), steps = get_int(o, "steps", 1, 1000);
      int* sink = add(env, *s, static_cast<size_t>(ng) * walkers * 4, "sink").get<int>();
      s->launch = [=](cudaStream_t stream, int i) { return kvwalk::launch_gather_walk(g, ng, cap, layout, walkers, steps, 11 + i, sink, stream); };
      s->bytes = static_cast<double>(ng) * walkers * steps * 32;
      s->op = std::string("gather_walk_kernel<") + layout_name(layout) + ">";
    } else {
      const int rows = get_int(o, "rows", 1, 1 << 24), n = get_int(o, "n", 1, 1 << 24);
      if (static_cast<size_t>(rows) > nodes) throw Napi::RangeError::New(env, "rows must be <= numGraphs * capacity");
      float* probs = add(env, *s, static_cast<size_t>(rows) * n * 4, "probs").get<float>();
      check(env, kvwalk::launch_fill_f32(probs, static_cast<size_t>(rows) * n, 3, 1.f, st), "fill_f32_kernel");
      std::vector<int> hg(rows), hn(rows);
      for (int r = 0; r < rows; r++) {
        hg[r] = r % ng;
        hn[r] = (r / ng) % cap;
      }
      int* gids = add(env, *s, rows * 4, "graphIds").get<int>();
      int* nds = add(env, *s, rows * 4, "nodes").get<int>();
      check(env, cudaMemcpy(gids, hg.data(), rows * 4, cudaMemcpyHostToDevice), "cudaMemcpy graphIds");
      check(env, cudaMemcpy(nds, hn.data(), rows * 4, cudaMemcpyHostToDevice), "cudaMemcpy nodes");
      s->launch = [=](cudaStream_t stream, int) { return kvwalk::launch_topk_writer(probs, rows, n, gids, nds, g, ng, cap, layout, stream); };
      s->bytes = static_cast<double>(rows) * n * 4;
      s->op = std::string("topk_writer_kernel<") + layout_name(layout) + ">";
    }
  } else {
    throw_arg(env, "kind", "one of \"decode\", \"memcpy\", \"compact\", \"gather\", \"topk\"", info[0]);
  }
  check(env, cudaStreamSynchronize(st), "bench setup");
  check(env, cudaDeviceSynchronize(), "bench setup");
  const int id = next_session++;
  Napi::Object r = Napi::Object::New(env);
  r.Set("id", id);
  r.Set("bytes", s->bytes);
  r.Set("numSplits", s->splits);
  r.Set("operation", s->op);
  sessions[id] = std::move(s);
  return r;
}

BenchSession& session(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) throw_arg(info.Env(), "id", "a bench session id", info.Length() ? info[0] : info.Env().Undefined());
  auto it = sessions.find(info[0].As<Napi::Number>().Int32Value());
  if (it == sessions.end()) throw_arg(info.Env(), "id", "a live bench session id", info[0], true);
  return *it->second;
}

// benchRun(id, launches) -> milliseconds per launch (CUDA events around `launches` back-to-back launches).
Napi::Value BenchRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BenchSession& s = session(info);
  if (info.Length() < 2 || !info[1].IsNumber() || info[1].As<Napi::Number>().Int32Value() < 1) throw_arg(env, "launches", "a positive integer", info.Length() > 1 ? info[1] : env.Undefined());
  const int launches = info[1].As<Napi::Number>().Int32Value();
  cudaStream_t st = stream(env);
  cudaEvent_t e0, e1;
  check(env, cudaEventCreate(&e0), "cudaEventCreate");
  check(env, cudaEventCreate(&e1), "cudaEventCreate");
  cudaError_t err = cudaEventRecord(e0, st);
  for (int i = 0; i < launches && err == cudaSuccess; i++) err = s.launch(st, i);
  if (err == cudaSuccess && s.finish) err = s.finish(st);
  if (err == cudaSuccess) err = cudaEventRecord(e1, st);
  if (err == cudaSuccess) err = cudaEventSynchronize(e1);
  float ms = 0.f;
  if (err == cudaSuccess) err = cudaEventElapsedTime(&ms, e0, e1);
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  check(env, err, s.op);
  return Napi::Number::New(env, ms / launches);
}

Napi::Value BenchDestroy(const Napi::CallbackInfo& info) {
  session(info);
  sessions.erase(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

#else

Napi::Value NotCompiled(const Napi::CallbackInfo& info) {
  throw Napi::Error::New(info.Env(), "graph_cache addon was built without CUDA (not compiled)");
}

#endif

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  kvwalk::export_probe(env, exports);
#ifdef KVWALK_WITH_CUDA
  exports.Set("writeTopK", Napi::Function::New(env, WriteTopK));
  exports.Set("compact", Napi::Function::New(env, Compact));
  exports.Set("decodeAttention", Napi::Function::New(env, DecodeAttention));
  exports.Set("decodePlan", Napi::Function::New(env, DecodePlan));
  exports.Set("benchCreate", Napi::Function::New(env, BenchCreate));
  exports.Set("benchRun", Napi::Function::New(env, BenchRun));
  exports.Set("benchDestroy", Napi::Function::New(env, BenchDestroy));
#else
  for (const char* name : {"writeTopK", "compact", "decodeAttention", "decodePlan", "benchCreate", "benchRun", "benchDestroy"}) {
    exports.Set(name, Napi::Function::New(env, NotCompiled));
  }
#endif
  return exports;
}

NODE_API_MODULE(graph_cache, Init)
