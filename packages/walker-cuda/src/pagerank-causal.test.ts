import { createGraph } from "@kvwalk/graph-cache";
import { describe, expect, it } from "vitest";
import { pagerankCausal, pagerankExact } from "./reference.js";
import { causalWithSelfLoops } from "./testing/graphs.js";

describe("pagerankCausal (backward sweep)", () => {
  it("equals pagerankExact on causal attention graphs with self-loops, sinks excluded and short node counts", () => {
    for (const [capacity, seed] of [
      [1, 1],
      [2, 2],
      [64, 3],
      [333, 4],
      [1000, 5],
    ] as const) {
      const g = causalWithSelfLoops(capacity, seed);
      for (const opts of [
        { numNodes: capacity },
        { numNodes: Math.max(0, capacity - 7), excludeBelow: Math.min(4, capacity), startWindow: 40 },
        { numNodes: capacity, teleport: 0.4, startWindow: 3 },
      ]) {
        const exact = pagerankExact(g, { ...opts, tol: 1e-15, maxIter: 10000 });
        const sweep = pagerankCausal(g, opts);
        expect(sweep.length).toBe(exact.length);
        let sum = 0;
        for (let v = 0; v < exact.length; v++) {
          expect(Math.abs(sweep[v] - exact[v])).toBeLessThan(1e-12);
          sum += sweep[v];
        }
        if (exact.some((x) => x > 0)) expect(sum).toBeCloseTo(1, 12);
      }
    }
  });

  it("refuses an edge to a later node, and a node that only leads to itself without teleport", () => {
    const g = createGraph(3);
    g.neighbors.set([2, -1, -1, -1], 1 * 4);
    g.weights.set([1, 0, 0, 0], 1 * 4);
    expect(() => pagerankCausal(g, { numNodes: 3 })).toThrow(/Expected a causal graph .* for graph but received "node 1 -> 2"/);
    const s = createGraph(2);
    s.neighbors.set([1, -1, -1, -1], 1 * 4);
    s.weights.set([1, 0, 0, 0], 1 * 4);
    expect(() => pagerankCausal(s, { numNodes: 2, teleport: 0 })).toThrow(/teleport/);
    // with teleport 1/2 and both nodes in the start window: x1 = F/2 + x1/2, x0 = F/2, so (1/3, 2/3)
    const x = pagerankCausal(s, { numNodes: 2, teleport: 0.5 });
    expect(x[0]).toBeCloseTo(1 / 3, 12);
    expect(x[1]).toBeCloseTo(2 / 3, 12);
  });
});
