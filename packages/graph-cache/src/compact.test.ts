import { seededRandom } from "@kvwalk/core/testing";
import { describe, expect, it } from "vitest";
import { compactGraph, compactGraphBatch } from "./compact.js";
import { createGraph, createGraphBatch, GRAPH_TOP_K, graphAt, type GraphView } from "./graph.js";
import { writeTopK } from "./topk.js";

function randomGraph(capacity: number, rnd: () => number, adversarial = false): GraphView {
  const g = createGraph(capacity);
  for (let i = 0; i < capacity; i++) {
    const row = Array.from({ length: i + 1 }, () => (rnd() < 0.3 ? 0 : rnd()));
    writeTopK(g, i, row);
  }
  if (adversarial) {
    for (let e = 0; e < g.neighbors.length; e++) {
      if (rnd() < 0.1) g.neighbors[e] = Math.floor(rnd() * 3 * capacity) - capacity; // out of range both ways
    }
  }
  return g;
}

describe("compactGraph", () => {
  it("keeps kept nodes in order, remaps or drops their neighbours, keeps weights", () => {
    const rnd = seededRandom(11);
    for (const capacity of [0, 1, 2, 7, 64]) {
      for (const adversarial of [false, true]) {
        const g = randomGraph(capacity, rnd, adversarial);
        const keep = Uint8Array.from({ length: capacity }, () => (rnd() < 0.6 ? 1 : 0));
        const out = compactGraph(g, keep);
        expect(out.capacity).toBe(capacity);
        const oldOf: number[] = [];
        const newOf = new Int32Array(capacity).fill(-1);
        for (let i = 0; i < capacity; i++) if (keep[i]) newOf[i] = oldOf.push(i) - 1;
        for (let t = 0; t < capacity; t++) {
          const off = t * GRAPH_TOP_K;
          if (t >= oldOf.length) {
            expect(Array.from(out.neighbors.subarray(off, off + 4))).toEqual([-1, -1, -1, -1]);
            expect(Array.from(out.weights.subarray(off, off + 4))).toEqual([0, 0, 0, 0]);
            continue;
          }
          const i = oldOf[t];
          const expectedN: number[] = [];
          const expectedW: number[] = [];
          for (let s = 0; s < 4; s++) {
            const j = g.neighbors[i * 4 + s];
            if (j >= 0 && j < capacity && keep[j]) {
              expectedN.push(newOf[j]);
              expectedW.push(g.weights[i * 4 + s]);
            }
          }
          while (expectedN.length < 4) {
            expectedN.push(-1);
            expectedW.push(0);
          }
          expect(Array.from(out.neighbors.subarray(off, off + 4))).toEqual(expectedN);
          expect(Array.from(out.weights.subarray(off, off + 4))).toEqual(expectedW);
        }
        // Every stored neighbour is a valid new slot.
        for (const j of out.neighbors) expect(j === -1 || (j >= 0 && j < oldOf.length)).toBe(true);
      }
    }
  });

  it("keep-all is the identity on well-formed graphs; keep-none empties", () => {
    const g = randomGraph(20, seededRandom(5));
    const same = compactGraph(g, new Uint8Array(20).fill(1));
    expect(same.neighbors).toEqual(g.neighbors);
    expect(same.weights).toEqual(g.weights);
    const none = compactGraph(g, new Uint8Array(20));
    expect(none.neighbors.every((j) => j === -1)).toBe(true);
  });

  it("batch version equals per-graph compaction and reports kept counts", () => {
    const rnd = seededRandom(9);
    const batch = createGraphBatch(3, 10);
    for (let gi = 0; gi < 3; gi++) {
      const src = randomGraph(10, rnd);
      graphAt(batch, gi).neighbors.set(src.neighbors);
      graphAt(batch, gi).weights.set(src.weights);
    }
    const keep = Uint8Array.from({ length: 30 }, () => (rnd() < 0.5 ? 1 : 0));
    const { batch: out, kept } = compactGraphBatch(batch, keep);
    for (let gi = 0; gi < 3; gi++) {
      const single = compactGraph(graphAt(batch, gi), keep.subarray(gi * 10, gi * 10 + 10));
      expect(graphAt(out, gi).neighbors).toEqual(single.neighbors);
      expect(kept[gi]).toBe(keep.subarray(gi * 10, gi * 10 + 10).reduce((a, b) => a + b, 0));
    }
    expect(() => compactGraphBatch(batch, new Uint8Array(29))).toThrow(/keep/);
  });
});
