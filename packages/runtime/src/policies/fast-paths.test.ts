import { assertClose, seededRandom } from "@kvwalk/core/testing";
import { createGraph, GRAPH_TOP_K, type GraphView } from "@kvwalk/graph-cache";
import { walkReference } from "@kvwalk/walker-cuda";
import { describe, expect, it } from "vitest";
import { mixSeed } from "../rng.js";
import { logitsRowSource, runPolicy, type SimulationResult, simulateHead } from "../simulate.js";
import { syntheticLogits } from "../synthetic.js";
import { PageRankDensePolicy, PageRankDenseSparsePolicy } from "./pagerank-dense.js";
import { PageRankUndirectedPolicy, PageRankUndirectedSparsePolicy } from "./pagerank-undirected.js";
import { PageRankWalkerPolicy, PageRankWalkerReferencePolicy } from "./pagerank-walker.js";
import { CacheState, type EvictionPolicy, type PolicyOptions } from "./policy.js";
import { ExpRow, FAST_EXP_MIN } from "./exp-kernel.js";
import { createPolicy, POLICY_NAMES } from "./registry.js";
import { TriangleGraph } from "./triangle-graph.js";
import { Walker } from "./walker-kernel.js";

// The fast paths against the implementations they replace, which are kept as references.

/** Random triangle with some dead nodes; returns the graph and a dense copy W[i][j] (i >= j) of its live part. */
function randomTriangle(n: number, seed: number) {
  const rnd = seededRandom(seed);
  const tg = new TriangleGraph(n + 4, 4 * n);
  for (let c = 0; c < n; c++) {
    const row = TriangleGraph.rowStart(tg.addNode(3 * c + 1));
    for (let j = 0; j <= c; j++) tg.tri[row + j] = rnd() < 0.1 ? 0 : rnd() / (c + 1);
  }
  for (let c = 0; c < n; c++) if (rnd() < 0.2) tg.kill(3 * c + 1);
  return { tg, rnd };
}

function weight(tg: TriangleGraph, i: number, j: number): number {
  return i >= j ? tg.tri[TriangleGraph.rowStart(i) + j] : tg.tri[TriangleGraph.rowStart(j) + i];
}

describe("TriangleGraph kernels (WebAssembly) against plain loops", () => {
  it.each([[1], [2], [7], [64], [101]])("sym: y = (L + L^T - diag) f over live nodes, n = %i", (n) => {
    const { tg, rnd } = randomTriangle(n, n);
    for (let c = 0; c < n; c++) tg.f[c] = tg.live[c] ? rnd() : 0;
    tg.sym();
    for (let i = 0; i < n; i++) {
      if (!tg.live[i]) continue;
      let s = 0;
      for (let j = 0; j < n; j++) if (tg.live[j]) s += weight(tg, i, j) * tg.f[j];
      expect(Math.abs(tg.y[i] - s), `y[${i}]`).toBeLessThanOrEqual(1e-13 * Math.max(1, Math.abs(s)));
    }
  });

  it.each([[1], [2], [9], [64], [101]])("sweep equals the scalar causal sweep bit for bit, n = %i", (n) => {
    const { tg, rnd } = randomTriangle(n, 100 + n);
    const x0 = Array.from({ length: n }, () => (rnd() < 0.3 ? rnd() : 0));
    // Scalar reference with the sparse sweep's operation order.
    const ref = x0.slice();
    let refSum = 0;
    for (let c = n - 1; c >= 0; c--) {
      if (!tg.live[c]) continue;
      const zc = ref[c] / (1 - 0.85 * weight(tg, c, c));
      const f = 0.85 * zc;
      if (f !== 0) for (let j = 0; j < c; j++) ref[j] += f * weight(tg, c, j);
      ref[c] = zc;
      refSum += zc;
    }
    tg.x.set(x0);
    const sum = tg.sweep(0.85);
    expect(sum).toBe(refSum);
    for (let c = 0; c < n; c++) if (tg.live[c]) expect(tg.x[c], `x[${c}]`).toBe(ref[c]);
  });

  it("compact keeps the live nodes' weights in order and frees the dead ones", () => {
    const n = 57;
    const { tg } = randomTriangle(n, 3);
    const livePos: number[] = [];
    const before = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      if (!tg.live[i]) continue;
      livePos.push(tg.nodes[i]);
      for (let j = 0; j <= i; j++) if (tg.live[j]) before.set(`${tg.nodes[i]},${tg.nodes[j]}`, weight(tg, i, j));
    }
    tg.compact();
    expect(tg.count).toBe(livePos.length);
    expect(Array.from(tg.nodes.subarray(0, tg.count))).toEqual(livePos);
    for (let i = 0; i < tg.count; i++) {
      expect(tg.index[tg.nodes[i]]).toBe(i);
      for (let j = 0; j <= i; j++) expect(weight(tg, i, j)).toBe(before.get(`${tg.nodes[i]},${tg.nodes[j]}`));
    }
  });
});

const T = 300;
const logits = syntheticLogits(T, 2, 11);

function run(policy: EvictionPolicy, stream = 3): SimulationResult {
  return runPolicy(policy, T, logitsRowSource(logits, T), stream);
}

/** Final scores after observing every row with no eviction (the retrospective path). */
function finalScores(policy: EvictionPolicy): Float64Array {
  policy.begin({ length: T });
  const cache = new CacheState(T);
  const probs = new Float64Array(T);
  const row = logitsRowSource(logits, T);
  for (let t = 0; t < T; t++) {
    cache.append(t);
    row(t, cache, probs);
    policy.observe(t, cache, probs);
  }
  return policy.finalScores(T, cache).slice();
}

const cases: [string, Partial<PolicyOptions>][] = [
  ["defaults, 20%", { budget: 0.2 }],
  ["50%, refresh 8", { budget: 0.5, refreshEvery: 8 }],
  ["62 slots, refresh 1, 2 sinks", { budget: 62, refreshEvery: 1, sinks: 2, window: 10 }],
  ["30%, no sinks, start window 16", { budget: 0.3, sinks: 0, window: 20, startWindow: 16 }],
  ["40%, epsilon 1e-3", { budget: 0.4, epsilon: 1e-3 }],
];

describe("pagerank-dense: triangle + WebAssembly sweep equals the sparse implementation", () => {
  it.each(cases)("%s: identical evictions, refreshes and scores", (_, o) => {
    const opts = { budget: 0.2, ...o } as PolicyOptions;
    const fast = run(new PageRankDensePolicy(opts));
    const ref = run(new PageRankDenseSparsePolicy(opts));
    expect(fast.evict).toEqual(ref.evict);
    expect(fast.policy.refreshes).toBe(ref.policy.refreshes);
  });

  it("bit-identical final scores (retrospective path, all tokens live)", () => {
    const opts = { budget: 1 };
    expect(finalScores(new PageRankDensePolicy(opts))).toEqual(finalScores(new PageRankDenseSparsePolicy(opts)));
  });
});

describe("pagerank-undirected: triangle + WebAssembly iteration agrees with the sparse implementation", () => {
  it.each(cases)("%s: identical evictions and iteration counts", (_, o) => {
    const opts = { budget: 0.2, ...o } as PolicyOptions;
    const fast = run(new PageRankUndirectedPolicy(opts));
    const ref = run(new PageRankUndirectedSparsePolicy(opts));
    expect(fast.evict).toEqual(ref.evict);
    expect(fast.policy.iterations).toBe(ref.policy.iterations);
  });

  it("final scores within 1e-12 relative (only the summation order differs)", () => {
    const opts = { budget: 1, maxIter: 30, tol: 0 };
    const fast = finalScores(new PageRankUndirectedPolicy(opts));
    const ref = finalScores(new PageRankUndirectedSparsePolicy(opts));
    assertClose(fast, ref, { atol: 0, rtol: 1e-12 }, "undirected scores");
  });
});

/** Random top-4 graph in the walker's layout (some invalid entries, some rows losing mass, some forward or out-of-range neighbours). */
function randomTop4(n: number, seed: number): GraphView {
  const rnd = seededRandom(seed);
  const g = createGraph(n + 5);
  for (let u = 0; u < n; u++) {
    const k = Math.floor(rnd() * 5);
    let s = 0;
    const w: number[] = [];
    for (let e = 0; e < k; e++) {
      w.push(rnd() < 0.05 ? 0 : rnd());
      s += w[e];
    }
    const scale = rnd() < 0.2 ? 1.4 * s : s;
    for (let e = 0; e < k; e++) {
      g.neighbors[u * GRAPH_TOP_K + e] = rnd() < 0.05 ? n + 2 : Math.floor(rnd() * (u + 1));
      g.weights[u * GRAPH_TOP_K + e] = scale > 0 ? Math.fround(w[e] / scale) : 0;
    }
  }
  return g;
}

describe("the WebAssembly Walker equals @kvwalk/walker-cuda's walkReference bit for bit", () => {
  const opts = [
    { numNodes: 300, excludeBelow: 4, startWindow: 64, walkers: 512, steps: 20, seed: 1, graphIndex: 0, teleport: 0.15 },
    { numNodes: 300, excludeBelow: 0, startWindow: 1, walkers: 64, steps: 7, seed: 0xffffffff, graphIndex: 0xffffffff, teleport: 0.5 },
    { numNodes: 2000, excludeBelow: 3, startWindow: 1999, walkers: 300, steps: 20, seed: 123456789, graphIndex: 47, teleport: 0.15 },
    { numNodes: 50, excludeBelow: 2, startWindow: 64, walkers: 100, steps: 30, seed: 5, graphIndex: 3, teleport: 0 },
    { numNodes: 50, excludeBelow: 2, startWindow: 7, walkers: 100, steps: 5, seed: 6, graphIndex: 4, teleport: 1 },
    { numNodes: 10, excludeBelow: 10, startWindow: 7, walkers: 10, steps: 5, seed: 6, graphIndex: 4, teleport: 0.15 },
  ];
  it.each(opts.map((o, i) => [i, o] as const))("case %i", (i, o) => {
    const g = randomTop4(o.numNodes, 40 + i);
    expect(new Walker(o.numNodes + 7).walk(g, o)).toEqual(walkReference(g, o));
  });

  it("many seeds on one graph (the walker's seeds per refresh)", () => {
    const g = randomTop4(400, 9);
    const walker = new Walker(400);
    for (let k = 0; k < 20; k++) {
      const o = { numNodes: 400, excludeBelow: 4, walkers: 128, steps: 20, seed: mixSeed(0, k), graphIndex: k };
      expect(walker.walk(g, o)).toEqual(walkReference(g, o));
    }
  });
});

class Top4Probe extends PageRankWalkerPolicy {
  probe(cache: CacheState): { fast: GraphView; ref: GraphView; n: number } {
    const { graph, numNodes } = this.compactLive(cache);
    return { fast: graph, ref: this.compactLiveReference(cache), n: numNodes };
  }
}

describe("pagerank-walker: in-place compaction + WebAssembly walker equals compactGraph + walkReference", () => {
  it("compactLive equals compactGraph on the live nodes at every refresh", () => {
    const p = new Top4Probe({ budget: 0.3, refreshEvery: 5, walkers: 16, steps: 4 });
    let checked = 0;
    const row = logitsRowSource(logits, T);
    runPolicy(
      p,
      T,
      (t, cache, out) => {
        row(t, cache, out);
        if (t % 37 === 0 && t > 0) {
          const { fast, ref, n } = p.probe(cache);
          expect(fast.neighbors.subarray(0, n * GRAPH_TOP_K)).toEqual(ref.neighbors.subarray(0, n * GRAPH_TOP_K));
          expect(fast.weights.subarray(0, n * GRAPH_TOP_K)).toEqual(ref.weights.subarray(0, n * GRAPH_TOP_K));
          checked++;
        }
      },
      2,
    );
    expect(checked).toBeGreaterThan(5);
  });

  it.each(cases)("%s: identical evictions and scores", (_, o) => {
    const opts = { budget: 0.2, walkers: 256, ...o } as PolicyOptions;
    expect(run(new PageRankWalkerPolicy(opts)).evict).toEqual(run(new PageRankWalkerReferencePolicy(opts)).evict);
    expect(finalScores(new PageRankWalkerPolicy(opts))).toEqual(finalScores(new PageRankWalkerReferencePolicy(opts)));
  });
});

describe("fast softmax rows (WebAssembly exp)", () => {
  it("exp is within 1 ulp of Math.exp on [FAST_EXP_MIN, 0]", () => {
    const rnd = seededRandom(77);
    const n = 100_003;
    const e = new ExpRow(n);
    const args = new Float64Array(n);
    const edges = [0, -0, -1e-300, -Number.MIN_VALUE, -Math.LN2 / 2, -Math.LN2, -1, -0.5, -20, -345.5, FAST_EXP_MIN, -699.999];
    for (let i = 0; i < n; i++) args[i] = i < edges.length ? edges[i] : FAST_EXP_MIN * rnd() ** (1 + 3 * rnd());
    const m = 0.25;
    const input = args.map((d) => d + m);
    e.x.set(input);
    e.exp(n, m);
    const a = new Float64Array(2);
    const bits = new BigInt64Array(a.buffer);
    let exact = 0;
    for (let i = 0; i < n; i++) {
      a[0] = Math.exp(input[i] - m);
      a[1] = e.x[i];
      const ulps = Number(bits[0] - bits[1]);
      expect(Math.abs(ulps), `exp(${args[i]})`).toBeLessThanOrEqual(1);
      if (ulps === 0) exact++;
    }
    expect(exact / n).toBeGreaterThan(0.9);
  });

  it("rows agree with Math.exp rows to 1e-14 relative, and fall back below FAST_EXP_MIN", () => {
    const L = [syntheticLogits(T, 1, 5)[0], syntheticLogits(T, 1, 6)[0]];
    for (const l of L) for (let j = 0; j < 40; j++) l[250 * T + j] = -800; // a row spanning more than 700
    const fast = logitsRowSource(L, T);
    const exact = logitsRowSource(L, T, { exp: "exact" });
    const cache = new CacheState(T);
    const a = new Float64Array(T);
    const b = new Float64Array(T);
    for (let t = 0; t < T; t++) {
      cache.append(t);
      fast(t, cache, a);
      exact(t, cache, b);
      if (t === 250) expect(a.subarray(0, t + 1)).toEqual(b.subarray(0, t + 1));
      else assertClose(a.subarray(0, t + 1), b.subarray(0, t + 1), { atol: 0, rtol: 1e-14 }, `row ${t}`);
    }
  });

  it.each(POLICY_NAMES.filter((p) => p !== "full").map((p) => [p]))("%s: identical evictions with fast and exact rows", (name) => {
    for (const budget of [0.2, 0.4]) {
      const opts = { budget, walkers: 256 };
      const fast = simulateHead(createPolicy(name, opts), logits, T, 4);
      const exact = simulateHead(createPolicy(name, opts), logits, T, 4, { exp: "exact" });
      expect(fast.evict).toEqual(exact.evict);
    }
  });
});
