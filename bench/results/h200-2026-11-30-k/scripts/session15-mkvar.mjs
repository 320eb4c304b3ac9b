import fs from "node:fs";
const [dir, ...muts] = process.argv.slice(2);
const f = `${dir}/decode_attention.cuh`;
let s = fs.readFileSync(f, "utf8");
function rep(a, b) { if (s.split(a).length !== 2) throw new Error("not unique: " + a); s = s.replace(a, b); }
const KL = `kr[u] = __ldg(reinterpret_cast<const uint4*>(kb + static_cast<size_t>(j) * D + d0));
        vr[u] = __ldg(reinterpret_cast<const uint4*>(vb + static_cast<size_t>(j) * D + d0));`;
for (const m of muts) {
  if (m === "nopipe") {
    rep("    if constexpr (WRITE_GRAPH) {\n      // Software-pipelined", "    if constexpr (false) {\n      // Software-pipelined");
    rep("  if constexpr (!WRITE_GRAPH) {\n    for (int j0 = j_first", "  if constexpr (true) {\n    for (int j0 = j_first");
  } else if (m === "bound7") {
    rep("constexpr int kDecodeGraphBlocksPerSm = 4;", "constexpr int kDecodeGraphBlocksPerSm = 7;");
  } else if (m === "cs") {
    rep(KL, KL.split("__ldg(").join("__ldcs("));
  } else if (m === "ef") {
    rep(KL, KL.split("__ldg(").join("ld_evict_first("));
    rep(`__device__ __forceinline__ void bf16x8_to_f32(`, `__device__ __forceinline__ uint4 ld_evict_first(const uint4* p) {
  uint4 r;
  asm volatile("{\\n .reg .b64 pol;\\n createpolicy.fractional.L2::evict_first.b64 pol, 1.0;\\n ld.global.nc.L1::no_allocate.L2::cache_hint.v4.u32 {%0, %1, %2, %3}, [%4], pol;\\n}\\n" : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p));
  return r;
}
__device__ __forceinline__ void bf16x8_to_f32(`);
  } else if (m === "tail2") {
    rep(`  reduce_splits<D, WRITE_GRAPH, LAYOUT>(p, b, h, tid, s_w, s_red, s_ck);
  if (tid == 0) p.tickets[bh] = 0;`, `  reduce_splits<D, WRITE_GRAPH, LAYOUT>(p, b, h, tid, s_w, s_red, s_ck);
  KVWALK_DECODE_MARK(10);
  __syncthreads();
  reduce_splits<D, WRITE_GRAPH, LAYOUT>(p, b, h, tid, s_w, s_red, s_ck);
  if (tid == 0) p.tickets[bh] = 0;`);
  } else if (m === "notail") {
    rep("  if (graph_warp) {  // the node before the warp's outputs", "  if (false) {  // the node before the warp's outputs");
  } else if (m === "noblock") {
    rep("    const int rank = top4_rank(s_ck, NCB, PARTS, tid);\n    if (tid % PARTS == 0", "    const int rank = top4_rank(s_ck, NCB, PARTS, tid);\n    if (false && tid % PARTS == 0");
  } else if (m === "twice") {
    rep("  if (graph_warp) {  // the node before the warp's outputs\n    unsigned long long best[kTopK];", "  if (graph_warp) {\n#pragma unroll 1\n   for (int pass = 0; pass < 2; pass++) {\n    unsigned long long best[kTopK];");
    rep("    KVWALK_DECODE_MARK_BY(11, kGraphLane);\n  }", "    KVWALK_DECODE_MARK_BY(11, kGraphLane);\n    if (pass == 0) KVWALK_DECODE_MARK_BY(13, kGraphLane);\n   }\n  }");
  } else if (m === "warmexit" || m === "warmstart" || m === "ool") {
    // the graph lane's work as one out-of-line function, run dry (no loads, no store) to warm its code
    rep("template <int LAYOUT>\n__device__ __forceinline__ void write_top4_node(void* graph, int64_t num_graphs, int capacity, int64_t g, int node, const Top4& t, float lse2) {\n  if (node < 0 || node >= capacity) return;\n  float pr[kTopK];",
        "template <int LAYOUT>\n__device__ __forceinline__ void write_top4_node(void* graph, int64_t num_graphs, int capacity, int64_t g, int node, const Top4& t, float lse2) {\n  float pr[kTopK];");
    rep("  normalize_top4(t, pr, n, w);\n  store_node<LAYOUT>(graph, num_graphs * capacity, g * capacity + node, n, w);", "  normalize_top4(t, pr, n, w);\n  if (node < 0 || node >= capacity) return;\n  store_node<LAYOUT>(graph, num_graphs * capacity, g * capacity + node, n, w);");
    rep("// Up to this many splits (and head dims", `template <int LAYOUT>
__device__ __noinline__ void graph_lane_node(void* graph, int64_t num_graphs, int capacity, int64_t g, int node, const float* top_v, const int* top_i, int S, int lane, float v0, float v1, float v2, float v3, int i0, int i1, int i2, int i3, float lse2, bool writer) {
  unsigned long long best[kTopK] = {cand_key(Cand{v0, i0}), cand_key(Cand{v1, i1}), cand_key(Cand{v2, i2}), cand_key(Cand{v3, i3})};
  splits_top4(top_v, top_i, S, lane, best);
  if (writer) {
    Top4 t;
#pragma unroll
    for (int r = 0; r < kTopK; r++) t.c[r] = key_cand(best[r]);
    write_top4_node<LAYOUT>(graph, num_graphs, capacity, g, node, t, lse2);
  }
}

// Up to this many splits (and head dims`);
    rep(`    unsigned long long best[kTopK];
#pragma unroll
    for (int r = 0; r < kTopK; r++) best[r] = cand_key(Cand{cv[r], ci[r]});
    splits_top4(p.part_top_v + cbase, p.part_top_i + cbase, S, lane, best);
    if (tid == kGraphLane) {
      Top4 t;
#pragma unroll
      for (int r = 0; r < kTopK; r++) t.c[r] = key_cand(best[r]);
      write_graph_node<LAYOUT>(p, b, h, node, t, lse2);
    }`, `    graph_lane_node<LAYOUT>(p.graph, static_cast<int64_t>(p.batch) * p.num_heads, p.graph_capacity, static_cast<int64_t>(b) * p.num_heads + h, node, p.part_top_v + cbase, p.part_top_i + cbase, S, lane, cv[0], cv[1], cv[2], cv[3], ci[0], ci[1], ci[2], ci[3], lse2, tid == kGraphLane);`);
    const dry = "    if (WRITE_GRAPH && tid >= kGraphLane) graph_lane_node<LAYOUT>(p.graph, 0, p.graph_capacity, 0, -1, nullptr, nullptr, 32, tid & 31, -INFINITY, -INFINITY, -INFINITY, -INFINITY, INT_MAX, INT_MAX, INT_MAX, INT_MAX, 0.f, p.graph_capacity >= 0);\n";
    if (m === "ool") {} else if (m === "warmexit") rep("  if (!s_last) return;\n  reduce_splits<D, WRITE_GRAPH, LAYOUT>(p, b, h, tid, s_w, s_red);", "  if (!s_last) {\n" + dry + "    return;\n  }\n  reduce_splits<D, WRITE_GRAPH, LAYOUT>(p, b, h, tid, s_w, s_red);");
    else rep("    asm volatile(\"griddepcontrol.wait;\\n\" ::: \"memory\");\n#endif\n    KVWALK_DECODE_MARK(1);", dry + "    asm volatile(\"griddepcontrol.wait;\\n\" ::: \"memory\");\n#endif\n    KVWALK_DECODE_MARK(1);");
  } else throw new Error(m);
}
fs.writeFileSync(f, s);
