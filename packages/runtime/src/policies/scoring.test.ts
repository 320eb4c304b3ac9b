import { assertClose, seededRandom } from "@kvwalk/core/testing";
import { createGraph, GRAPH_TOP_K } from "@kvwalk/graph-cache";
import { expectedVisits, pagerankExact } from "@kvwalk/walker-cuda";
import { describe, expect, it } from "vitest";
import { runPolicy } from "../simulate.js";
import { AttentionGraph, personalizedPageRank, personalizedPageRankCausal, undirectedPageRank } from "./attention-graph.js";
import { CacheState, type EvictionPolicy } from "./policy.js";
import { createPolicy } from "./registry.js";
import { top4PageRankCausal } from "./top4-graph.js";

/** Full-matrix rows: R[t][j] is query t's attention on key j (only cached keys are read). */
type Rows = number[][];

function rowSourceOf(R: Rows) {
  return (t: number, cache: CacheState, out: Float64Array) => {
    for (let i = 0; i < cache.size; i++) out[i] = R[t][cache.tokens[i]] ?? 0;
  };
}

/** Observes every row with no eviction and returns the policy's final scores. */
function scoresAfter(policy: EvictionPolicy, R: Rows): Float64Array {
  const T = R.length;
  policy.begin({ length: T });
  const cache = new CacheState(T);
  const probs = new Float64Array(T);
  const src = rowSourceOf(R);
  for (let t = 0; t < T; t++) {
    cache.append(t);
    src(t, cache, probs);
    policy.observe(t, cache, probs);
  }
  return policy.finalScores(T, cache);
}

/** Random causal row-stochastic attention [T][T] (rows sum to 1 over j <= t). */
function randomRows(T: number, seed: number, peaked = 3): Rows {
  const rnd = seededRandom(seed);
  const R: Rows = [];
  for (let t = 0; t < T; t++) {
    const row = new Array(T).fill(0);
    let s = 0;
    for (let j = 0; j <= t; j++) {
      row[j] = rnd() ** peaked;
      s += row[j];
    }
    for (let j = 0; j <= t; j++) row[j] /= s;
    R.push(row);
  }
  return R;
}

/**
 * Independent reference: the stationary distribution of an explicit transition matrix M ([n][n],
 * rows sum to 1) by Gaussian elimination on (M^T - I) x = 0 with sum(x) = 1.
 */
function stationary(M: number[][]): number[] {
  const n = M.length;
  const A = Array.from({ length: n }, (_, i) => Array.from({ length: n + 1 }, (_, j) => (j < n ? M[j][i] - (i === j ? 1 : 0) : 0)));
  A[n - 1] = new Array(n + 1).fill(1);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(A[r][c]) > Math.abs(A[p][c])) p = r;
    [A[c], A[p]] = [A[p], A[c]];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = A[r][c] / A[c][c];
      for (let k = c; k <= n; k++) A[r][k] -= f * A[c][k];
    }
  }
  return A.map((row, i) => row[n] / row[i]);
}

describe("incremental scores", () => {
  const R = randomRows(12, 1);

  it("h2o accumulates column sums of the observed rows", () => {
    const s = scoresAfter(createPolicy("h2o", { budget: 12, sinks: 1, window: 1 }), R);
    const colSums = R[0].map((_, j) => R.reduce((a, row) => a + row[j], 0));
    assertClose(s, colSums, { atol: 1e-12, rtol: 0 }, "h2o scores");
  });

  it("tova keeps the latest row", () => {
    const s = scoresAfter(createPolicy("tova", { budget: 12, sinks: 1, window: 1 }), R);
    assertClose(s, R[11], { atol: 0, rtol: 0 }, "tova scores");
  });

  it("h2o evicts the lowest accumulated attention, tova the lowest current attention", () => {
    // Budget 4 (sink 0, window 1): at step 4, tokens 1..3 compete.
    // Token 1: large old attention, none from query 3. Token 2: moderate throughout. Token 3: small.
    const rows: Rows = [[1], [0.5, 0.5], [0.1, 0.8, 0.1], [0.45, 0.0, 0.35, 0.2], [0.25, 0.25, 0.25, 0.25, 0], [0.2, 0.2, 0.2, 0.2, 0.2]];
    const h2o = runPolicy(createPolicy("h2o", { budget: 4, sinks: 1, window: 1 }), 6, rowSourceOf(rows));
    // Sums before step 4: token1 0.5+0.8+0 = 1.3, token2 0.1+0.35 = 0.45, token3 0.2 -> evict 3.
    expect(h2o.evict[3]).toBe(4);
    const tova = runPolicy(createPolicy("tova", { budget: 4, sinks: 1, window: 1 }), 6, rowSourceOf(rows));
    // Query 3's row: token1 0.0 is the lowest -> evict 1.
    expect(tova.evict[1]).toBe(4);
  });

  it("streaming keeps the sinks and the most recent budget - sinks tokens", () => {
    const T = 40;
    const r = runPolicy(createPolicy("streaming", { budget: 12, sinks: 2, window: 3 }), T, () => {});
    for (let j = 0; j < T; j++) expect(r.evict[j]).toBe(j < 2 ? T : Math.min(T, j + 10));
  });

  it("h2o-paper protects half the budget as the recent window", () => {
    const p = createPolicy("h2o-paper", { budget: 0.2, sinks: 4, window: 50 });
    p.begin({ length: 4096 });
    expect(p.budget).toBe(819);
    expect(p.window).toBe(409);
  });
});

describe("personalized PageRank on the recorded attention graph", () => {
  it("matches a hand-computed 3-node case", () => {
    // Sink 0; live 1, 2, 3; teleport to token 3 only (startWindow 1).
    // Rows: 3 -> {0: .25, 1: .25, 2: .5}, 2 -> {1: 1}, 1 -> {0: 1}.
    // Sweep: z3 = 1; z2 = .85 * .5 = .425; z1 = .85 * .25 + .85 * .425 = .57375; sum 1.99875.
    const g = new AttentionGraph(4);
    const cache = new CacheState(4);
    for (let t = 0; t < 4; t++) cache.append(t);
    const rec = (u: number, probs: number[]) => {
      const c = new CacheState(4);
      for (let t = 0; t <= u; t++) c.append(t);
      g.record(u, c, Float64Array.from(probs), 1, true, 0);
    };
    rec(1, [1, 0]);
    rec(2, [0, 1, 0]);
    rec(3, [0.25, 0.25, 0.5, 0]);
    const x = new Float64Array(4);
    personalizedPageRankCausal(g, cache, 1, 1, 0.15, x);
    const expected = [0.57375 / 1.99875, 0.425 / 1.99875, 1 / 1.99875];
    assertClose(x.subarray(1), expected, { atol: 1e-15, rtol: 0 }, "causal sweep");
    const y = new Float64Array(4);
    const x2 = new Float64Array(4);
    personalizedPageRank(g, cache, 1, 1, { teleport: 0.15, tol: 1e-15, maxIter: 1000 }, x2, y);
    assertClose(x2.subarray(1), expected, { atol: 1e-12, rtol: 0 }, "power iteration");
  });

  it("causal sweep, power iteration and a linear solve agree to 1e-9 on a random evicted graph", () => {
    const T = 40;
    const sinks = 2;
    const R = randomRows(T, 3);
    const g = new AttentionGraph(T);
    const cache = new CacheState(T);
    const rnd = seededRandom(9);
    const evicted = new Set<number>();
    for (let t = 0; t < T; t++) {
      cache.append(t);
      if (t > 10 && t % 3 === 0) {
        const victim = sinks + Math.floor(rnd() * (t - 5 - sinks));
        if (!evicted.has(victim)) {
          evicted.add(victim);
          cache.remove(victim);
          g.drop(victim);
        }
      }
      const probs = new Float64Array(cache.size);
      for (let i = 0; i < cache.size; i++) probs[i] = R[t][cache.tokens[i]];
      g.record(t, cache, probs, sinks, true, 0);
    }
    const startWindow = 5;
    const x = new Float64Array(T);
    personalizedPageRankCausal(g, cache, sinks, startWindow, 0.15, x);
    // Independent: explicit chain on live non-sink nodes, dead mass -> start.
    const live = Array.from(cache.tokens.subarray(sinks, cache.size));
    const idx = new Map(live.map((p, i) => [p, i]));
    const n = live.length;
    const start = live.map((_, i) => (i >= n - startWindow ? 1 / startWindow : 0));
    const M = live.map((u) => {
      const row = new Array(n).fill(0);
      let moved = 0;
      const k = g.keys[u]!;
      const w = g.weights[u]!;
      for (let e = 0; e < g.len[u]; e++) {
        const v = idx.get(k[e]);
        if (v === undefined) continue;
        row[v] += 0.85 * w[e];
        moved += 0.85 * w[e];
      }
      for (let v = 0; v < n; v++) row[v] += (1 - moved) * start[v];
      return row;
    });
    const ref = stationary(M);
    assertClose(
      live.map((p) => x[p]),
      ref,
      { atol: 1e-9, rtol: 0 },
      "causal sweep vs linear solve",
    );
    const alive = new Uint8Array(T);
    for (const p of live) alive[p] = 1;
    for (const p of live) g.prune(p, alive);
    const x2 = new Float64Array(T);
    personalizedPageRank(g, cache, sinks, startWindow, { teleport: 0.15, tol: 1e-14, maxIter: 2000 }, x2, new Float64Array(T));
    assertClose(
      live.map((p) => x2[p]),
      ref,
      { atol: 1e-9, rtol: 0 },
      "power iteration vs linear solve",
    );
  });

  it("keeps a structurally central token that H2O evicts (the needle case)", () => {
    // Token 1 (needle) gets almost no attention itself (0.02 from its own query, 0.3 from token 2);
    // token 2 (its reader) is read by every later query (0.3); each later query t gives 0.2 to t - 1
    // and 0.2 to itself, so fillers accumulate 0.4 while protected. H2O sees the needle's 0.32 as the
    // lowest and evicts it at the first eviction; PageRank follows later -> 2 -> 1 and keeps it.
    const T = 14;
    const R: Rows = [];
    for (let t = 0; t < T; t++) {
      const row = new Array(T).fill(0);
      if (t === 0) row[0] = 1;
      else if (t === 1) [row[0], row[1]] = [0.98, 0.02];
      else if (t === 2) [row[0], row[1], row[2]] = [0.5, 0.3, 0.2];
      else {
        row[0] = 0.3;
        row[2] = 0.3;
        row[t - 1] += 0.2;
        row[t] += 0.2;
      }
      R.push(row);
    }
    const opts = { budget: 7, sinks: 1, window: 3, refreshEvery: 1, startWindow: 3 };
    const h2o = runPolicy(createPolicy("h2o", opts), T, rowSourceOf(R));
    expect(h2o.evict[1]).toBe(7);
    for (const name of ["pagerank-dense", "pagerank-top4"]) {
      const pr = runPolicy(createPolicy(name, opts), T, rowSourceOf(R));
      expect(pr.evict[1], name).toBe(T);
      expect(pr.evict[2], name).toBe(T);
    }
  });
});

describe("pagerank-undirected (networkx semantics)", () => {
  function buildUndirected(T: number, seed: number) {
    const R = randomRows(T, seed);
    const g = new AttentionGraph(T);
    const cache = new CacheState(T);
    for (let t = 0; t < T; t++) {
      cache.append(t);
      g.record(t, cache, Float64Array.from(R[t].slice(0, t + 1)), 0, false, 0);
    }
    return { R, g, cache };
  }

  it("equals the stationary distribution of nx.pagerank's chain (linear solve) to 1e-9", () => {
    const T = 25;
    const { R, g, cache } = buildUndirected(T, 5);
    const x = new Float64Array(T);
    undirectedPageRank(g, cache, { teleport: 0.15, tol: 1e-15, maxIter: 10_000 }, x, new Float64Array(T), new Float64Array(T), new Float64Array(T));
    // nx: W symmetric from lower-triangular A (self-loops once), P = D^-1 W, G = .85 P + .15/N.
    const W = Array.from({ length: T }, (_, i) => Array.from({ length: T }, (_, j) => (i >= j ? R[i][j] : R[j][i])));
    const M = W.map((row) => {
      const d = row.reduce((a, b) => a + b, 0);
      return row.map((w) => 0.85 * (w / d) + 0.15 / T);
    });
    assertClose(x, stationary(M), { atol: 1e-9, rtol: 0 }, "undirected PageRank");
  });

  it("converges to the weighted degree (row sum + column sum) as teleport -> 0", () => {
    const T = 25;
    const { R, g, cache } = buildUndirected(T, 6);
    const x = new Float64Array(T);
    undirectedPageRank(g, cache, { teleport: 1e-9, tol: 1e-14, maxIter: 100_000 }, x, new Float64Array(T), new Float64Array(T), new Float64Array(T));
    const deg = R.map((row, i) => row.reduce((a, b) => a + b, 0) + R.reduce((a, r) => a + r[i], 0) - R[i][i]);
    const total = deg.reduce((a, b) => a + b, 0);
    assertClose(
      x,
      deg.map((d) => d / total),
      { atol: 1e-6, rtol: 0 },
      "stationary vs degree",
    );
  });
});

describe("top-4 graph variants against @kvwalk/walker-cuda", () => {
  function randomCausalTop4(n: number, seed: number) {
    const rnd = seededRandom(seed);
    const g = createGraph(n + 3);
    for (let u = 0; u < n; u++) {
      const k = Math.min(u + 1, Math.floor(rnd() * 5));
      const picks = new Set<number>();
      while (picks.size < k) picks.add(Math.floor(rnd() * (u + 1)));
      const w = [...picks].map(() => rnd() + 0.01);
      const s = w.reduce((a, b) => a + b, 0) * (rnd() < 0.2 ? 1.3 : 1); // some rows lose mass (compaction)
      [...picks].forEach((v, i) => {
        g.neighbors[u * GRAPH_TOP_K + i] = v;
        g.weights[u * GRAPH_TOP_K + i] = Math.fround(w[i] / s);
      });
    }
    return g;
  }

  it.each([[1], [2], [3]])("causal sweep equals pagerankExact to 1e-9 (seed %i)", (seed) => {
    const n = 300;
    const g = randomCausalTop4(n, seed);
    const opts = { numNodes: n, excludeBelow: 4, startWindow: 16, teleport: 0.15 };
    const ours = top4PageRankCausal(g, opts);
    const ref = pagerankExact(g, { ...opts, tol: 1e-15, maxIter: 5000 });
    assertClose(ours, ref, { atol: 1e-9, rtol: 0 }, "top-4 PageRank");
  });

  it("pagerank-top4 and pagerank-walker score positions from the compacted live graph", () => {
    const T = 60;
    const R = randomRows(T, 8);
    const common = { budget: T, sinks: 2, window: 4, startWindow: 8 };
    const top4 = scoresAfter(createPolicy("pagerank-top4", common), R);
    const walkers = 4096;
    const steps = 20;
    const walker = scoresAfter(createPolicy("pagerank-walker", { ...common, walkers, steps, decay: 0 }), R);
    // Rebuild the same top-4 graph independently (all tokens live: positions are node ids).
    const g = createGraph(T);
    for (let t = 0; t < T; t++) {
      const row = R[t].slice(0, t + 1);
      const order = row.map((p, j) => [p, j] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 4);
      const s = order.reduce((a, [p]) => Math.fround(a + Math.fround(p)), 0);
      order.forEach(([p, j], i) => {
        g.neighbors[t * 4 + i] = j;
        g.weights[t * 4 + i] = Math.fround(Math.fround(p) / s);
      });
    }
    const walkOpts = { numNodes: T, excludeBelow: 2, startWindow: 8, teleport: 0.15 };
    const exact = pagerankExact(g, { ...walkOpts, tol: 1e-15, maxIter: 5000 });
    assertClose(top4.subarray(2), exact.subarray(2), { atol: 1e-9, rtol: 0 }, "pagerank-top4 scores");
    // Walker counts vs their exact expectation: each walker visits a node at most `steps` times,
    // so Var(count) <= E(count) * steps; allow 6 standard deviations.
    const expected = expectedVisits(g, { ...walkOpts, walkers, steps });
    for (let j = 2; j < T; j++) {
      const sd = Math.sqrt(expected[j] * steps);
      expect(Math.abs(walker[j] - expected[j]), `walker visits of token ${j}`).toBeLessThanOrEqual(6 * sd + 1);
    }
  });
});
