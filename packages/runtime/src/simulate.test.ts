import { describe, expect, it } from "vitest";
import { createPolicy } from "./policies/registry.js";
import { blockedLogitsRowSource, type LogitBlocks, logitsRowSource, runPolicy, simulateHead } from "./simulate.js";
import { syntheticLogits } from "./synthetic.js";

/** Cuts a dense [T, T] logits matrix into causal row blocks (block i: rows [b_i, b_{i+1}) x keys [0, b_{i+1})). */
function toBlocks(l: Float32Array, T: number, bounds: number[]): LogitBlocks {
  const blocks = bounds.slice(0, -1).map((s, i) => {
    const e = bounds[i + 1];
    const b = new Float32Array((e - s) * e).fill(Number.NaN);
    for (let t = s; t < e; t++) for (let j = 0; j <= t; j++) b[(t - s) * e + j] = l[t * T + j];
    return b;
  });
  return { bounds: Int32Array.from(bounds), blocks };
}

describe("blockedLogitsRowSource", () => {
  const T = 120;
  const logits = syntheticLogits(T, 2, 9);
  const bounds = [0, 15, 30, 45, 60, 75, 90, 105, 120];
  const opts = { budget: 0.3, sinks: 2, window: 8, refreshEvery: 4, walkers: 32, steps: 6 };

  it("gives the same rows, hence bit-identical simulations, as the dense row source (entries j > t never read)", () => {
    const blocked = logits.map((l) => toBlocks(l, T, bounds));
    for (const p of ["h2o", "tova", "pagerank-dense", "pagerank-walker", "pagerank-undirected"]) {
      const a = runPolicy(createPolicy(p, opts), T, logitsRowSource(logits, T), 3);
      const b = runPolicy(createPolicy(p, opts), T, blockedLogitsRowSource(blocked, T), 3);
      expect(Array.from(b.evict), p).toEqual(Array.from(a.evict));
      expect(Array.from(simulateHead(createPolicy(p, opts), blocked, T, 3).evict), p).toEqual(Array.from(a.evict));
    }
  });

  it("rejects blocks that do not tile the sequence, naming the parameter", () => {
    const b = toBlocks(logits[0], T, bounds);
    expect(() => blockedLogitsRowSource([{ bounds: Int32Array.of(0, 60), blocks: [b.blocks[0]] }], T)).toThrow(/logits\[0\]\.bounds/);
    expect(() => blockedLogitsRowSource([{ bounds: b.bounds, blocks: [...b.blocks.slice(0, 7), new Float32Array(3)] }], T)).toThrow(/logits\[0\]\.blocks\[7\]/);
  });
});
