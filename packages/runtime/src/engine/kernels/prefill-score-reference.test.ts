import { InvalidArgumentError } from "@kvwalk/core";
import { seededRandom } from "@kvwalk/core/testing";
import { createGraphBatch, decodeAttentionReference } from "@kvwalk/graph-cache";
import { describe, expect, it } from "vitest";
import { attentionMassReference } from "./evict-reference.js";
import { type PrefillScoreInput, prefillScoreReference } from "./prefill-score-reference.js";
import { bf16ToF32, toBf16 } from "./reference.js";

const LN2 = Math.log(2);
const LN3 = Math.log(3);

/**
 * One head, D = 2, keys (0,0), (1,0), (0,1) and a slot 3 that no row may read; rows with logits
 *   row 0: [0]              -> p = [1]
 *   row 1: [0, ln 3]        -> p = [1/4, 3/4]
 *   row 2: [0, ln 2, ln 3]  -> p = [1/6, 2/6, 3/6]
 * (q is f32, so the logits and probabilities hold to f32 rounding).
 */
function handInput(over: Partial<PrefillScoreInput> = {}): PrefillScoreInput {
  return {
    q: Float32Array.of(7, -3, LN3, 0, LN2, LN3),
    k: toBf16([0, 0, 1, 0, 0, 1, 5, 5]),
    T: 3,
    H: 1,
    KVH: 1,
    D: 2,
    capacity: 4,
    window: 0,
    scale: 1,
    ...over,
  };
}

const close = (a: ArrayLike<number>, b: number[], digits = 6) => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < b.length; i++) expect(a[i]).toBeCloseTo(b[i], digits);
};

describe("prefillScoreReference on hand-checked rows", () => {
  it("lse, graph nodes (top keys by weight), H2O column sums and TOVA's last row", () => {
    const r = prefillScoreReference(handInput());
    close(r.lse, [0, Math.log(4), Math.log(6)]);
    expect([...r.indices]).toEqual([0, -1, -1, -1, 1, 0, -1, -1, 2, 1, 0, -1]);
    close(r.weights, [1, 0, 0, 0, 0.75, 0.25, 0, 0, 0.5, 1 / 3, 1 / 6, 0]);
    close(r.h2o, [1 + 1 / 4 + 1 / 6, 3 / 4 + 1 / 3, 1 / 2]);
    close(r.tova, [1 / 6, 1 / 3, 1 / 2]);
  });

  it("H2O decay weighs row t by decay^(T-1-t); decay 0 keeps the last row (TOVA)", () => {
    const r = prefillScoreReference(handInput({ decay: 0.5 }));
    close(r.h2o, [0.25 * 1 + 0.5 * 0.25 + 1 / 6, 0.5 * 0.75 + 1 / 3, 1 / 2]);
    const z = prefillScoreReference(handInput({ decay: 0 }));
    close(z.h2o, [...z.tova]);
  });

  it("a sliding window hides old keys from a row (mass 0, not in the graph)", () => {
    const r = prefillScoreReference(handInput({ window: 2 }));
    // row 2 sees keys 1, 2 only: logits [ln 2, ln 3] -> p = [0.4, 0.6]
    close(r.lse, [0, Math.log(4), Math.log(5)]);
    expect([...r.indices.subarray(8)]).toEqual([2, 1, -1, -1]);
    close(r.weights.subarray(8), [0.6, 0.4, 0, 0]);
    close(r.h2o, [1 + 1 / 4, 3 / 4 + 0.4, 0.6]);
    close(r.tova, [0, 0.4, 0.6]);
  });

  it("sums the query heads of a KV-head group; each head keeps its own graph", () => {
    // head 1 (same KV head) has q = 0: uniform rows
    const base = handInput();
    const q = new Float32Array(3 * 2 * 2);
    for (let t = 0; t < 3; t++) q.set(base.q.subarray(2 * t, 2 * t + 2), t * 4);
    const r = prefillScoreReference({ ...base, q, H: 2 });
    close(r.tova, [1 / 6 + 1 / 3, 1 / 3 + 1 / 3, 1 / 2 + 1 / 3]);
    close(r.h2o, [1 + 1 / 4 + 1 / 6 + 1 + 1 / 2 + 1 / 3, 3 / 4 + 1 / 3 + 1 / 2 + 1 / 3, 1 / 2 + 1 / 3]);
    // head 1, row 2: three equal logits -> keys 0, 1, 2 in index order, weight 1/3 each
    expect([...r.indices.subarray((1 * 3 + 2) * 4, (1 * 3 + 2) * 4 + 4)]).toEqual([0, 1, 2, -1]);
  });

  it("ties go to the lower key index (six equal logits: keys 0..3)", () => {
    const T = 6;
    const r = prefillScoreReference({ q: new Float32Array(T * 2), k: toBf16(new Float32Array(T * 2).fill(1)), T, H: 1, KVH: 1, D: 2, capacity: T, window: 0, scale: 1 });
    expect([...r.indices.subarray(5 * 4)]).toEqual([0, 1, 2, 3]);
    close(r.weights.subarray(5 * 4), [0.25, 0.25, 0.25, 0.25]);
  });

  it("roundQ rounds q to bf16 first (1 + 2^-9 -> 1)", () => {
    const input = { q: Float32Array.of(0, 0, 1 + 2 ** -9, 0), k: toBf16([0, 0, 1, 0]), T: 2, H: 1, KVH: 1, D: 2, capacity: 2, window: 0, scale: 1 };
    const exact = prefillScoreReference(input);
    const rounded = prefillScoreReference({ ...input, roundQ: true });
    expect(exact.lse[1]).toBeCloseTo(Math.log(1 + Math.exp(1 + 2 ** -9)), 6);
    expect(rounded.lse[1]).toBeCloseTo(Math.log(1 + Math.E), 6);
    expect(rounded.lse[1]).not.toBe(exact.lse[1]);
  });

  it("graph per KV head (graphGroup = H / KVH): top-4 of the group-summed probabilities, renormalized", () => {
    // head 1 (same KV head) has q = 0: uniform rows; the group sums are
    //   row 0: [1 + 1]                          -> key 0, weight 1
    //   row 1: [1/4 + 1/2, 3/4 + 1/2]           -> keys 1, 0: weights [5/8, 3/8]
    //   row 2: [1/6 + 1/3, 2/6 + 1/3, 3/6 + 1/3] -> keys 2, 1, 0: weights [5/12, 4/12, 3/12]
    const base = handInput();
    const q = new Float32Array(3 * 2 * 2);
    for (let t = 0; t < 3; t++) q.set(base.q.subarray(2 * t, 2 * t + 2), t * 4);
    const r = prefillScoreReference({ ...base, q, H: 2, graphGroup: 2 });
    expect(r.indices.length).toBe(3 * 4);
    expect([...r.indices]).toEqual([0, -1, -1, -1, 1, 0, -1, -1, 2, 1, 0, -1]);
    close(r.weights, [1, 0, 0, 0, 5 / 8, 3 / 8, 0, 0, 5 / 12, 4 / 12, 3 / 12, 0]);
    // the scores and lse do not depend on the graph's grouping
    const perHead = prefillScoreReference({ ...base, q, H: 2 });
    expect(r.lse).toEqual(perHead.lse);
    expect(r.h2o).toEqual(perHead.h2o);
    expect(r.tova).toEqual(perHead.tova);
    expect(perHead.indices.length).toBe(2 * 3 * 4);
    // a sliding window of 2: row 2 sums [2/5 + 1/2, 3/5 + 1/2] over keys 1, 2 -> weights [0.55, 0.45]
    const w = prefillScoreReference({ ...base, q, H: 2, graphGroup: 2, window: 2 });
    expect([...w.indices.subarray(8)]).toEqual([2, 1, -1, -1]);
    close(w.weights.subarray(8), [0.55, 0.45, 0, 0]);
  });

  it("graph per KV head: equal sums go to the lower key index (six equal logits in two heads: keys 0..3)", () => {
    const T = 6;
    const r = prefillScoreReference({
      q: new Float32Array(T * 2 * 2),
      k: toBf16(new Float32Array(T * 2).fill(1)),
      T,
      H: 2,
      KVH: 1,
      D: 2,
      capacity: T,
      window: 0,
      scale: 1,
      graphGroup: 2,
    });
    expect([...r.indices.subarray(5 * 4)]).toEqual([0, 1, 2, 3]);
    close(r.weights.subarray(5 * 4), [0.25, 0.25, 0.25, 0.25]);
  });

  it("rejects bad arguments with the parameter's name", () => {
    expect(() => prefillScoreReference({ ...handInput(), KVH: 2, H: 3 })).toThrow(InvalidArgumentError);
    expect(() => prefillScoreReference({ ...handInput(), q: new Float32Array(5) })).toThrow(/q/);
    expect(() => prefillScoreReference({ ...handInput(), T: 5 })).toThrow(/T/);
    expect(() => prefillScoreReference({ ...handInput(), decay: 2 })).toThrow(/decay/);
    const gqa = { ...handInput(), q: new Float32Array(3 * 4 * 2), H: 4 };
    expect(() => prefillScoreReference({ ...gqa, graphGroup: 3 })).toThrow(/graphGroup/);
    expect(() => prefillScoreReference({ ...gqa, graphGroup: 2 })).toThrow(/graphGroup/);
    expect(() => prefillScoreReference({ ...gqa, graphGroup: 0 })).toThrow(/graphGroup/);
    expect(() => prefillScoreReference({ ...gqa, graphGroup: 1.5 })).toThrow(/graphGroup/);
    expect(prefillScoreReference({ ...gqa, graphGroup: 4 }).indices.length).toBe(3 * 4);
  });
});

/** Random rows with a sharp enough softmax that the top-4 is not all ties. */
function randomInput(seed: number, o: { T: number; H: number; KVH: number; D: number; capacity: number; window: number; decay: number }): PrefillScoreInput {
  const rnd = seededRandom(seed);
  const g = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  return {
    ...o,
    q: Float32Array.from({ length: o.T * o.H * o.D }, () => 2 * g()),
    k: toBf16(Float32Array.from({ length: o.KVH * o.capacity * o.D }, g)),
    scale: 1 / Math.sqrt(o.D),
  };
}

/** The decode-side twins run one row at a time (teacher forcing), as the engine's decode steps would. */
function decodeRowByRow(input: PrefillScoreInput) {
  const { T, H, KVH, D, capacity, window, scale } = input;
  const decay = input.decay ?? 1;
  const graph = createGraphBatch(H, capacity);
  const lse = new Float32Array(T * H);
  let h2o: Float32Array = new Float32Array(KVH * capacity);
  let tova: Float32Array = new Float32Array(KVH * capacity);
  for (let t = 0; t < T; t++) {
    const q = input.q.slice(t * H * D, (t + 1) * H * D);
    const lengths = Int32Array.of(t + 1);
    const starts = window > 0 ? Int32Array.of(Math.max(0, t + 1 - window)) : null;
    // graph-cache's decode twin has no sliding window: its graph and lse are used without one only
    const dec = decodeAttentionReference({
      batch: 1,
      numHeads: H,
      numKvHeads: KVH,
      headDim: D,
      kvCapacity: capacity,
      q,
      k: input.k,
      v: new Uint16Array(input.k.length),
      lengths,
      scale,
      graph,
      nodes: Int32Array.of(t),
    });
    const rowLse = window > 0 ? prefillScoreReference({ ...input, T: t + 1, q: input.q.slice(0, (t + 1) * H * D) }).lse.subarray(t * H) : dec.lse;
    lse.set(rowLse, t * H);
    const mass = { q, k: input.k, lse: Float32Array.from(rowLse), lengths, starts, B: 1, R: 1, H, KVH, D, C: capacity, scale, decay };
    h2o = attentionMassReference({ ...mass, mode: 0, scores: h2o });
    tova = attentionMassReference({ ...mass, mode: 1, scores: tova });
  }
  return { graph, lse, h2o, tova };
}

describe("prefillScoreReference equals the decode-side twins run row by row", () => {
  for (const [name, o] of [
    ["MHA, decay 1", { T: 13, H: 3, KVH: 3, D: 8, capacity: 16, window: 0, decay: 1 }],
    ["GQA 4/2, decay 0.9", { T: 17, H: 4, KVH: 2, D: 8, capacity: 17, window: 0, decay: 0.9 }],
    ["GQA 4/1, decay 0 (TOVA-like H2O)", { T: 9, H: 4, KVH: 1, D: 4, capacity: 12, window: 0, decay: 0 }],
  ] as const) {
    it(`${name}: graph nodes and lse bit for bit, H2O / TOVA scores within f32 step rounding`, () => {
      const input = randomInput(11 + o.T, o);
      const r = prefillScoreReference(input);
      const d = decodeRowByRow(input);
      const { T, H, KVH, capacity } = o;
      expect(r.lse).toEqual(d.lse);
      for (let h = 0; h < H; h++) {
        for (let t = 0; t < T; t++) {
          const a = (h * T + t) * 4;
          const b = (h * capacity + t) * 4;
          expect([...r.indices.subarray(a, a + 4)]).toEqual([...d.graph.neighbors.subarray(b, b + 4)]);
          expect([...r.weights.subarray(a, a + 4)]).toEqual([...d.graph.weights.subarray(b, b + 4)]);
        }
      }
      // the decode update rounds to f32 after every step (fl(fl(decay s) + fl(m))): T steps of ~2^-24
      for (let kvh = 0; kvh < KVH; kvh++) {
        for (let j = 0; j < T; j++) {
          const want = d.h2o[kvh * capacity + j];
          expect(Math.abs(r.h2o[kvh * T + j] - want)).toBeLessThanOrEqual(1e-5 * Math.abs(want) + 1e-12);
          const wt = d.tova[kvh * capacity + j];
          expect(Math.abs(r.tova[kvh * T + j] - wt)).toBeLessThanOrEqual(1e-6 * Math.abs(wt) + 1e-12);
        }
        for (let j = T; j < capacity; j++) expect(d.h2o[kvh * capacity + j]).toBe(0);
      }
    });
  }

  it("sliding window 5: H2O and TOVA equal attention_mass with starts, row by row", () => {
    const o = { T: 15, H: 4, KVH: 2, D: 8, capacity: 15, window: 5, decay: 0.95 };
    const input = randomInput(5, o);
    const r = prefillScoreReference(input);
    const d = decodeRowByRow(input);
    for (let kvh = 0; kvh < o.KVH; kvh++) {
      for (let j = 0; j < o.T; j++) {
        const want = d.h2o[kvh * o.capacity + j];
        expect(Math.abs(r.h2o[kvh * o.T + j] - want)).toBeLessThanOrEqual(1e-5 * Math.abs(want) + 1e-12);
        expect(Math.abs(r.tova[kvh * o.T + j] - d.tova[kvh * o.capacity + j])).toBeLessThanOrEqual(1e-6 * Math.abs(d.tova[kvh * o.capacity + j]) + 1e-12);
      }
    }
    // keys outside the last row's window have no TOVA mass
    expect(r.tova[0]).toBe(0);
    expect(r.tova[o.T - 6]).toBe(0);
    expect(r.tova[o.T - 5]).toBeGreaterThan(0);
  });
});

/**
 * The group-summed probabilities of row t of KV head kvh over keys 0..t (0 where the window hides a
 * key), written independently of the twin: per head a max-shifted softmax in f64 rounded to f32, summed
 * in f32 in head order.
 */
function groupSums(input: PrefillScoreInput, kvh: number, t: number): Float64Array {
  const { H, KVH, D, capacity, window, scale } = input;
  const G = H / KVH;
  const lo = window > 0 ? Math.max(0, t - window + 1) : 0;
  const v = new Float64Array(t + 1);
  for (let g = 0; g < G; g++) {
    const h = kvh * G + g;
    const s = new Float64Array(t + 1).fill(Number.NEGATIVE_INFINITY);
    for (let j = lo; j <= t; j++) {
      let dot = 0;
      for (let x = 0; x < D; x++) dot += input.q[(t * H + h) * D + x] * bf16ToF32(input.k[(kvh * capacity + j) * D + x]);
      s[j] = dot * scale;
    }
    const m = Math.max(...s);
    let l = 0;
    for (let j = lo; j <= t; j++) l += Math.exp(s[j] - m);
    for (let j = lo; j <= t; j++) v[j] = Math.fround(v[j] + Math.fround(Math.exp(s[j] - m) / l));
  }
  return v;
}

describe("prefillScoreReference's graph per KV head (graphGroup = H / KVH)", () => {
  for (const [name, o] of [
    ["GQA 4/2, decay 0.9", { T: 17, H: 4, KVH: 2, D: 8, capacity: 17, window: 0, decay: 0.9 }],
    ["GQA 8/2, window 5", { T: 21, H: 8, KVH: 2, D: 8, capacity: 24, window: 5, decay: 1 }],
    ["GQA 4/1", { T: 9, H: 4, KVH: 1, D: 4, capacity: 12, window: 0, decay: 0 }],
  ] as const) {
    it(`${name}: each chosen key's sum >= the row's 4th largest, in order, weights = the sums renormalized`, () => {
      const input = randomInput(23 + o.T, o);
      const r = prefillScoreReference({ ...input, graphGroup: o.H / o.KVH });
      expect(r.indices.length).toBe(o.KVH * o.T * 4);
      for (let kvh = 0; kvh < o.KVH; kvh++) {
        for (let t = 0; t < o.T; t++) {
          const v = groupSums(input, kvh, t);
          const sorted = [...v].filter((x) => x > 0).sort((a, b) => b - a);
          const nodes = Math.min(4, sorted.length);
          const fourth = sorted[nodes - 1];
          const off = (kvh * o.T + t) * 4;
          const keys = [...r.indices.subarray(off, off + 4)];
          const wts = [...r.weights.subarray(off, off + 4)];
          expect(keys.slice(nodes)).toEqual(new Array(4 - nodes).fill(-1));
          expect(new Set(keys.slice(0, nodes)).size).toBe(nodes);
          let sum = 0;
          for (let sl = 0; sl < nodes; sl++) sum += v[keys[sl]];
          for (let sl = 0; sl < nodes; sl++) {
            const j = keys[sl];
            expect(j).toBeGreaterThanOrEqual(o.window > 0 ? Math.max(0, t - o.window + 1) : 0);
            expect(j).toBeLessThanOrEqual(t);
            // tie-safe: the twin's f64 softmax differs from this one by rounding only
            expect(v[j]).toBeGreaterThanOrEqual(fourth * (1 - 1e-6));
            if (sl > 0) expect(wts[sl]).toBeLessThanOrEqual(wts[sl - 1]);
            expect(wts[sl]).toBeCloseTo(v[j] / sum, 6);
          }
        }
      }
    });
  }

  it("graphGroup 1 is the per-query-head output; a KV head whose two query heads are identical gets that head's nodes bit for bit", () => {
    const o = { T: 19, H: 4, KVH: 2, D: 8, capacity: 20, window: 0, decay: 0.9 };
    const input = randomInput(3, o);
    const byDefault = prefillScoreReference(input);
    const one = prefillScoreReference({ ...input, graphGroup: 1 });
    expect(one).toEqual(byDefault);
    expect(one.indices.length).toBe(o.H * o.T * 4);
    // MHA: graphGroup = H / KVH = 1 is the per-head graph
    const mha = randomInput(4, { ...o, H: 3, KVH: 3 });
    expect(prefillScoreReference({ ...mha, graphGroup: 1 })).toEqual(prefillScoreReference(mha));
    // heads 2g and 2g+1 equal: v = p + p = 2p exactly, so the ranking and the renormalized weights are p's
    // (as long as no two logits of a row round to the same f32 p, which holds for these random rows)
    const q = input.q.slice();
    for (let t = 0; t < o.T; t++) {
      for (let kvh = 0; kvh < o.KVH; kvh++) q.copyWithin((t * o.H + 2 * kvh + 1) * o.D, (t * o.H + 2 * kvh) * o.D, (t * o.H + 2 * kvh + 1) * o.D);
    }
    const perHead = prefillScoreReference({ ...input, q });
    const perKv = prefillScoreReference({ ...input, q, graphGroup: 2 });
    for (let kvh = 0; kvh < o.KVH; kvh++) {
      const a = perKv.indices.subarray(kvh * o.T * 4, (kvh + 1) * o.T * 4);
      const b = perHead.indices.subarray(2 * kvh * o.T * 4, (2 * kvh + 1) * o.T * 4);
      expect([...a]).toEqual([...b]);
      expect([...perKv.weights.subarray(kvh * o.T * 4, (kvh + 1) * o.T * 4)]).toEqual([...perHead.weights.subarray(2 * kvh * o.T * 4, (2 * kvh + 1) * o.T * 4)]);
    }
  });
});
