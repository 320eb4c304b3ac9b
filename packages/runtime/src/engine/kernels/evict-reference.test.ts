import { seededRandom } from "@kvwalk/core/testing";
import { compactGraph, createGraph } from "@kvwalk/graph-cache";
import { describe, expect, it } from "vitest";
import {
  attentionMassReference,
  countsToScoresReference,
  graphRemapReference,
  graphToNodes,
  nodesToGraph,
  remapFromKeep,
  scoreKey,
  selectCompactReference,
  selectKeep,
} from "./evict-reference.js";
import { toBf16 } from "./reference.js";

const keptSlots = (keep: Uint8Array) => [...keep].flatMap((v, j) => (v ? [j] : []));

describe("scoreKey", () => {
  it("orders NaN < -inf < negatives < -0 = +0 < positives < inf", () => {
    const order = [Number.NaN, Number.NEGATIVE_INFINITY, -3, -1e-40, 0, 1e-40, 2, Number.POSITIVE_INFINITY];
    for (let i = 1; i < order.length; i++) expect(scoreKey(order[i])).toBeGreaterThan(scoreKey(order[i - 1]));
    expect(scoreKey(-0)).toBe(scoreKey(0));
    expect(scoreKey(Number.NaN)).toBe(0);
  });
});

describe("selectKeep", () => {
  // len 12, sinks 2, recent 3: protected {0, 1, 9, 10, 11}, candidates 2..8
  const rule = { len: 12, budget: 7, sinks: 2, recent: 3 };
  it("keeps the protected set plus the best candidates, ties toward the more recent slot", () => {
    const s = new Float32Array([9, 9, 1, 5, 5, 0, 5, 2, 3, 0, 0, 0]);
    expect(keptSlots(selectKeep(s, rule))).toEqual([0, 1, 4, 6, 9, 10, 11]);
    const budget8 = keptSlots(selectKeep(s, { ...rule, budget: 8 }));
    expect(budget8).toEqual([0, 1, 3, 4, 6, 9, 10, 11]);
  });
  it("ranks NaN lowest (ties among NaN toward recency) and -0 equal to +0", () => {
    const s = new Float32Array([0, 0, Number.NaN, Number.NEGATIVE_INFINITY, Number.NaN, Number.NaN, Number.NaN, Number.NaN, Number.NaN, 0, 0, 0]);
    expect(keptSlots(selectKeep(s, { ...rule, budget: 6 }))).toEqual([0, 1, 3, 9, 10, 11]);
    expect(keptSlots(selectKeep(s, { ...rule, budget: 7 }))).toEqual([0, 1, 3, 8, 9, 10, 11]);
    const z = new Float32Array([0, 0, 0, -0, 0, -0, -1, -1, -1, 0, 0, 0]);
    expect(keptSlots(selectKeep(z, { ...rule, budget: 7 }))).toEqual([0, 1, 4, 5, 9, 10, 11]);
  });
  it("scores null ranks by slot (StreamingLLM)", () => {
    expect(keptSlots(selectKeep(null, rule))).toEqual([0, 1, 7, 8, 9, 10, 11]);
  });
  it("budget >= len keeps everything; budget below the protected set keeps sinks then the most recent", () => {
    expect(keptSlots(selectKeep(null, { ...rule, budget: 12 }))).toHaveLength(12);
    expect(keptSlots(selectKeep(null, { ...rule, budget: 30 }))).toHaveLength(12);
    const big = { len: 20, budget: 6, sinks: 4, recent: 8 };
    expect(keptSlots(selectKeep(new Float32Array(20).fill(1), big))).toEqual([0, 1, 2, 3, 18, 19]);
    expect(keptSlots(selectKeep(null, { ...big, budget: 3 }))).toEqual([0, 1, 2]);
    expect(keptSlots(selectKeep(null, { ...big, budget: 12 }))).toEqual([0, 1, 2, 3, 12, 13, 14, 15, 16, 17, 18, 19]);
    expect(keptSlots(selectKeep(null, { ...big, budget: 0 }))).toEqual([]);
  });
  it("sinks and recent overlapping (more than len) protect everything", () => {
    expect(keptSlots(selectKeep(null, { len: 7, budget: 5, sinks: 4, recent: 8 }))).toEqual([0, 1, 2, 3, 6]);
  });
  it("keeps min(budget, len) slots on random rows", () => {
    const rnd = seededRandom(3);
    for (let t = 0; t < 50; t++) {
      const len = 1 + Math.floor(rnd() * 60);
      const budget = Math.floor(rnd() * 70);
      const s = Float32Array.from({ length: len }, () => Math.floor(rnd() * 4));
      const keep = selectKeep(s, { len, budget, sinks: 4, recent: 8 });
      expect(keptSlots(keep)).toHaveLength(Math.min(budget, len));
      for (let j = 0; j < Math.min(4, len, budget); j++) expect(keep[j]).toBe(1);
    }
  });
});

describe("selectCompactReference", () => {
  it("moves kept K/V rows and scores in stable order, zeroes the freed score tail, leaves other regions alone", () => {
    const L = 1;
    const R = 2;
    const KVH = 1;
    const C = 8;
    const D = 2;
    const region = 1;
    const scores = new Float32Array(L * R * KVH * C);
    const base = region * C;
    scores.set([7, 7, 1, 3, 2, 8, 0, 0], base); // len 7: sinks 1, recent 2 -> protected {0, 5, 6}
    scores.set([1, 2, 3, 4, 5, 6, 7, 8], 0);
    const kv = Uint16Array.from({ length: L * 2 * R * KVH * C * D }, (_, i) => i);
    const out = selectCompactReference({ scores, kv, L, R, KVH, C, D, region, len: 7, budget: 5, sinks: 1, recent: 2 });
    // candidates 1..4 with scores 7, 1, 3, 2 -> keep 1 and 3; kept {0, 1, 3, 5, 6}
    expect([...out.remap]).toEqual([0, 1, -1, 2, -1, 3, 4, -1]);
    expect([...out.kept]).toEqual([5]);
    expect([...(out.scores as Float32Array).subarray(base, base + C)]).toEqual([7, 7, 3, 8, 0, 0, 0, 0]);
    expect([...(out.scores as Float32Array).subarray(0, C)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    for (const t of [0, 1]) {
      const rowBase = ((t * R + region) * KVH) * C * D;
      const row = (j: number) => [...kv.subarray(rowBase + j * D, rowBase + j * D + D)];
      const got = (j: number) => [...out.kv.subarray(rowBase + j * D, rowBase + j * D + D)];
      expect([0, 1, 2, 3, 4].map(got)).toEqual([0, 1, 3, 5, 6].map(row));
      // slots past the kept count keep their old contents (the kernel does not clear K/V)
      expect([5, 6, 7].map(got)).toEqual([5, 6, 7].map(row));
      const other = (t * R) * KVH * C * D;
      expect([...out.kv.subarray(other, other + C * D)]).toEqual([...kv.subarray(other, other + C * D)]);
    }
  });
  it("streaming (scores null) keeps the most recent candidates", () => {
    const kv = new Uint16Array(2 * 10 * 1);
    const out = selectCompactReference({ scores: null, kv, L: 1, R: 1, KVH: 1, C: 10, D: 1, region: 0, len: 9, budget: 4, sinks: 1, recent: 1 });
    expect(out.scores).toBeNull();
    expect([...out.remap]).toEqual([0, -1, -1, -1, -1, -1, 1, 2, 3, -1]);
  });
});

describe("graphRemapReference", () => {
  it("remaps neighbours, squeezes evicted ones out without renormalizing, clears nodes past newLen", () => {
    const C = 5;
    const neighbors = new Int32Array(C * 4).fill(-1);
    const weights = new Float32Array(C * 4);
    neighbors.set([0, 1, 2, 3], 3 * 4); // node 3 -> slots 0, 1, 2, 3
    weights.set([0.4, 0.3, 0.2, 0.1], 3 * 4);
    neighbors.set([4, 9, 3, -1], 4 * 4);
    weights.set([0.5, 0.25, 0.25, 0], 4 * 4);
    const keep = new Uint8Array([1, 0, 1, 1, 1]);
    const [remap, n] = remapFromKeep(keep, C);
    const out = nodesToGraph(graphRemapReference({ graph: graphToNodes(neighbors, weights), L: 1, R: 1, H: 1, KVH: 1, C, region: 0, remap, newLen: n }));
    expect([...out.neighbors.subarray(2 * 4, 3 * 4)]).toEqual([0, 1, 2, -1]);
    expect([...out.weights.subarray(2 * 4, 3 * 4)]).toEqual([Math.fround(0.4), Math.fround(0.2), Math.fround(0.1), 0]);
    expect([...out.neighbors.subarray(3 * 4, 4 * 4)]).toEqual([3, 2, -1, -1]); // 9 is out of range
    expect([...out.weights.subarray(3 * 4, 4 * 4)]).toEqual([0.5, 0.25, 0, 0]);
    expect([...out.neighbors.subarray(4 * 4)]).toEqual([-1, -1, -1, -1]);
  });
  it("agrees with @kvwalk/graph-cache compactGraph on a random graph for the same keep set", () => {
    const rnd = seededRandom(11);
    const C = 97;
    const len = 90;
    const g = createGraph(C);
    for (let i = 0; i < len; i++) {
      for (let s = 0; s < 4; s++) {
        const r = rnd();
        g.neighbors[i * 4 + s] = r < 0.1 ? -1 : r < 0.15 ? C + 3 : Math.floor(rnd() * len);
        g.weights[i * 4 + s] = Math.fround(rnd());
      }
    }
    const scores = Float32Array.from({ length: C }, () => Math.floor(rnd() * 5));
    const rule = { len, budget: 31, sinks: 4, recent: 8 };
    const keepLen = selectKeep(scores, rule);
    const keep = new Uint8Array(C);
    keep.set(keepLen);
    const expected = compactGraph(g, keep);
    const sc = selectCompactReference({ scores, kv: new Uint16Array(2 * C), L: 1, R: 1, KVH: 1, C, D: 1, region: 0, ...rule });
    const got = nodesToGraph(
      graphRemapReference({ graph: graphToNodes(g.neighbors, g.weights), L: 1, R: 1, H: 1, KVH: 1, C, region: 0, remap: sc.remap, newLen: sc.kept[0] }),
    );
    expect([...got.neighbors]).toEqual([...expected.neighbors]);
    expect([...got.weights]).toEqual([...expected.weights]);
  });
  it("maps query heads to their KV head's remap and leaves other regions untouched", () => {
    const L = 1;
    const R = 2;
    const H = 4;
    const KVH = 2;
    const C = 3;
    const graph = new Int32Array(L * R * H * C * 8);
    for (let i = 0; i < graph.length; i += 8) graph.set([0, 1, 2, -1, 1, 1, 1, 0], i);
    const remap = new Int32Array([0, -1, 1, /* kvh 1 */ -1, 0, 1]);
    const out = graphRemapReference({ graph, L, R, H, KVH, C, region: 1, remap, newLen: 2 });
    expect([...out.subarray(0, R * H * C * 8 / 2)]).toEqual([...graph.subarray(0, R * H * C * 8 / 2)]);
    const node = (h: number, i: number) => [...out.subarray(((1 * H + h) * C + i) * 8, ((1 * H + h) * C + i) * 8 + 4)];
    expect(node(1, 0)).toEqual([0, 1, -1, -1]); // head 1 -> kvh 0
    expect(node(2, 0)).toEqual([0, 1, -1, -1]); // head 2 -> kvh 1: node 1 -> 0 with neighbours 1 -> 0, 2 -> 1
    expect(node(3, 2)).toEqual([-1, -1, -1, -1]);
  });
});

describe("attentionMassReference", () => {
  const kRows = [
    [1, 0],
    [0, 0],
    [2, 0],
    [5, 5],
  ];
  const k = toBf16(kRows.flat());
  const q = new Float32Array([1, 0, 1, 0]); // B 1, H 2 (one group of KVH 1), D 2
  const lse = Math.log(Math.E + 1 + Math.E ** 2);
  const base = { q, k, lse: new Float32Array([lse, lse]), lengths: new Int32Array([3]), starts: null, B: 1, R: 1, H: 2, KVH: 1, D: 2, C: 4, scale: 1 };
  it("TOVA mode: the group's summed softmax probabilities; slots past len untouched", () => {
    const out = attentionMassReference({ ...base, mode: 1, decay: 0.5, scores: new Float32Array([9, 9, 9, 9]) });
    const p = [Math.E, 1, Math.E ** 2].map((e) => (2 * e) / Math.exp(lse));
    for (let j = 0; j < 3; j++) expect(out[j]).toBeCloseTo(p[j], 6);
    expect(out[3]).toBe(9);
  });
  it("H2O mode: decay * s + m; keys below start get mass 0", () => {
    const out = attentionMassReference({ ...base, starts: new Int32Array([1]), mode: 0, decay: 0.5, scores: new Float32Array([4, 4, 4, 4]) });
    expect(out[0]).toBe(2);
    expect(out[1]).toBeCloseTo(2 + 2 / Math.exp(lse), 6);
    expect(out[3]).toBe(4);
  });
});

describe("countsToScoresReference", () => {
  it("sums the group's counts and decays", () => {
    // L 1, R 1, H 2, KVH 1, C 3
    const counts = new Uint32Array([1, 2, 3, 10, 20, 0xffffffff]);
    const scores = new Float32Array([1, 2, 3]);
    expect([...countsToScoresReference(counts, { L: 1, R: 1, H: 2, KVH: 1, C: 3 }, 0.5, scores)]).toEqual([11.5, 23, Math.fround(4294967298 + 1.5)]);
    expect([...countsToScoresReference(counts, { L: 1, R: 1, H: 2, KVH: 1, C: 3 }, 0, new Float32Array([Number.NaN, 0, 0]))]).toEqual([
      11,
      22,
      Math.fround(4294967298),
    ]);
  });
});
