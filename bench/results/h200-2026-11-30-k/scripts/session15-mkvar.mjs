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
  } else throw new Error(m);
}
fs.writeFileSync(f, s);
