import fs from "node:fs";
const f = process.argv[2] + "/decode_attention.cuh";
let s = fs.readFileSync(f, "utf8");
function rep(a, b) { if (s.split(a).length !== 2) throw new Error("not unique: " + a.slice(0, 80)); s = s.replace(a, b); }
rep(`  if (WRITE_GRAPH && sub < kTopK) s_ck[grp * kTopK + sub] = cand_key(Cand{tv, ti});
  __syncthreads();`, `  constexpr int TPK = kDecodeThreads / G;  // lanes per key group
  static_assert(TPK >= kTopK && TPK <= 32, "a group's list sits in its first four lanes");
  if (WRITE_GRAPH) {
    // Each lane gathers its group's list (lanes 0-3 of the group hold it, best first), butterfly merges across
    // the warp's groups, and lane 0 of every warp stores the warp's top 4 for the merge after the barrier.
    const unsigned long long mine = cand_key(Cand{tv, ti});
    const int lane = tid & 31, first = lane & ~(TPK - 1);
    unsigned long long best[kTopK];
#pragma unroll
    for (int r = 0; r < kTopK; r++) best[r] = __shfl_sync(0xffffffffu, mine, first + r);
#pragma unroll
    for (int off = TPK; off < 32; off <<= 1) {
      unsigned long long o[kTopK];
#pragma unroll
      for (int r = 0; r < kTopK; r++) o[r] = __shfl_xor_sync(0xffffffffu, best[r], off);
      merge_top4_keys(best, o);
    }
    if (lane < kTopK) s_ck[(tid >> 5) * kTopK + lane] = best[0] * (lane == 0) + best[1] * (lane == 1) + best[2] * (lane == 2) + best[3] * (lane == 3);
  }
  __syncthreads();`);
rep(`  if (WRITE_GRAPH) {
    // The block's top-4 by rank selection over its groups' lists (all threads); the winners store their slot.
    constexpr int NCB = G * kTopK, PARTS = rank_parts(NCB);
    const int rank = top4_rank(s_ck, NCB, PARTS, tid);
    if (tid % PARTS == 0 && tid / PARTS < NCB && rank < kTopK) {
      const Cand w = key_cand(s_ck[tid / PARTS]);
      const size_t o = (bh * p.num_splits + split) * kTopK + rank;
      p.part_top_v[o] = w.v;
      p.part_top_i[o] = w.i;
    }
  }`, `  if (WRITE_GRAPH && tid >= kDecodeThreads - 32) {
    // The block's top 4: the last warp merges the warps' lists (lane w < 4 starts from warp w's) in two
    // butterfly rounds; lane r < 4 stores the r-th.
    constexpr int W = kDecodeThreads / 32;
    const int lane = tid & 31;
    unsigned long long best[kTopK];
#pragma unroll
    for (int r = 0; r < kTopK; r++) best[r] = lane < W ? s_ck[lane * kTopK + r] : cand_key(sentinel());
#pragma unroll
    for (int off = 1; off < W; off <<= 1) {
      unsigned long long o[kTopK];
#pragma unroll
      for (int r = 0; r < kTopK; r++) o[r] = __shfl_xor_sync(0xffffffffu, best[r], off);
      merge_top4_keys(best, o);
    }
    if (lane < kTopK) {
      const unsigned long long k = lane == 0 ? best[0] : lane == 1 ? best[1] : lane == 2 ? best[2] : best[3];
      const Cand w = key_cand(k);
      const size_t o = (bh * p.num_splits + split) * kTopK + lane;
      p.part_top_v[o] = w.v;
      p.part_top_i[o] = w.i;
    }
  }`);
fs.writeFileSync(f, s);
