/**
 * CUDA-vs-twin checks of the live-eviction launchers (evict_tests.cc against
 * src/engine/kernels/evict-reference.ts). Each case builds seeded inputs, runs both sides and returns a
 * report; nothing throws (a binding error becomes ok: false with the message).
 *
 * Shapes: L = 2 layers, R = 3 regions with region 1 compacted (regions 0 and 2 must stay bit-identical),
 * KVH in {2, 3}, H in {4, 6}, D in {64, 128}, C in {7, 64, 300, 1100} (1100 spans several 512-slot
 * tiles of the compaction), odd len and budget, sinks 4, recent 8; scores drawn from a few values
 * (forced ties) with NaN, -0/+0 and -inf mixed in; streaming (scores null), protected overflow and
 * budget >= len rows. EVICT_TOLERANCES says why each bound.
 */
import { seededRandom } from "@kvwalk/core/testing";
import {
  attentionMassReference,
  countsToScoresReference,
  GRAPH_NODE_INTS,
  graphRemapReference,
  selectCompactReference,
} from "../kernels/evict-reference.js";
import { bf16ToF32, toBf16 } from "../kernels/reference.js";
import type { EvictTestAddon } from "./evict-addon-types.js";
import { type CaseReport, gaussian, guarded } from "./case-frame.js";


export const EVICT_TOLERANCES = {
  /** select/compact (K/V, scores, remap, kept), counts -> scores and the graph remap: exact programs. */
  exact: 0,
  /**
   * Attention mass: |cuda - ref| <= rtol |ref| + atol against the f64 reference from the same bf16 K
   * and f32 q. The kernel's f32 dot of D <= 128 products of N(0, 1) values has an absolute error of a
   * few 1e-6 (|partial sums| <= ~30, ulp 2^-19, sqrt(D)-ish growth), scaled by 1/sqrt(D), plus expf's 2
   * ulp and the f32 subtraction of lse (|lse| <= ~8): an error of ~1e-6 in the exponent is a relative
   * error of ~1e-6 in p, and the group sum / H2O update add a few f32 ulps. 1e-5 leaves a 5-10x
   * margin; a wrong head mapping, mask or scale is off by O(1). atol only guards denormal underflow.
   */
  attentionMass: { rtol: 1e-5, atol: 1e-12 },
} as const;


/** Differing elements (by value; for f32 use bits()), with the first index. */
function diffCount(a: ArrayLike<number>, b: ArrayLike<number>): { n: number; first: number } {
  if (a.length !== b.length) return { n: Math.max(a.length, b.length), first: -2 };
  let n = 0;
  let first = -1;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      if (first < 0) first = i;
      n++;
    }
  }
  return { n, first };
}

const bits = (f: Float32Array) => new Uint32Array(f.buffer, f.byteOffset, f.length);

/** Scores with forced ties, NaN, -0/+0 and -inf: kind "ties" draws from 5 values, "spread" from many. */
function drawScores(rnd: () => number, n: number, kind: "ties" | "spread"): Float32Array {
  const pool = [0.5, 1, 1, 2, 3];
  return Float32Array.from({ length: n }, () => {
    const r = rnd();
    if (r < 0.03) return Number.NaN;
    if (r < 0.05) return -0;
    if (r < 0.07) return 0;
    if (r < 0.08) return Number.NEGATIVE_INFINITY;
    return kind === "ties" ? pool[Math.floor(rnd() * pool.length)] : Math.fround(rnd() * 100 - 20);
  });
}

interface SelectShape {
  KVH: number;
  D: number;
  C: number;
  len: number;
  budget: number;
  scores: "ties" | "spread" | "null";
}

function selectCompactCase(addon: EvictTestAddon, s: SelectShape) {
  const L = 2;
  const R = 3;
  const region = 1;
  const sinks = 4;
  const recent = 8;
  const { KVH, D, C, len, budget } = s;
  return guarded(`select_compact L=${L} R=${R} region=${region} KVH=${KVH} D=${D} C=${C} len=${len} budget=${budget} scores=${s.scores}`, () => {
    const rnd = seededRandom(1000 + C * 7 + len + budget * 3 + D + KVH);
    const scores = s.scores === "null" ? null : drawScores(rnd, L * R * KVH * C, s.scores);
    const kv = Uint16Array.from({ length: L * 2 * R * KVH * C * D }, () => Math.floor(rnd() * 65536));
    const input = { scores, kv, L, R, KVH, C, D, region, len, budget, sinks, recent };
    const cuda = addon.evictSelectCompact(input);
    const ref = selectCompactReference(input);
    const dKv = diffCount(cuda.kv, ref.kv);
    const dRemap = diffCount(cuda.remap, ref.remap);
    const dKept = diffCount(cuda.kept, ref.kept);
    let dScores = { n: 0, first: -1 };
    let scoresShape = "";
    if (ref.scores === null || cuda.scores === null) {
      if (ref.scores !== cuda.scores) scoresShape = `; scores: cuda ${cuda.scores === null ? "null" : "array"}, twin ${ref.scores === null ? "null" : "array"}`;
    } else {
      dScores = diffCount(bits(cuda.scores), bits(ref.scores));
    }
    const ok = dKv.n === 0 && dRemap.n === 0 && dKept.n === 0 && dScores.n === 0 && scoresShape === "";
    const where = (d: { n: number; first: number }) => (d.n ? ` (first at ${d.first})` : "");
    return {
      ok,
      detail:
        `kept ${ref.kept[0]} of ${len} per row (cuda row 0: ${cuda.kept[0]}); differing (exact expected): kv ${dKv.n}${where(dKv)}, ` +
        `scores ${dScores.n}${where(dScores)}, remap ${dRemap.n}${where(dRemap)}, kept ${dKept.n}${scoresShape}`,
      kvDiffering: dKv.n,
      scoresDiffering: dScores.n,
      remapDiffering: dRemap.n,
      keptDiffering: dKept.n,
    };
  });
}

interface MassShape {
  H: number;
  KVH: number;
  D: number;
  C: number;
  lengths: [number, number];
  starts: [number, number] | null;
  mode: 0 | 1;
}

function attentionMassCase(addon: EvictTestAddon, s: MassShape) {
  const B = 2;
  const R = 3;
  const { H, KVH, D, C, mode } = s;
  return guarded(
    `attention_mass B=${B} R=${R} H=${H} KVH=${KVH} D=${D} C=${C} lengths=${s.lengths} starts=${s.starts ?? "null"} mode=${mode === 0 ? "h2o" : "tova"}`,
    () => {
      const rnd = seededRandom(2000 + C + H * 5 + D + mode);
      const g = gaussian(rnd);
      const q = Float32Array.from({ length: B * H * D }, g);
      const k = toBf16(Float32Array.from({ length: R * KVH * C * D }, g));
      const lengths = Int32Array.from(s.lengths);
      const starts = s.starts ? Int32Array.from(s.starts) : null;
      const scale = 1 / Math.sqrt(D);
      const G = H / KVH;
      // lse: the exact log-sum-exp over each query's live keys, so the masses are real probabilities
      const lse = new Float32Array(B * H);
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < H; h++) {
          const logits: number[] = [];
          for (let j = starts ? starts[b] : 0; j < lengths[b]; j++) {
            let dot = 0;
            for (let d = 0; d < D; d++) dot += q[(b * H + h) * D + d] * bf16ToF32(k[((b * KVH + Math.floor(h / G)) * C + j) * D + d]);
            logits.push(dot * scale);
          }
          const mx = Math.max(...logits, -1e30);
          lse[b * H + h] = mx + Math.log(logits.reduce((acc, x) => acc + Math.exp(x - mx), 0) || 1);
        }
      }
      const scores = Float32Array.from({ length: R * KVH * C }, () => rnd() * 3);
      const input = { q, k, lse, lengths, starts, B, R, H, KVH, D, C, scale, mode, decay: 0.9, scores };
      const cuda = addon.evictAttentionMass(input);
      const ref = attentionMassReference(input);
      const { rtol, atol } = EVICT_TOLERANCES.attentionMass;
      let bad = 0;
      let worst = 0;
      let worstAt = -1;
      let maxRel = 0;
      for (let i = 0; i < ref.length; i++) {
        const err = Math.abs(cuda[i] - ref[i]);
        const tol = rtol * Math.abs(ref[i]) + atol;
        const ratio = Number.isNaN(err) ? Number.POSITIVE_INFINITY : err / tol;
        if (!(err <= tol)) bad++;
        if (ratio > worst) {
          worst = ratio;
          worstAt = i;
        }
        if (ref[i] !== 0) maxRel = Math.max(maxRel, err / Math.abs(ref[i]));
      }
      const where = worstAt >= 0 ? `; worst at ${worstAt}: cuda ${cuda[worstAt]} ref ${ref[worstAt]}` : "";
      return {
        ok: bad === 0 && cuda.length === ref.length,
        detail: `[${R}, ${KVH}, ${C}]: max relative error ${maxRel.toExponential(2)}, ${bad} outside rtol ${rtol} + atol ${atol}${where}`,
        maxRelError: maxRel,
        outside: bad,
        tolerance: rtol,
      };
    },
  );
}

function countsCase(addon: EvictTestAddon, H: number, KVH: number, C: number, decay: number) {
  const L = 2;
  const R = 3;
  return guarded(`counts_to_scores L=${L} R=${R} H=${H} KVH=${KVH} C=${C} decay=${decay}`, () => {
    const rnd = seededRandom(3000 + H + C);
    // mostly small counts, some near 2^32 so the exact 64-bit sum and its single rounding matter
    const counts = Uint32Array.from({ length: L * R * H * C }, () => (rnd() < 0.1 ? 0xffffffff - Math.floor(rnd() * 1000) : Math.floor(rnd() * 5000)));
    const scores = Float32Array.from({ length: L * R * KVH * C }, () => rnd() * 1e4);
    const dims = { L, R, H, KVH, C };
    const cuda = addon.evictCountsToScores({ counts, ...dims, decay, scores });
    const ref = countsToScoresReference(counts, dims, decay, scores);
    const d = diffCount(bits(cuda), bits(ref));
    return { ok: d.n === 0, detail: `${d.n}/${ref.length} differing bit patterns (exact expected)${d.n ? `, first at ${d.first}: cuda ${cuda[d.first]} ref ${ref[d.first]}` : ""}`, differing: d.n };
  });
}

function graphRemapCase(addon: EvictTestAddon, H: number, KVH: number, C: number, len: number, budget: number) {
  const L = 2;
  const R = 3;
  const region = 1;
  return guarded(`graph_remap L=${L} R=${R} region=${region} H=${H} KVH=${KVH} C=${C} len=${len} budget=${budget}`, () => {
    const rnd = seededRandom(4000 + H + C + len);
    const f = new Float32Array(1);
    const fi = new Int32Array(f.buffer);
    const graph = new Int32Array(L * R * H * C * GRAPH_NODE_INTS);
    for (let node = 0; node < L * R * H * C; node++) {
      for (let s = 0; s < 4; s++) {
        const r = rnd();
        graph[node * 8 + s] = r < 0.1 ? -1 : r < 0.13 ? C + Math.floor(rnd() * 5) : Math.floor(rnd() * C);
        f[0] = rnd();
        graph[node * 8 + 4 + s] = fi[0];
      }
    }
    // the remap of a real compaction (twin), the same for every query head of a KV head
    const scores = drawScores(rnd, L * R * KVH * C, "ties");
    const sc = selectCompactReference({ scores, kv: new Uint16Array(L * 2 * R * KVH * C), L, R, KVH, C, D: 1, region, len, budget, sinks: 4, recent: 8 });
    const newLen = sc.kept[0];
    const input = { graph, L, R, H, KVH, C, region, remap: sc.remap, newLen };
    const cuda = addon.evictGraphRemap(input);
    const ref = graphRemapReference(input);
    const d = diffCount(cuda, ref);
    return {
      ok: d.n === 0,
      detail: `newLen ${newLen}: ${d.n}/${ref.length} differing ints (exact expected; other regions included)${d.n ? `, first at node ${Math.floor(d.first / 8)} int ${d.first % 8}` : ""}`,
      differing: d.n,
    };
  });
}

/** All eviction cases; `quick` keeps one shape per kernel family plus the multi-tile compaction. */
export function evictCases(addon: EvictTestAddon, quick: boolean): { name: string; run(): Promise<CaseReport> }[] {
  const cases: { name: string; run(): Promise<CaseReport> }[] = [];
  const selects: SelectShape[] = [
    { KVH: 2, D: 64, C: 7, len: 7, budget: 5, scores: "ties" }, // protected overflow (4 sinks + 3 recent > 5)
    { KVH: 3, D: 128, C: 64, len: 61, budget: 23, scores: "ties" },
    { KVH: 2, D: 128, C: 1100, len: 1097, budget: 219, scores: "spread" },
    { KVH: 3, D: 64, C: 300, len: 299, budget: 61, scores: "null" },
  ];
  if (!quick) {
    selects.push(
      { KVH: 2, D: 64, C: 300, len: 299, budget: 61, scores: "spread" },
      { KVH: 3, D: 128, C: 300, len: 257, budget: 131, scores: "ties" },
      { KVH: 2, D: 64, C: 1100, len: 1099, budget: 1011, scores: "ties" }, // few evictions, late first hole
      { KVH: 3, D: 128, C: 1100, len: 1001, budget: 13, scores: "ties" }, // 13 = 4 sinks + 8 recent + 1
      { KVH: 2, D: 64, C: 64, len: 33, budget: 3, scores: "spread" }, // budget below the sinks
      { KVH: 2, D: 128, C: 64, len: 63, budget: 63, scores: "ties" }, // budget == len: keep all
      { KVH: 3, D: 64, C: 7, len: 5, budget: 1, scores: "null" },
      { KVH: 2, D: 128, C: 1100, len: 1097, budget: 219, scores: "null" },
    );
  }
  for (const s of selects) cases.push(selectCompactCase(addon, s));
  const masses: MassShape[] = [
    { H: 4, KVH: 2, D: 64, C: 64, lengths: [61, 33], starts: null, mode: 0 },
    { H: 6, KVH: 3, D: 128, C: 300, lengths: [299, 7], starts: [0, 3], mode: 1 },
    { H: 6, KVH: 2, D: 128, C: 1100, lengths: [1097, 513], starts: null, mode: 0 },
  ];
  if (!quick) {
    masses.push(
      { H: 4, KVH: 2, D: 128, C: 7, lengths: [7, 1], starts: null, mode: 1 },
      { H: 6, KVH: 3, D: 64, C: 300, lengths: [257, 299], starts: [5, 0], mode: 0 },
      { H: 4, KVH: 1, D: 64, C: 1100, lengths: [1099, 0], starts: null, mode: 1 },
    );
  }
  for (const s of masses) cases.push(attentionMassCase(addon, s));
  cases.push(countsCase(addon, 6, 3, 300, 0.5), countsCase(addon, 4, 2, 7, 0));
  if (!quick) cases.push(countsCase(addon, 4, 1, 1100, 0.9));
  cases.push(graphRemapCase(addon, 4, 2, 64, 61, 23), graphRemapCase(addon, 6, 3, 1100, 1097, 219));
  if (!quick) cases.push(graphRemapCase(addon, 6, 2, 7, 7, 5), graphRemapCase(addon, 4, 2, 300, 299, 298));
  return cases;
}
