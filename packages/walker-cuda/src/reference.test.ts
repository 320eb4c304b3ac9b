import { createGraph, type GraphView } from "@kvwalk/graph-cache";
import { assertClose, seededRandom } from "@kvwalk/core/testing";
import { describe, expect, it } from "vitest";
import { accumulateScores, expectedVisits, pagerankExact, walkBatchReference, walkReference } from "./reference.js";

/** 3 nodes: 2 -> 1 (w 1); 1 -> 0 (0.5), 1 -> 2 (0.5); 0 has no edge (dead end). */
function tinyGraph(): GraphView {
  const g = createGraph(3);
  g.neighbors.set([1, -1, -1, -1], 2 * 4);
  g.weights.set([1, 0, 0, 0], 2 * 4);
  g.neighbors.set([0, 2, -1, -1], 1 * 4);
  g.weights.set([0.5, 0.5, 0, 0], 1 * 4);
  return g;
}

describe("exact chain on a hand-computed graph", () => {
  it("expectedVisits propagates the start distribution step by step", () => {
    // start at node 2 (window 1), no teleport: step 1 -> node 1; step 2 -> node 0 or 2 (1/2 each).
    const e = expectedVisits(tinyGraph(), { numNodes: 3, startWindow: 1, teleport: 0, steps: 2, walkers: 1 });
    assertClose(e, [0.5, 1, 0.5], { atol: 1e-15, rtol: 0 }, "expected visits");
    // step 3: from 0 dead end -> teleport to 2; from 2 -> 1.
    const e3 = expectedVisits(tinyGraph(), { numNodes: 3, startWindow: 1, teleport: 0, steps: 3, walkers: 4 });
    assertClose(e3, [2, 6, 4], { atol: 1e-14, rtol: 0 }, "expected visits (3 steps, 4 walkers)");
  });

  it("pagerankExact solves the stationary equations", () => {
    // teleport 0: pi1 = pi2, pi0 = pi1 / 2 -> (1/5, 2/5, 2/5).
    const p0 = pagerankExact(tinyGraph(), { numNodes: 3, startWindow: 1, teleport: 0 });
    assertClose(p0, [0.2, 0.4, 0.4], { atol: 1e-10, rtol: 0 }, "PageRank, teleport 0");
    // teleport 1/2 to node 2: pi = (1/13, 4/13, 8/13).
    const p5 = pagerankExact(tinyGraph(), { numNodes: 3, startWindow: 1, teleport: 0.5 });
    assertClose(p5, [1 / 13, 4 / 13, 8 / 13], { atol: 1e-12, rtol: 0 }, "PageRank, teleport 1/2");
  });

  it("excluded sinks are never entered and act as dead ends", () => {
    const p = pagerankExact(tinyGraph(), { numNodes: 3, startWindow: 1, teleport: 0, excludeBelow: 1 });
    // 2 -> 1; 1 -> 2 (1/2) or dead end -> 2: alternates 1, 2 forever (period 2): power iteration
    // does not converge, but the expectation after 2 steps is exact.
    expect(p[0]).toBe(0);
    const e = expectedVisits(tinyGraph(), { numNodes: 3, startWindow: 1, teleport: 0, excludeBelow: 1, steps: 2, walkers: 1 });
    assertClose(e, [0, 1, 1], { atol: 1e-15, rtol: 0 }, "expected visits with sink excluded");
    const c = walkReference(tinyGraph(), { numNodes: 3, startWindow: 1, teleport: 0, excludeBelow: 1, steps: 2, walkers: 10 });
    expect(Array.from(c)).toEqual([0, 10, 10]);
  });
});

describe("walkReference invariants", () => {
  it("records walkers * steps visits, only on live non-sink nodes, on adversarial graphs", () => {
    const rnd = seededRandom(7);
    const g = createGraph(50);
    for (let i = 0; i < 200; i++) {
      g.neighbors[i] = Math.floor(rnd() * 120) - 30; // -30..89: negative and out of range
      const r = rnd();
      g.weights[i] = r < 0.1 ? Number.NaN : r < 0.2 ? -1 : r < 0.25 ? Number.POSITIVE_INFINITY : rnd();
    }
    const c = walkReference(g, { numNodes: 40, excludeBelow: 4, walkers: 100, steps: 7, seed: 3 });
    expect(c.length).toBe(40);
    expect(c.reduce((a, b) => a + b, 0)).toBe(700);
    for (let v = 0; v < 4; v++) expect(c[v]).toBe(0);
  });

  it("handles tiny graphs: capacity 0, 1 node, all sinks", () => {
    expect(walkReference(createGraph(0), { numNodes: 0 }).length).toBe(0);
    const one = walkReference(createGraph(1), { numNodes: 1, walkers: 3, steps: 5 });
    expect(Array.from(one)).toEqual([15]);
    const sinks = walkReference(createGraph(4), { numNodes: 4, excludeBelow: 4 });
    expect(Array.from(sinks)).toEqual([0, 0, 0, 0]);
    expect(Array.from(pagerankExact(createGraph(4), { numNodes: 4, excludeBelow: 9 }))).toEqual([0, 0, 0, 0]);
  });

  it("is a pure function of (seed, graphIndex) and the batch twin matches per-graph walks", () => {
    const rnd = seededRandom(11);
    const cap = 30;
    const batch = { numGraphs: 3, capacity: cap, neighbors: new Int32Array(3 * cap * 4), weights: new Float32Array(3 * cap * 4) };
    for (let i = 0; i < batch.neighbors.length; i++) {
      batch.neighbors[i] = Math.floor(rnd() * cap);
      batch.weights[i] = rnd() * 0.3;
    }
    const numNodes = [30, 17, 0];
    const counts = walkBatchReference(batch, { numNodes, walkers: 50, steps: 9, seed: 5, graphIndex: 2 });
    for (let g = 0; g < 3; g++) {
      const view = {
        capacity: cap,
        neighbors: batch.neighbors.subarray(g * cap * 4, (g + 1) * cap * 4),
        weights: batch.weights.subarray(g * cap * 4, (g + 1) * cap * 4),
      };
      const single = walkReference(view, { numNodes: numNodes[g], walkers: 50, steps: 9, seed: 5, graphIndex: 2 + g });
      expect(Array.from(counts.subarray(g * cap, g * cap + numNodes[g]))).toEqual(Array.from(single));
      expect(counts.subarray(g * cap + numNodes[g], (g + 1) * cap).every((x) => x === 0)).toBe(true);
    }
    const again = walkBatchReference(batch, { numNodes, walkers: 50, steps: 9, seed: 5, graphIndex: 2 });
    expect(again).toEqual(counts);
    const other = walkBatchReference(batch, { numNodes, walkers: 50, steps: 9, seed: 6, graphIndex: 2 });
    expect(other).not.toEqual(counts);
  });

  it("accumulateScores is decay * scores + counts in float32", () => {
    const s = new Float32Array([1, 2.5, 0]);
    accumulateScores(s, new Uint32Array([3, 0, 0xffffffff]), 0.5);
    expect(Array.from(s)).toEqual([3.5, 1.25, 4294967296]);
  });

  it("rejects bad options naming the parameter", () => {
    expect(() => walkReference(createGraph(4), { numNodes: 5 })).toThrow(/numNodes/);
    expect(() => walkReference(createGraph(4), { numNodes: 4, teleport: 1.5 })).toThrow(/teleport/);
    expect(() => walkReference(createGraph(4), { numNodes: 4, startWindow: 0 })).toThrow(/startWindow/);
    expect(() => walkReference(createGraph(4), { numNodes: 4, walkers: 2 ** 20, steps: 2 ** 13 })).toThrow(/walkers \* steps/);
  });
});
