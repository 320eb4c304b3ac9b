/**
 * CUDA-vs-twin checks of prompt scoring (prefill_score_tests.cc's prefillScore against
 * src/engine/kernels/prefill-score-reference.ts with roundQ: the twin sees the bf16 q the kernel's
 * tensor cores see). Each case builds seeded inputs, runs both sides and returns a report; nothing
 * throws.
 *
 * Shapes: fixture-like H6/KVH6/D64, GQA 8/2 D128, GQA 4/2 with a sliding window, T in {1, 17, 129, 300}
 * (odd sizes, one and several 128-row tiles), capacity > T (slots >= T must stay untouched), H2O with
 * decay 1, 0.9 and 0, TOVA with and without the full pass 1 (lse / graph off: the last tile only),
 * duplicated keys (exact logit ties), and bad arguments. Graphs per KV head (graphGroup = H / KVH:
 * the group pass) at groups 2, 3, 4, 7, 8, 16, 32 and 40 (every KSPLIT of the kernel at D 64 and 128),
 * with and without a window and with and without H2O / TOVA scores in the same launch.
 */
import { compareClose, seededRandom } from "@kvwalk/core/testing";
import { prefillScoreReference } from "../kernels/prefill-score-reference.js";
import { bf16ToF32, f32ToBf16, toBf16 } from "../kernels/reference.js";
import { type CaseReport, type GpuCase, gaussian, guarded } from "./case-frame.js";
import type { PrefillScoreTestAddon } from "./prefill-score-addon-types.js";

/**
 * Kernel vs twin (same bf16 q and K, so bf16 rounding is not part of the difference). The kernel
 * multiplies bf16 x bf16 (exact in f32) and accumulates in f32 inside mma.sync, exponentiates with
 * exp2f in log2 units and sums probabilities in f32; the twin is f64.
 */
export const PREFILL_SCORE_TOLERANCES = {
  /** lse (natural log, |lse| <~ 10): f32 rounding of the logits, the online max/sum and log2f. */
  lse: { atol: 1e-4, rtol: 1e-5 },
  /**
   * Graph weights: exp2f(x - lse2) of logits with f32 error, renormalized over 4 (values <= 1); per KV
   * head the group's sums of those, renormalized the same way.
   */
  graphWeight: 5e-5,
  /**
   * Graph neighbours must be equal except at near-ties: two keys count as tied when their f64 logits
   * differ by less than this multiple of the f32 dot-product error bound
   * ((D + 2) * 2^-24 * sum|q_i k_i| * scale + 4 ulps of the logit) -- graph-cache's TOLERANCES rule.
   * Per KV head two keys tie when their group sums v = sum_g p_g differ by less than the sum of their
   * bounds sum_g p_g(j) * (bound_g(j) + max_i bound_g(i) + 1e-6) + 4 * G ulps of v (a logit error moves
   * p by that relative amount, the row's lse by at most the largest logit error).
   */
  tieBoundFactor: 2,
  /**
   * H2O / TOVA scores: sums of up to T probabilities (each a few 1e-6 relative off through the logit
   * and lse errors) accumulated in f32 (per lane over up to T/4 rows: <= T/4 * 2^-24 relative, 2e-5 at
   * T = 300), then over the 4 lanes of a quad and the G heads of a group. 1e-4 relative leaves a
   * margin; a wrong mask, decay or head mapping is off by O(1). atol guards underflowed tails.
   */
  scores: { rtol: 1e-4, atol: 1e-6 },
} as const;

interface ScoreShape {
  T: number;
  H: number;
  KVH: number;
  D: 64 | 128;
  capacity: number;
  window: number;
  mode: -1 | 0 | 1;
  decay: number;
  graph: boolean;
  wantLse: boolean;
  /** duplicate every other key row in the first half (exact logit ties) */
  ties?: boolean;
  /** query heads per graph: 1 (default) or H / KVH (a graph per KV head) */
  graphGroup?: number;
}

const f32 = new Float32Array(1);
const i32 = new Int32Array(f32.buffer);
const bitsToF32 = (b: number) => {
  i32[0] = b;
  return f32[0];
};

/** f64 logits of row t of head h over its visible keys, with the f32 error bound of each (tie rule). */
function rowLogits(qb: Float32Array, k: Uint16Array, s: ScoreShape, scale: number, h: number, t: number) {
  const { H, KVH, D, capacity, window } = s;
  const kvh = Math.floor(h / (H / KVH));
  const lo = window > 0 ? Math.max(0, t - window + 1) : 0;
  const logit = new Map<number, number>();
  const bound = new Map<number, number>();
  for (let j = lo; j <= t; j++) {
    let dot = 0;
    let abs = 0;
    for (let x = 0; x < D; x++) {
      const p = qb[(t * H + h) * D + x] * bf16ToF32(k[(kvh * capacity + j) * D + x]);
      dot += p;
      abs += Math.abs(p);
    }
    const v = dot * scale;
    logit.set(j, v);
    bound.set(j, PREFILL_SCORE_TOLERANCES.tieBoundFactor * ((D + 2) * 2 ** -24 * abs * Math.abs(scale) + 4 * 2 ** -24 * Math.abs(v)));
  }
  return { logit, bound };
}

/**
 * Group sums v(j) = sum over the group's heads of p_g(j) = exp(logit - lse) (f64) of row t of KV head kvh
 * over its visible keys, with the tie bound of each (PREFILL_SCORE_TOLERANCES.tieBoundFactor's rule per KV head).
 */
function rowGroupSums(qb: Float32Array, k: Uint16Array, s: ScoreShape, scale: number, kvh: number, t: number) {
  const G = s.H / s.KVH;
  const sum = new Map<number, number>();
  const bound = new Map<number, number>();
  for (let g = 0; g < G; g++) {
    const r = rowLogits(qb, k, s, scale, kvh * G + g, t);
    let m = Number.NEGATIVE_INFINITY;
    let worst = 0;
    for (const [j, x] of r.logit) {
      if (x > m) m = x;
      worst = Math.max(worst, r.bound.get(j) as number);
    }
    let l = 0;
    for (const x of r.logit.values()) l += Math.exp(x - m);
    const lse = m + Math.log(l);
    for (const [j, x] of r.logit) {
      const p = Math.exp(x - lse);
      sum.set(j, (sum.get(j) ?? 0) + p);
      bound.set(j, (bound.get(j) ?? 0) + p * ((r.bound.get(j) as number) + worst + 1e-6));
    }
  }
  for (const [j, v] of sum) bound.set(j, (bound.get(j) as number) + 4 * G * 2 ** -24 * v);
  return { sum, bound };
}

/** q rounded to bf16 and back (round to nearest even), as the kernels stage it. */
const bf16Rounded = (q: Float32Array) => q.map((x) => bf16ToF32(f32ToBf16(x)));

/**
 * Graph nodes of one region against the twin: rows with written(t) must equal the twin's nodes (the
 * same neighbours, or swapped only at a near-tie by the tie rule; weights within graphWeight), every
 * other node must be untouched (-1). qb: q rounded to bf16 (what the kernels read; the tie rule ranks
 * with it). Problems go to `problems`; returns the agreement metrics.
 */
function checkGraph(
  gr: Int32Array,
  ref: { indices: Int32Array; weights: Float32Array },
  s: ScoreShape,
  qb: Float32Array,
  k: Uint16Array,
  scale: number,
  written: (t: number) => boolean,
  problems: string[],
) {
  const { T, capacity } = s;
  const graphGroup = s.graphGroup ?? 1;
  const graphs = s.H / graphGroup;
  let exact = 0;
  let tieSwapped = 0;
  let maxW = 0;
  let untouched = 0;
  if (gr.length !== graphs * capacity * 8) problems.push(`graph: ${gr.length} ints, want ${graphs * capacity * 8} (${graphs} graphs)`);
  for (let h = 0; h < graphs; h++) {
    for (let t = 0; t < capacity; t++) {
      const off = (h * capacity + t) * 8;
      if (!written(t)) {
        for (let i = 0; i < 8; i++) if (gr[off + i] !== -1) untouched++;
        continue;
      }
      const ro = (h * T + t) * 4;
      let same = true;
      for (let sl = 0; sl < 4; sl++) {
        if (gr[off + sl] !== ref.indices[ro + sl]) same = false;
        const wd = Math.abs(bitsToF32(gr[off + 4 + sl]) - ref.weights[ro + sl]);
        if (!(wd <= PREFILL_SCORE_TOLERANCES.graphWeight) && problems.length < 8) {
          problems.push(`graph (h=${h}, t=${t}) weight ${sl}: cuda ${bitsToF32(gr[off + 4 + sl])} twin ${ref.weights[ro + sl]}`);
        }
        if (wd > maxW || Number.isNaN(wd)) maxW = Number.isNaN(wd) ? Number.POSITIVE_INFINITY : wd;
      }
      if (same) {
        exact++;
        continue;
      }
      tieSwapped++;
      // per query head the ranked values are the logits, per KV head the group sums
      let logit: Map<number, number>;
      let bound: Map<number, number>;
      if (graphGroup > 1) ({ sum: logit, bound } = rowGroupSums(qb, k, s, scale, h, t));
      else ({ logit, bound } = rowLogits(qb, k, s, scale, h, t));
      const what = graphGroup > 1 ? "group sum" : "logit";
      for (let sl = 0; sl < 4; sl++) {
        const jc = gr[off + sl];
        const jr = ref.indices[ro + sl];
        if (jc === jr) continue;
        const tied = jc >= 0 && jr >= 0 && logit.has(jc) && Math.abs((logit.get(jc) as number) - (logit.get(jr) as number)) <= (bound.get(jc) as number) + (bound.get(jr) as number);
        if (!tied && problems.length < 8) problems.push(`graph (${graphGroup > 1 ? "kvh" : "h"}=${h}, t=${t}) entry ${sl}: cuda key ${jc} (${what} ${logit.get(jc)}) vs twin key ${jr} (${what} ${logit.get(jr)}): not a tie`);
      }
    }
  }
  if (untouched) problems.push(`graph: ${untouched} ints of nodes outside the written rows changed`);
  return { graphNodesExact: exact, graphNodesTieSwapped: tieSwapped, graphMaxWeightDiff: maxW };
}

/** Seeded inputs of a case: q f32 [T, H, D] (N(0, 4)), bf16 K [KVH, capacity, D] (N(0, 1); with ties,
 * every other key of the first half duplicates its predecessor), scale 1/sqrt(D), and the generator
 * (for further draws). */
function scoreInputs(s: ScoreShape, seed: number) {
  const { T, H, KVH, D, capacity } = s;
  const rnd = seededRandom(seed);
  const g = gaussian(rnd);
  const q = Float32Array.from({ length: T * H * D }, () => 2 * g());
  const kf = Float32Array.from({ length: KVH * capacity * D }, g);
  if (s.ties) {
    for (let kvh = 0; kvh < KVH; kvh++) {
      for (let j = 1; j < Math.floor(T / 2); j += 2) kf.copyWithin((kvh * capacity + j) * D, (kvh * capacity + j - 1) * D, (kvh * capacity + j) * D);
    }
  }
  return { rnd, q, k: toBf16(kf), scale: 1 / Math.sqrt(D) };
}

function scoreCase(addon: PrefillScoreTestAddon, s: ScoreShape, seed: number): GpuCase {
  const what = s.mode === 0 ? `h2o decay ${s.decay}` : s.mode === 1 ? "tova" : "no scores";
  const name =
    `prefill_score T=${s.T} H=${s.H} KVH=${s.KVH} D=${s.D} capacity=${s.capacity} window=${s.window} ${what}` +
    `${s.graph ? ((s.graphGroup ?? 1) > 1 ? ` +graph per KV head (graphGroup ${s.graphGroup})` : " +graph") : ""}` +
    `${s.wantLse ? " +lse" : ""}${s.ties ? " duplicated keys" : ""}`;
  return guarded(name, () => {
    const { T, H, KVH, D, capacity, window, mode, decay } = s;
    const graphGroup = s.graphGroup ?? 1;
    const { rnd, q, k, scale } = scoreInputs(s, seed);
    const scoresInit = Float32Array.from({ length: KVH * capacity }, () => rnd() * 3);
    const cuda = addon.prefillScore({
      q,
      k,
      T,
      H,
      KVH,
      D,
      capacity,
      window,
      scale,
      mode,
      decay,
      graph: s.graph,
      graphGroup,
      scores: mode >= 0 ? scoresInit : undefined,
      wantLse: s.wantLse,
    });
    const ref = prefillScoreReference({ q, k, T, H, KVH, D, capacity, window, scale, decay, roundQ: true, graphGroup });
    const problems: string[] = [];
    const metrics: Record<string, unknown> = {};
    if (s.wantLse) {
      if (!cuda.lse) problems.push("lse missing");
      else {
        const c = compareClose(cuda.lse, ref.lse, PREFILL_SCORE_TOLERANCES.lse);
        metrics.lseMaxAbsDiff = c.maxAbs;
        if (!c.ok) problems.push(`lse: ${c.mismatches} outside tolerance, max |diff| ${c.maxAbs.toExponential(2)} at ${c.worstIndex}`);
      }
    } else if (cuda.lse !== null) problems.push("lse returned although not asked for");
    if (s.graph) {
      const gr = cuda.graph;
      if (!gr) problems.push("graph missing");
      else {
        Object.assign(metrics, checkGraph(gr, ref, s, bf16Rounded(q), k, scale, (t) => t < T, problems));
      }
    } else if (cuda.graph !== null) problems.push("graph returned although not asked for");
    if (mode >= 0) {
      const sc = cuda.scores;
      if (!sc) problems.push("scores missing");
      else {
        const want = mode === 0 ? ref.h2o : ref.tova;
        const got = new Float32Array(KVH * T);
        let changed = 0;
        for (let kvh = 0; kvh < KVH; kvh++) {
          got.set(sc.subarray(kvh * capacity, kvh * capacity + T), kvh * T);
          for (let j = T; j < capacity; j++) if (!Object.is(sc[kvh * capacity + j], scoresInit[kvh * capacity + j])) changed++;
        }
        const c = compareClose(got, want, PREFILL_SCORE_TOLERANCES.scores);
        Object.assign(metrics, { scoresMaxAbsDiff: c.maxAbs, scoresMaxRelDiff: c.maxRel });
        if (!c.ok) problems.push(`scores: ${c.mismatches} outside tolerance, max |diff| ${c.maxAbs.toExponential(2)} at ${c.worstIndex} (cuda ${got[c.worstIndex]}, twin ${want[c.worstIndex]})`);
        if (changed) problems.push(`scores: ${changed} slots >= T changed`);
      }
    } else if (cuda.scores !== null) problems.push("scores returned although mode is -1");
    return { ok: problems.length === 0, detail: problems.length ? problems.slice(0, 6).join("; ") : "ok", ...metrics, tolerances: PREFILL_SCORE_TOLERANCES };
  });
}

/**
 * The lazy decode graph write's kernels (launch_graph_flush: prompt scoring's kernels in job mode)
 * against the twin: job j's rows max(0, rowLo - 3j) .. T - j - 1 must hold the twin's nodes of those
 * rows (computed over the whole prompt: a row's node depends only on keys up to it), under the same
 * tolerances and tie rule as the prompt cases; every other node stays -1.
 */
function flushCase(addon: PrefillScoreTestAddon, s: ScoreShape, rowLo: number, jobs: number, seed: number, ringLse = false): GpuCase {
  const name = `graph flush (lazy decode write) T=${s.T} H=${s.H} KVH=${s.KVH} D=${s.D} window=${s.window} graphGroup=${s.graphGroup ?? 1} rows from ${rowLo}, ${jobs} jobs${ringLse ? ", lse from a ring (the twin's)" : ""}${s.ties ? " duplicated keys" : ""}`;
  return guarded(name, () => {
    const { T, H, KVH, D, capacity, window } = s;
    const graphGroup = s.graphGroup ?? 1;
    const { q, k, scale } = scoreInputs(s, seed);
    const ref = prefillScoreReference({ q, k, T, H, KVH, D, capacity, window, scale, decay: 1, roundQ: true, graphGroup });
    const lse2 = ringLse ? ref.lse.map((x) => x / Math.LN2) : undefined;
    const cuda = addon.graphFlush({ q, k, T, H, KVH, D, capacity, window, scale, graphGroup, rowLo, jobs, lse2 });
    const problems: string[] = [];
    const metrics: Record<string, unknown>[] = [];
    if (cuda.graphs.length !== jobs) problems.push(`${cuda.graphs.length} graphs returned, want ${jobs}`);
    const qb = bf16Rounded(q);
    cuda.graphs.forEach((gr, j) => {
      const lo = Math.max(0, rowLo - 3 * j);
      const hi = T - j;
      metrics.push(checkGraph(gr, ref, s, qb, k, scale, (t) => t >= lo && t < hi, problems));
    });
    return { ok: problems.length === 0, detail: problems.length ? problems.slice(0, 6).join("; ") : "ok", jobs: metrics, tolerances: PREFILL_SCORE_TOLERANCES };
  });
}

/** Bad arguments: each call must throw KVWALK_INVALID_ARGUMENT naming the parameter. */
function badArgumentsCase(addon: PrefillScoreTestAddon): GpuCase {
  return guarded("prefill_score bad arguments throw named errors", () => {
    const T = 5;
    const base = {
      q: new Float32Array(T * 4 * 64),
      k: new Uint16Array(2 * 8 * 64),
      T,
      H: 4,
      KVH: 2,
      D: 64 as const,
      capacity: 8,
      window: 0,
      scale: 0.125,
      mode: 0 as const,
      decay: 1,
      graph: true,
      scores: new Float32Array(2 * 8),
      wantLse: true,
    };
    const tries: [string, Record<string, unknown>][] = [
      ["KVH", { KVH: 3 }],
      ["D", { D: 96 }],
      ["T", { T: 9 }],
      ["mode", { mode: 2 }],
      ["decay", { decay: 1.5 }],
      ["q", { q: new Float32Array(7) }],
      ["k", { k: new Uint16Array(3) }],
      ["scores", { scores: undefined }],
      ["graphInit", { graphInit: new Int32Array(3) }],
      // H / KVH = 4: a graph per query head (1) or per KV head (4), nothing in between
      ["graphGroup", { KVH: 1, k: new Uint16Array(8 * 64), scores: new Float32Array(8), graphGroup: 3 }],
      ["graphGroup", { graphGroup: 4 }],
      ["graphGroup", { graphGroup: 0 }],
    ];
    const wrong: string[] = [];
    for (const [param, over] of tries) {
      try {
        addon.prefillScore({ ...base, ...over } as never);
        wrong.push(`${param}: no error`);
      } catch (err) {
        const e = err as Error & { code?: string; parameter?: string };
        if (e.code !== "KVWALK_INVALID_ARGUMENT" || e.parameter !== param) wrong.push(`${param}: ${e.code ?? e.name} / ${e.parameter ?? "?"}: ${e.message}`);
      }
    }
    return { ok: wrong.length === 0, detail: wrong.length ? wrong.join("; ") : `${tries.length} bad calls rejected with their parameter` };
  });
}

/** All prompt-scoring kernel cases; `quick` keeps one shape per path. */
export function prefillScoreCases(addon: PrefillScoreTestAddon, quick: boolean, flushOnly = false): { name: string; run(): Promise<CaseReport> }[] {
  const full = { mode: 0 as const, decay: 1, graph: true, wantLse: true, window: 0 };
  const shapes: ScoreShape[] = [
    // fixture-like (6 heads, D 64), every output
    { ...full, T: 300, H: 6, KVH: 6, D: 64, capacity: 305 },
    // GQA 8/2, D 128, H2O with decay + graph
    { ...full, T: 129, H: 8, KVH: 2, D: 128, capacity: 131, decay: 0.9 },
    // sliding window
    { ...full, T: 300, H: 4, KVH: 2, D: 64, capacity: 300, window: 37, decay: 0.95 },
    // TOVA alone: pass 1 on the last tile only
    { T: 300, H: 8, KVH: 2, D: 128, capacity: 301, window: 0, mode: 1, decay: 1, graph: false, wantLse: false },
    // T = 1
    { ...full, T: 1, H: 6, KVH: 6, D: 64, capacity: 3 },
    // exact ties
    { ...full, T: 17, H: 4, KVH: 2, D: 64, capacity: 17, ties: true },
    // graph per KV head: GQA 8/2 D 128 (Mistral's group of 4) with H2O in the same launch
    { ...full, T: 300, H: 8, KVH: 2, D: 128, capacity: 303, decay: 0.9, graphGroup: 4 },
    // graph per KV head alone (the workspace without scores), GQA 4/1 D 64, sliding window
    { T: 300, H: 4, KVH: 1, D: 64, capacity: 301, window: 37, mode: -1, decay: 1, graph: true, wantLse: false, graphGroup: 4 },
  ];
  if (!quick) {
    shapes.push(
      { ...full, T: 17, H: 6, KVH: 6, D: 64, capacity: 20 },
      { ...full, T: 300, H: 8, KVH: 2, D: 128, capacity: 333 },
      { ...full, T: 1, H: 8, KVH: 2, D: 128, capacity: 1, mode: 1 },
      { T: 257, H: 6, KVH: 3, D: 64, capacity: 260, window: 0, mode: 0, decay: 0, graph: false, wantLse: false }, // decay 0: last row
      { T: 300, H: 6, KVH: 6, D: 64, capacity: 300, window: 0, mode: 0, decay: 0.97, graph: false, wantLse: false }, // h2o alone
      { T: 300, H: 4, KVH: 2, D: 128, capacity: 310, window: 64, mode: 1, decay: 1, graph: true, wantLse: false }, // tova + window + graph
      { T: 129, H: 8, KVH: 2, D: 128, capacity: 129, window: 0, mode: -1, decay: 1, graph: true, wantLse: false }, // walker: graph only
      { T: 300, H: 8, KVH: 2, D: 128, capacity: 300, window: 5, mode: 0, decay: 1, graph: true, wantLse: true }, // tiny window
      { ...full, T: 300, H: 6, KVH: 6, D: 64, capacity: 300, ties: true },
      // graph per KV head: every KSPLIT of the group pass at D 64 and 128 (groups 2 -> 1, <= 4 -> 2,
      // <= 8 -> 4, else 8), odd groups, windows, TOVA, ties, T = 1
      { ...full, T: 200, H: 4, KVH: 2, D: 64, capacity: 203, window: 0, decay: 0.9, graphGroup: 2 },
      { ...full, T: 129, H: 8, KVH: 2, D: 128, capacity: 131, window: 0, mode: -1, wantLse: false, graphGroup: 4 },
      { ...full, T: 300, H: 4, KVH: 2, D: 128, capacity: 300, window: 64, mode: 1, graphGroup: 2 },
      { ...full, T: 257, H: 6, KVH: 2, D: 64, capacity: 260, window: 0, decay: 0.95, graphGroup: 3, ties: true },
      { ...full, T: 200, H: 14, KVH: 2, D: 128, capacity: 201, window: 0, graphGroup: 7 },
      { ...full, T: 300, H: 8, KVH: 1, D: 64, capacity: 300, window: 5, mode: 1, graphGroup: 8 },
      { ...full, T: 150, H: 8, KVH: 1, D: 128, capacity: 150, window: 100, mode: -1, wantLse: false, graphGroup: 8 },
      { ...full, T: 100, H: 16, KVH: 1, D: 128, capacity: 100, window: 0, graphGroup: 16 },
      { ...full, T: 70, H: 32, KVH: 1, D: 128, capacity: 72, window: 0, mode: 1, graphGroup: 32 },
      { ...full, T: 90, H: 32, KVH: 2, D: 64, capacity: 90, window: 0, graphGroup: 16 },
      { ...full, T: 90, H: 32, KVH: 1, D: 64, capacity: 91, window: 30, decay: 0.9, graphGroup: 32 },
      { ...full, T: 40, H: 40, KVH: 1, D: 64, capacity: 40, window: 0, mode: -1, wantLse: false, graphGroup: 40 },
      { ...full, T: 1, H: 8, KVH: 2, D: 128, capacity: 2, graphGroup: 4 },
      { ...full, T: 17, H: 8, KVH: 2, D: 64, capacity: 17, ties: true, graphGroup: 4 },
    );
  }
  const cases: GpuCase[] = shapes.map((s, i) => scoreCase(addon, s, 7000 + 31 * i + s.T));
  const flush: [ScoreShape, number, number, boolean?][] = [
    // [shape, rowLo, jobs]: MHA D 64 (pass 1 writes the nodes), GQA 8/2 D 128 per KV head (the group
    // pass, Mistral's group of 4), a window, 32 pending rows (one BM tile) and 40 (two)
    [{ T: 90, H: 6, KVH: 6, D: 64, capacity: 96, window: 0, mode: -1, decay: 1, graph: true, wantLse: false }, 58, 3],
    [{ T: 129, H: 8, KVH: 2, D: 128, capacity: 131, window: 0, mode: -1, decay: 1, graph: true, wantLse: false, graphGroup: 4 }, 97, 4],
    // the engine's route for a graph per KV head: the rows' lse from a ring, no pass 1
    [{ T: 129, H: 8, KVH: 2, D: 128, capacity: 131, window: 0, mode: -1, decay: 1, graph: true, wantLse: false, graphGroup: 4 }, 97, 4, true],
  ];
  if (!quick) {
    flush.push(
      [{ T: 300, H: 4, KVH: 2, D: 64, capacity: 300, window: 37, mode: -1, decay: 1, graph: true, wantLse: false, graphGroup: 2 }, 260, 2],
      [{ T: 200, H: 8, KVH: 2, D: 128, capacity: 203, window: 0, mode: -1, decay: 1, graph: true, wantLse: false }, 160, 8],
      [{ T: 17, H: 8, KVH: 2, D: 64, capacity: 17, window: 0, mode: -1, decay: 1, graph: true, wantLse: false, ties: true, graphGroup: 4 }, 0, 1],
      [{ T: 300, H: 4, KVH: 2, D: 64, capacity: 300, window: 37, mode: -1, decay: 1, graph: true, wantLse: false, graphGroup: 2 }, 260, 2, true],
      [{ T: 90, H: 32, KVH: 4, D: 128, capacity: 96, window: 0, mode: -1, decay: 1, graph: true, wantLse: false, graphGroup: 8 }, 50, 3, true],
    );
  }
  const flushCases = flush.map(([sh, rowLo, jobs, ringLse], i) => flushCase(addon, sh, rowLo, jobs, 9100 + 17 * i, ringLse));
  if (flushOnly) return flushCases;
  cases.push(...flushCases);
  cases.push(badArgumentsCase(addon));
  return cases;
}
