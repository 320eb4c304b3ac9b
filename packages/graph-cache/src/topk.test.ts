import { seededRandom } from "@kvwalk/core/testing";
import { describe, expect, it } from "vitest";
import { createGraph, createGraphBatch, GRAPH_TOP_K, graphAt } from "./graph.js";
import { writeTopK, writeTopKRows } from "./topk.js";

/** Tie-safe check of one node against its input row (the STYLE.md top-k contract). */
function checkTopKNode(neighbors: Int32Array, weights: Float32Array, off: number, row: ArrayLike<number>, what: string): void {
  const valid: number[] = [];
  for (let j = 0; j < row.length; j++) {
    const p = Math.fround(row[j]);
    if (p > 0 && p !== Number.POSITIVE_INFINITY) valid.push(p);
  }
  valid.sort((a, b) => b - a);
  const k = Math.min(GRAPH_TOP_K, valid.length);
  const kth = k > 0 ? valid[k - 1] : 0;
  const chosen: number[] = [];
  for (let s = 0; s < GRAPH_TOP_K; s++) {
    const j = neighbors[off + s];
    if (s >= k) {
      expect(j, `${what}: entry ${s} should be invalid`).toBe(-1);
      expect(weights[off + s], `${what}: weight ${s} of an invalid entry`).toBe(0);
      continue;
    }
    expect(j, `${what}: entry ${s} index`).toBeGreaterThanOrEqual(0);
    expect(j).toBeLessThan(row.length);
    const p = Math.fround(row[j]);
    expect(p, `${what}: chosen key ${j} must be >= the 4th largest`).toBeGreaterThanOrEqual(kth);
    chosen.push(p);
  }
  expect(new Set(neighbors.subarray(off, off + k)).size, `${what}: distinct keys`).toBe(k);
  const sum = chosen.reduce((a, b) => a + b, 0);
  for (let s = 0; s < k; s++) {
    expect(Math.abs(weights[off + s] - chosen[s] / sum), `${what}: weight ${s} = renormalized input`).toBeLessThan(1e-6);
    if (s > 0) expect(weights[off + s]).toBeLessThanOrEqual(weights[off + s - 1]);
  }
  if (k > 0) expect(Math.abs(weights.subarray(off, off + k).reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-6);
}

/** Brute force: sort (value desc, index asc) and take 4. */
function bruteTopK(row: ArrayLike<number>): number[] {
  const items: [number, number][] = [];
  for (let j = 0; j < row.length; j++) {
    const p = Math.fround(row[j]);
    if (p > 0 && p !== Number.POSITIVE_INFINITY) items.push([p, j]);
  }
  items.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  return items.slice(0, GRAPH_TOP_K).map((x) => x[1]);
}

describe("writeTopK", () => {
  it("matches brute force on random rows (exact, ties by lower index)", () => {
    const rnd = seededRandom(7);
    for (let t = 0; t < 300; t++) {
      const n = 1 + Math.floor(rnd() * 60);
      // Quantized values give many ties; some zeros, negatives and NaNs are skipped.
      const row = Array.from({ length: n }, () => {
        const u = rnd();
        if (u < 0.05) return Number.NaN;
        if (u < 0.1) return -u;
        if (u < 0.15) return 0;
        return Math.floor(rnd() * 8) / 8;
      });
      const g = createGraph(2);
      writeTopK(g, 1, row);
      const expected = bruteTopK(row);
      const got = Array.from(g.neighbors.subarray(4, 8)).filter((j) => j >= 0);
      expect(got).toEqual(expected);
      checkTopKNode(g.neighbors, g.weights, 4, row, `row ${t}`);
    }
  });

  it("orders by weight, renormalizes, and leaves empty rows empty", () => {
    const g = createGraph(3);
    writeTopK(g, 0, [0.1, 0.4, 0.2, 0.3, 0.05]);
    expect(Array.from(g.neighbors.subarray(0, 4))).toEqual([1, 3, 2, 0]);
    expect(g.weights[0]).toBeCloseTo(0.4, 6);
    writeTopK(g, 1, [0, -1, Number.NaN, Number.POSITIVE_INFINITY]);
    expect(Array.from(g.neighbors.subarray(4, 8))).toEqual([-1, -1, -1, -1]);
    writeTopK(g, 2, [0.5, 0.5], 1);
    expect(Array.from(g.neighbors.subarray(8, 12))).toEqual([0, -1, -1, -1]);
    expect(g.weights[8]).toBe(1);
  });

  it("all ties: picks the four lowest indices", () => {
    const g = createGraph(1);
    writeTopK(g, 0, new Float32Array(10).fill(0.1));
    expect(Array.from(g.neighbors)).toEqual([0, 1, 2, 3]);
    expect(Array.from(g.weights)).toEqual([0.25, 0.25, 0.25, 0.25]);
  });

  it("rejects bad arguments with the parameter name", () => {
    const g = createGraph(2);
    expect(() => writeTopK(g, 2, [1])).toThrow(/node/);
    expect(() => writeTopK(g, 0, [1], 3)).toThrow(/for n /);
    expect(() => writeTopK({ capacity: 2, neighbors: new Int32Array(3), weights: new Float32Array(8) }, 0, [1])).toThrow(/graph.neighbors/);
    expect(() => createGraph(-1)).toThrow(/capacity/);
  });
});

describe("writeTopKRows", () => {
  it("writes each row into its (graph, node) like writeTopK", () => {
    const rnd = seededRandom(3);
    const batch = createGraphBatch(3, 5);
    const n = 17;
    const graphIds = Int32Array.from([0, 2, 1, 2]);
    const nodes = Int32Array.from([4, 0, 3, 3]);
    const probs = Float32Array.from({ length: graphIds.length * n }, () => rnd());
    writeTopKRows(batch, { probs, n, graphIds, nodes });
    for (let r = 0; r < graphIds.length; r++) {
      const single = createGraph(5);
      writeTopK(single, nodes[r], probs.subarray(r * n, (r + 1) * n));
      const view = graphAt(batch, graphIds[r]);
      expect(view.neighbors.subarray(nodes[r] * 4, nodes[r] * 4 + 4)).toEqual(single.neighbors.subarray(nodes[r] * 4, nodes[r] * 4 + 4));
      expect(view.weights.subarray(nodes[r] * 4, nodes[r] * 4 + 4)).toEqual(single.weights.subarray(nodes[r] * 4, nodes[r] * 4 + 4));
    }
    expect(() => writeTopKRows(batch, { probs, n, graphIds: Int32Array.from([0, 3, 1, 2]), nodes })).toThrow(/rows.graphIds\[1\]/);
  });
});
