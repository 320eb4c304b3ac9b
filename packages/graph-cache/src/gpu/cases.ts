/**
 * CUDA-vs-twin comparisons shared by the vitest GPU suite (src/gpu/gpu.test.ts) and the plain-node
 * check (src/gpu/check.ts). Each case builds its inputs from a seed, runs the kernel and the
 * TypeScript twin, and returns a report; nothing here asserts, so the check can record every case.
 *
 * Tolerances (one table, see TOLERANCES): the top-4 writer and the compaction are exact float32
 * programs on both sides, so they must agree to the bit. Decode attention reads the same bf16 K/V on
 * both sides, so bf16 rounding is not part of the difference; what remains is float32 accumulation
 * and exp2f/log2f in the kernel against float64 in the twin.
 */
import { compareClose, seededRandom } from "@kvwalk/core/testing";
import { f32ToBf16, toBf16 } from "../bf16.js";
import { compactGraphBatch } from "../compact.js";
import { type DecodeAttentionInput, decodeAttentionReference, type GraphHeads } from "../decode-attention.js";
import { compactGraphBatchCuda, decodeAttentionCuda, type GraphLayout, type GraphWrite, writeTopKRowsCuda } from "../gpu.js";
import { createGraphBatch, GRAPH_TOP_K, type GraphBatch } from "../graph.js";
import { type TopKRows, writeTopKRows } from "../topk.js";

export const TOLERANCES = {
  /**
   * Decode output: |cuda - ref| <= atol + rtol |ref|. The float32 error of a softmax-weighted mean of
   * L values with |v| <= ~5 stays near 1e-6..1e-5 (sequential sums of <= L/8 terms per key group,
   * exp2f within 2 ulp); 1e-4 absolute leaves a 10x margin yet is 40x tighter than bf16's own
   * resolution (2^-8 = 3.9e-3 relative), so a kernel that rounded P or the output to bf16 would fail.
   */
  decodeOutput: { atol: 1e-4, rtol: 1e-3 },
  /** Log-sum-exp (natural log, values ~ log L): float32 rounding of values up to ~20. */
  decodeLse: { atol: 1e-4, rtol: 1e-5 },
  /** Graph weights from the kernel's exp2f(s - lse) vs float64 exp: a few float32 ulps of values <= 1. */
  decodeGraphWeight: 2e-5,
  /**
   * Two keys count as tied when their float64 logits differ by less than this multiple of the
   * float32 dot-product error bound (D * 2^-24 * sum|q_i k_i| * scale, plus 4 ulps of the logit).
   */
  tieBoundFactor: 2,
} as const;

export interface CaseReport {
  name: string;
  ok: boolean;
  detail: string;
  metrics?: Record<string, number>;
}

const gaussian = (rnd: () => number) => () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());

function sameBits(a: Float32Array, b: Float32Array): number {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let diff = 0;
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) diff++;
  return diff;
}

function sameInts(a: Int32Array, b: Int32Array): number {
  let diff = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) diff++;
  return diff;
}

function cloneBatch(b: GraphBatch): GraphBatch {
  return { numGraphs: b.numGraphs, capacity: b.capacity, neighbors: b.neighbors.slice(), weights: b.weights.slice() };
}

/** Random probability rows: quantized values (many ties), zeros, negatives, NaN, +inf when adversarial. */
export function topKCase(seed: number, numGraphs: number, capacity: number, rowCount: number, n: number, adversarial: boolean, layout: GraphLayout): CaseReport {
  const rnd = seededRandom(seed);
  const name = `topk g=${numGraphs} cap=${capacity} rows=${rowCount} n=${n}${adversarial ? " adversarial" : ""} ${layout}`;
  const slots = Array.from({ length: numGraphs * capacity }, (_, i) => i);
  for (let i = slots.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [slots[i], slots[j]] = [slots[j], slots[i]];
  }
  const rows = Math.min(rowCount, slots.length);
  const graphIds = Int32Array.from({ length: rows }, (_, r) => Math.floor(slots[r] / capacity));
  const nodes = Int32Array.from({ length: rows }, (_, r) => slots[r] % capacity);
  const probs = Float32Array.from({ length: rows * n }, () => {
    const u = rnd();
    if (adversarial && u < 0.05) return Number.NaN;
    if (adversarial && u < 0.07) return Number.POSITIVE_INFINITY;
    if (adversarial && u < 0.12) return -rnd();
    if (u < 0.2) return 0;
    return u < 0.6 ? Math.floor(rnd() * 16) / 16 : rnd() * 1e-3;
  });
  const input: TopKRows = { probs, n, graphIds, nodes };
  const base = createGraphBatch(numGraphs, capacity);
  // Pre-existing content (must survive where no row writes).
  for (let i = 0; i < base.neighbors.length; i++) {
    base.neighbors[i] = Math.floor(rnd() * capacity);
    base.weights[i] = rnd();
  }
  const twin = cloneBatch(base);
  writeTopKRows(twin, input);
  const cuda = cloneBatch(base);
  writeTopKRowsCuda(cuda, input, { layout });
  const dn = sameInts(cuda.neighbors, twin.neighbors);
  const dw = sameBits(cuda.weights, twin.weights);
  return { name, ok: dn === 0 && dw === 0, detail: `${dn} neighbour and ${dw} weight entries differ bitwise (expected 0)` };
}

/** Random graphs (adversarial: out-of-range indices both ways, NaN/negative weights, dead ends). */
export function compactCase(seed: number, numGraphs: number, capacity: number, adversarial: boolean, layout: GraphLayout, keepFraction = 0.6): CaseReport {
  const rnd = seededRandom(seed);
  const name = `compact g=${numGraphs} cap=${capacity} keep=${keepFraction}${adversarial ? " adversarial" : ""} ${layout}`;
  const batch = createGraphBatch(numGraphs, capacity);
  for (let i = 0; i < batch.neighbors.length; i++) {
    const u = rnd();
    if (adversarial && u < 0.1) batch.neighbors[i] = Math.floor(rnd() * 4 * capacity) - 2 * capacity - 1;
    else if (adversarial && u < 0.2) batch.neighbors[i] = -1;
    else batch.neighbors[i] = Math.floor(rnd() * capacity);
    batch.weights[i] = adversarial && rnd() < 0.1 ? (rnd() < 0.5 ? Number.NaN : -rnd()) : rnd();
  }
  const keep = Uint8Array.from({ length: numGraphs * capacity }, () => (rnd() < keepFraction ? (adversarial ? 1 + Math.floor(rnd() * 255) : 1) : 0));
  const twin = compactGraphBatch(batch, keep);
  const cuda = compactGraphBatchCuda(batch, keep, { layout });
  const dn = sameInts(cuda.batch.neighbors, twin.batch.neighbors);
  const dw = sameBits(cuda.batch.weights, twin.batch.weights);
  const dk = sameInts(cuda.kept, twin.kept);
  return { name, ok: dn + dw + dk === 0, detail: `${dn} neighbours, ${dw} weights, ${dk} kept counts differ (expected 0)` };
}

export interface DecodeShape {
  batch: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  kvCapacity: number;
}

export function randomDecodeInput(
  seed: number,
  shape: DecodeShape,
  opts: { withGraph: boolean; fullLength?: boolean; qScale?: number; graphHeads?: GraphHeads },
): DecodeAttentionInput {
  const rnd = seededRandom(seed);
  const g = gaussian(rnd);
  const { batch, numHeads, numKvHeads, headDim, kvCapacity } = shape;
  const q = Float32Array.from({ length: batch * numHeads * headDim }, () => (opts.qScale ?? 2) * g());
  const kvLen = batch * numKvHeads * kvCapacity * headDim;
  const k = toBf16(Float32Array.from({ length: kvLen }, g));
  const v = toBf16(Float32Array.from({ length: kvLen }, g));
  const lengths = Int32Array.from({ length: batch }, (_, b) => (opts.fullLength || b === 0 ? kvCapacity : 1 + Math.floor(rnd() * kvCapacity)));
  const perKv = opts.graphHeads === "kv";
  const graph = opts.withGraph ? createGraphBatch(batch * (perKv ? numKvHeads : numHeads), kvCapacity) : undefined;
  return { ...shape, q, k, v, lengths, graph, ...(perKv ? { graphHeads: "kv" as const } : {}) };
}

/**
 * Float64 summed group probabilities v_j = sum_g exp(s_gj - lse_g) of KV head `kvh` and their error
 * bounds (the tie rule of the per-KV-head graph check): each p_gj carries its logit's bound plus the
 * log-sum-exp's (at most the largest logit bound of the row), relative, and 4 float32 ulps of v_j.
 */
function groupSumsWithBounds(input: DecodeAttentionInput, b: number, kvh: number): { v: Float64Array; bound: Float64Array } {
  const group = input.numHeads / input.numKvHeads;
  const len = input.lengths[b];
  const v = new Float64Array(len);
  const bound = new Float64Array(len);
  for (let g = 0; g < group; g++) {
    const { s, bound: sb } = logitsWithBounds(input, b, kvh * group + g);
    let m = Number.NEGATIVE_INFINITY;
    let maxBound = 0;
    for (let j = 0; j < len; j++) {
      m = Math.max(m, s[j]);
      maxBound = Math.max(maxBound, sb[j]);
    }
    let l = 0;
    for (let j = 0; j < len; j++) l += Math.exp(s[j] - m);
    const lse = m + Math.log(l);
    for (let j = 0; j < len; j++) {
      const p = Math.exp(s[j] - lse);
      v[j] += p;
      bound[j] += p * (sb[j] + maxBound);
    }
  }
  for (let j = 0; j < len; j++) bound[j] += 4 * 2 ** -24 * v[j];
  return { v, bound };
}

/** Float64 logits and their float32 error bounds for one (b, h) (the tie rule of the graph check). */
function logitsWithBounds(input: DecodeAttentionInput, b: number, h: number): { s: Float64Array; bound: Float64Array } {
  const { numHeads, numKvHeads, headDim: d, kvCapacity } = input;
  const kvh = Math.floor(h / (numHeads / numKvHeads));
  const scale = input.scale ?? 1 / Math.sqrt(d);
  const len = input.lengths[b];
  const s = new Float64Array(len);
  const bound = new Float64Array(len);
  const kf = new Float32Array(1);
  const ku = new Uint32Array(kf.buffer);
  for (let j = 0; j < len; j++) {
    let dot = 0;
    let abs = 0;
    for (let x = 0; x < d; x++) {
      ku[0] = input.k[((b * numKvHeads + kvh) * kvCapacity + j) * d + x] << 16;
      const t = input.q[(b * numHeads + h) * d + x] * kf[0];
      dot += t;
      abs += Math.abs(t);
    }
    s[j] = dot * scale;
    bound[j] = TOLERANCES.tieBoundFactor * ((d + 2) * 2 ** -24 * abs * Math.abs(scale) + 4 * 2 ** -24 * Math.abs(s[j]));
  }
  return { s, bound };
}

/** Compares CUDA decode attention with the twin: output, lse, and (with a graph) the top-4 modulo ties. */
export function decodeCase(
  seed: number,
  shape: DecodeShape,
  opts: {
    withGraph: boolean;
    numSplits?: number;
    layout: GraphLayout;
    nanQuery?: boolean;
    fullLength?: boolean;
    pdl?: boolean;
    grouped?: boolean;
    graphWrite?: GraphWrite;
    graphHeads?: GraphHeads;
  },
): CaseReport {
  const perKv = opts.graphHeads === "kv";
  const name = `decode b=${shape.batch} h=${shape.numHeads}/${shape.numKvHeads} d=${shape.headDim} cap=${shape.kvCapacity} splits=${opts.numSplits ?? "auto"}${opts.withGraph ? ` graph ${opts.layout}` : ""}${perKv ? " per-kv-head" : ""}${opts.graphWrite === "deferred" ? " deferred" : ""}${opts.nanQuery ? " nan-query" : ""}${opts.pdl ? " pdl" : ""}${opts.grouped ? " grouped" : ""}`;
  const input = randomDecodeInput(seed, shape, { withGraph: opts.withGraph, fullLength: opts.fullLength, graphHeads: opts.graphHeads });
  if (opts.nanQuery) input.q[0] = Number.NaN;
  const refInput = { ...input, graph: input.graph ? cloneBatch(input.graph) : undefined };
  const ref = decodeAttentionReference(refInput);
  const cudaInput = { ...input, graph: input.graph ? cloneBatch(input.graph) : undefined };
  const cuda = decodeAttentionCuda(cudaInput, {
    numSplits: opts.numSplits,
    layout: opts.layout,
    outputBf16: true,
    pdl: opts.pdl,
    grouped: opts.grouped,
    graphWrite: opts.graphWrite,
  });
  const out = compareClose(cuda.output, ref.output, TOLERANCES.decodeOutput);
  const lse = compareClose(cuda.lse, ref.lse, TOLERANCES.decodeLse);
  const problems: string[] = [];
  // The kernel's bf16 output is its own float32 output rounded to nearest even, bit for bit (NaN: any NaN).
  let bf16Mismatches = 0;
  const ob = cuda.outputBf16!;
  for (let i = 0; i < ob.length; i++) {
    const want = f32ToBf16(cuda.output[i]);
    const isNan = (x: number) => (x & 0x7f80) === 0x7f80 && (x & 0x7f) !== 0;
    if (ob[i] !== want && !(isNan(ob[i]) && isNan(want))) bf16Mismatches++;
  }
  if (bf16Mismatches > 0) problems.push(`bf16 output: ${bf16Mismatches} values differ from the rounded float32 output`);
  if (!out.ok) problems.push(`output: ${out.mismatches} outside tolerance, max |diff| ${out.maxAbs.toExponential(2)} at ${out.worstIndex}`);
  if (!lse.ok) problems.push(`lse: ${lse.mismatches} outside tolerance, max |diff| ${lse.maxAbs.toExponential(2)}`);
  let exactNodes = 0;
  let tieNodes = 0;
  let maxWeightDiff = 0;
  if (opts.withGraph) {
    const gc = cudaInput.graph!;
    const gr = refInput.graph!;
    // Nodes no head writes must be untouched: compare everything, then explain differing nodes.
    const graphHeads = perKv ? shape.numKvHeads : shape.numHeads;
    for (let b = 0; b < shape.batch; b++) {
      for (let h = 0; h < graphHeads; h++) {
        const node = input.lengths[b] - 1;
        const off = ((b * graphHeads + h) * gc.capacity + node) * GRAPH_TOP_K;
        let identical = true;
        for (let s = 0; s < GRAPH_TOP_K; s++) {
          if (gc.neighbors[off + s] !== gr.neighbors[off + s]) identical = false;
          const wd = Math.abs(gc.weights[off + s] - gr.weights[off + s]);
          if (!(wd <= TOLERANCES.decodeGraphWeight)) problems.push(`graph (b=${b}, h=${h}) weight ${s}: cuda ${gc.weights[off + s]} twin ${gr.weights[off + s]}`);
          if (wd > maxWeightDiff) maxWeightDiff = wd;
        }
        if (identical) {
          exactNodes++;
          continue;
        }
        // per query head: ranked by logit; per KV head: by summed probability (same tie rule on either)
        const { v: s, bound } = perKv ? groupSumsWithBounds(input, b, h) : (({ s: v, bound: vb }) => ({ v, bound: vb }))(logitsWithBounds(input, b, h));
        for (let k = 0; k < GRAPH_TOP_K; k++) {
          const jc = gc.neighbors[off + k];
          const jr = gr.neighbors[off + k];
          if (jc === jr) continue;
          const tied = jc >= 0 && jr >= 0 && Math.abs(s[jc] - s[jr]) <= bound[jc] + bound[jr];
          if (!tied) problems.push(`graph (b=${b}, h=${h}) entry ${k}: cuda key ${jc} (logit ${s[jc]}) vs twin key ${jr} (logit ${s[jr]}): not a tie`);
        }
        tieNodes++;
      }
    }
    const dn = sameInts(gc.neighbors, gr.neighbors);
    const written = shape.batch * graphHeads * GRAPH_TOP_K;
    if (dn > written) problems.push(`graph: ${dn} neighbour entries differ, more than the ${written} written ones`);
  }
  return {
    name,
    ok: problems.length === 0,
    detail: problems.length ? problems.slice(0, 5).join("; ") : `ok (splits ${cuda.numSplits})`,
    metrics: {
      numSplits: cuda.numSplits,
      outputMaxAbsDiff: out.maxAbs,
      lseMaxAbsDiff: lse.maxAbs,
      graphNodesExact: exactNodes,
      graphNodesTieSwapped: tieNodes,
      graphMaxWeightDiff: maxWeightDiff,
    },
  };
}

/**
 * The deferred graph write against the fused one on the device, same input and split count: output,
 * lse and every graph entry identical to the bit (same logits, same total order, same log2-sum-exp).
 */
export function deferredCase(
  seed: number,
  shape: DecodeShape,
  opts: { numSplits: number; layout: GraphLayout; grouped?: boolean; pdl?: boolean; nanQuery?: boolean },
): CaseReport {
  const name = `decode deferred = fused b=${shape.batch} h=${shape.numHeads}/${shape.numKvHeads} d=${shape.headDim} cap=${shape.kvCapacity} splits=${opts.numSplits} ${opts.layout}${opts.grouped ? " grouped" : ""}${opts.pdl ? " pdl" : ""}${opts.nanQuery ? " nan-query" : ""}`;
  const input = randomDecodeInput(seed, shape, { withGraph: true });
  if (opts.nanQuery) input.q[0] = Number.NaN;
  const run = (graphWrite: GraphWrite) => {
    const x = { ...input, graph: cloneBatch(input.graph!) };
    const r = decodeAttentionCuda(x, { numSplits: opts.numSplits, layout: opts.layout, grouped: opts.grouped, pdl: opts.pdl, graphWrite });
    return { ...r, graph: x.graph };
  };
  const fused = run("fused");
  const deferred = run("deferred");
  const problems: string[] = [];
  const d = {
    output: sameBits(fused.output, deferred.output),
    lse: sameBits(fused.lse, deferred.lse),
    neighbors: sameInts(fused.graph.neighbors, deferred.graph.neighbors),
    weights: sameBits(fused.graph.weights, deferred.graph.weights),
  };
  for (const [k, v] of Object.entries(d)) if (v > 0) problems.push(`${k}: ${v} entries differ`);
  if (fused.numSplits !== deferred.numSplits) problems.push(`splits ${fused.numSplits} vs ${deferred.numSplits}`);
  return {
    name,
    ok: problems.length === 0,
    detail: problems.length ? problems.join("; ") : `ok (bit-identical, splits ${deferred.numSplits})`,
    metrics: { numSplits: deferred.numSplits, ...Object.fromEntries(Object.entries(d).map(([k, v]) => [`${k}Differing`, v])) },
  };
}

/** The case list; `quick` keeps sizes small for compute-sanitizer runs. */
export function allCases(quick: boolean): { name: string; run: () => CaseReport }[] {
  const cases: { name: string; run: () => CaseReport }[] = [];
  const add = (name: string, run: () => CaseReport) => cases.push({ name, run });
  let seed = 100;
  for (const layout of ["aos", "soa"] as const) {
    for (const [g, cap, rows, n, adv] of [
      [1, 1, 1, 0, false],
      [1, 1, 1, 1, true],
      [3, 5, 15, 7, true],
      [4, 64, 40, 300, true],
      [2, 17, 20, 33, false],
      ...(quick ? [] : [[32, 4096, 32, 4096, false], [64, 512, 2000, 1000, true]]),
    ] as [number, number, number, number, boolean][]) {
      const s = seed++;
      add(`topk ${layout} ${g}x${cap}`, () => topKCase(s, g, cap, rows, n, adv, layout));
    }
    for (const [g, cap, adv, keep] of [
      [1, 0, true, 0.5],
      [1, 1, true, 1],
      [1, 1, false, 0],
      [4, 33, true, 0.6],
      [3, 1025, true, 0.3],
      [2, 100, false, 1],
      [2, 100, true, 0],
      ...(quick ? [] : [[64, 4096, false, 0.8], [8, 20000, true, 0.5]]),
    ] as [number, number, boolean, number][]) {
      const s = seed++;
      add(`compact ${layout} ${g}x${cap}`, () => compactCase(s, g, cap, adv, layout, keep));
    }
  }
  const decodeShapes: [DecodeShape, number | undefined, boolean, GraphLayout][] = [
    [{ batch: 1, numHeads: 1, numKvHeads: 1, headDim: 32, kvCapacity: 1 }, undefined, true, "aos"],
    [{ batch: 2, numHeads: 4, numKvHeads: 2, headDim: 64, kvCapacity: 37 }, 1, true, "aos"],
    [{ batch: 2, numHeads: 4, numKvHeads: 2, headDim: 64, kvCapacity: 37 }, 7, true, "soa"],
    [{ batch: 1, numHeads: 2, numKvHeads: 2, headDim: 128, kvCapacity: 5 }, 64, true, "aos"],
    [{ batch: 3, numHeads: 8, numKvHeads: 1, headDim: 256, kvCapacity: 300 }, undefined, true, "aos"],
    [{ batch: 2, numHeads: 6, numKvHeads: 6, headDim: 64, kvCapacity: 600 }, undefined, false, "aos"],
    ...(quick
      ? []
      : ([
          [{ batch: 1, numHeads: 32, numKvHeads: 32, headDim: 128, kvCapacity: 4096 }, undefined, true, "aos"],
          [{ batch: 1, numHeads: 32, numKvHeads: 32, headDim: 128, kvCapacity: 4096 }, undefined, false, "aos"],
          [{ batch: 4, numHeads: 32, numKvHeads: 8, headDim: 128, kvCapacity: 2048 }, undefined, true, "soa"],
          [{ batch: 1, numHeads: 8, numKvHeads: 8, headDim: 128, kvCapacity: 32768 }, undefined, true, "aos"],
          [{ batch: 2, numHeads: 16, numKvHeads: 16, headDim: 64, kvCapacity: 1000 }, 1, true, "aos"],
        ] as [DecodeShape, number | undefined, boolean, GraphLayout][])),
  ];
  for (const [shape, splits, graph, layout] of decodeShapes) {
    const s = seed++;
    add(`decode ${JSON.stringify(shape)} splits=${splits}`, () => decodeCase(s, shape, { withGraph: graph, numSplits: splits, layout }));
  }
  // Programmatic dependent launch (the engine's launch): same results; > 32 splits takes the warp-merge tail.
  for (const [shape, splits] of [
    [{ batch: 2, numHeads: 4, numKvHeads: 2, headDim: 64, kvCapacity: 37 }, 7],
    [{ batch: 1, numHeads: 4, numKvHeads: 4, headDim: 128, kvCapacity: 9000 }, 33],
  ] as [DecodeShape, number][]) {
    const s = seed++;
    add(`decode pdl ${JSON.stringify(shape)} splits=${splits}`, () => decodeCase(s, shape, { withGraph: true, numSplits: splits, layout: "aos", pdl: true }));
  }
  // The grouped-query kernel (one block per KV head) against the same twin and tolerances.
  for (const [shape, splits, graph, layout, pdl] of [
    [{ batch: 2, numHeads: 4, numKvHeads: 2, headDim: 64, kvCapacity: 37 }, 7, true, "aos", false],
    [{ batch: 3, numHeads: 8, numKvHeads: 2, headDim: 128, kvCapacity: 300 }, undefined, true, "soa", true],
    [{ batch: 2, numHeads: 8, numKvHeads: 2, headDim: 128, kvCapacity: 600 }, undefined, false, "aos", false],
    [{ batch: 1, numHeads: 4, numKvHeads: 1, headDim: 128, kvCapacity: 9000 }, 33, true, "aos", true],
    ...(quick ? [] : ([[{ batch: 4, numHeads: 32, numKvHeads: 8, headDim: 128, kvCapacity: 2048 }, undefined, true, "aos", true]] as const)),
  ] as [DecodeShape, number | undefined, boolean, GraphLayout, boolean][]) {
    const s = seed++;
    add(`decode grouped ${JSON.stringify(shape)} splits=${splits}`, () => decodeCase(s, shape, { withGraph: graph, numSplits: splits, layout, pdl, grouped: true }));
  }
  const s = seed++;
  add("decode nan query", () =>
    decodeCase(s, { batch: 2, numHeads: 2, numKvHeads: 1, headDim: 64, kvCapacity: 700 }, { withGraph: true, numSplits: 3, layout: "aos", nanQuery: true }),
  );
  // The deferred graph write (logits stored by the baseline kernel, nodes by graph_select_kernel): against
  // the twin (automatic splits: the baseline kernel's rule), and bit for bit against the fused write.
  for (const [shape, splits, layout, grouped, pdl] of [
    [{ batch: 1, numHeads: 1, numKvHeads: 1, headDim: 32, kvCapacity: 1 }, undefined, "aos", false, false],
    [{ batch: 2, numHeads: 4, numKvHeads: 2, headDim: 64, kvCapacity: 37 }, 7, "soa", false, true],
    [{ batch: 3, numHeads: 8, numKvHeads: 1, headDim: 256, kvCapacity: 300 }, undefined, "aos", false, false],
    [{ batch: 3, numHeads: 8, numKvHeads: 2, headDim: 128, kvCapacity: 300 }, undefined, "aos", true, true],
    [{ batch: 1, numHeads: 4, numKvHeads: 1, headDim: 128, kvCapacity: 9000 }, 33, "aos", true, true],
    ...(quick
      ? []
      : ([
          [{ batch: 1, numHeads: 32, numKvHeads: 32, headDim: 128, kvCapacity: 4096 }, undefined, "aos", false, true],
          [{ batch: 4, numHeads: 32, numKvHeads: 8, headDim: 128, kvCapacity: 2048 }, undefined, "aos", true, true],
          [{ batch: 1, numHeads: 8, numKvHeads: 8, headDim: 128, kvCapacity: 32768 }, undefined, "aos", false, false],
        ] as const)),
  ] as [DecodeShape, number | undefined, GraphLayout, boolean, boolean][]) {
    const s1 = seed++;
    add(`decode deferred ${JSON.stringify(shape)} splits=${splits}`, () =>
      decodeCase(s1, shape, { withGraph: true, numSplits: splits, layout, pdl, grouped, graphWrite: "deferred" }),
    );
  }
  for (const [shape, splits, layout, grouped, nanQuery] of [
    [{ batch: 2, numHeads: 4, numKvHeads: 2, headDim: 64, kvCapacity: 37 }, 3, "aos", false, false],
    [{ batch: 2, numHeads: 4, numKvHeads: 4, headDim: 128, kvCapacity: 5000 }, 40, "soa", false, false],
    [{ batch: 2, numHeads: 8, numKvHeads: 2, headDim: 128, kvCapacity: 700 }, 2, "aos", true, false],
    [{ batch: 2, numHeads: 8, numKvHeads: 2, headDim: 128, kvCapacity: 700 }, 2, "soa", false, false],
    [{ batch: 1, numHeads: 16, numKvHeads: 2, headDim: 64, kvCapacity: 530 }, 3, "aos", false, false],
    [{ batch: 2, numHeads: 2, numKvHeads: 1, headDim: 64, kvCapacity: 700 }, 3, "aos", false, true],
    ...(quick ? [] : ([[{ batch: 8, numHeads: 32, numKvHeads: 32, headDim: 128, kvCapacity: 4096 }, 2, "aos", false, false]] as const)),
  ] as [DecodeShape, number, GraphLayout, boolean, boolean][]) {
    const s2 = seed++;
    add(`decode deferred = fused ${JSON.stringify(shape)} splits=${splits}`, () => deferredCase(s2, shape, { numSplits: splits, layout, grouped, nanQuery, pdl: true }));
  }
  // One graph per KV head (graph_select_group_kernel, the group's summed probabilities) against the twin.
  for (const [shape, splits, layout, grouped, nanQuery] of [
    [{ batch: 2, numHeads: 4, numKvHeads: 2, headDim: 64, kvCapacity: 37 }, 3, "aos", false, false],
    [{ batch: 3, numHeads: 8, numKvHeads: 2, headDim: 128, kvCapacity: 300 }, undefined, "soa", true, false],
    [{ batch: 1, numHeads: 16, numKvHeads: 2, headDim: 64, kvCapacity: 530 }, 3, "aos", false, false],
    [{ batch: 2, numHeads: 4, numKvHeads: 4, headDim: 64, kvCapacity: 100 }, 2, "aos", false, false],
    [{ batch: 2, numHeads: 6, numKvHeads: 2, headDim: 64, kvCapacity: 2100 }, undefined, "soa", false, false], // group 3: the run-time group loop
    [{ batch: 2, numHeads: 2, numKvHeads: 1, headDim: 64, kvCapacity: 700 }, 3, "aos", false, true],
    [{ batch: 1, numHeads: 4, numKvHeads: 1, headDim: 128, kvCapacity: 9000 }, 33, "aos", true, false],
    ...(quick ? [] : ([[{ batch: 4, numHeads: 32, numKvHeads: 8, headDim: 128, kvCapacity: 2048 }, undefined, "aos", true, false]] as const)),
  ] as [DecodeShape, number | undefined, GraphLayout, boolean, boolean][]) {
    const s3 = seed++;
    add(`decode per-kv-head ${JSON.stringify(shape)} splits=${splits}`, () =>
      decodeCase(s3, shape, { withGraph: true, numSplits: splits, layout, grouped, nanQuery, pdl: true, graphWrite: "deferred", graphHeads: "kv" }),
    );
  }
  return cases;
}
