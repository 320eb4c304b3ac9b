/**
 * Benchmarks of @kvwalk/runtime (`pnpm --filter @kvwalk/runtime bench`), on synthetic attention-like
 * logits (`syntheticLogits`), one query head per KV head:
 * - one policy's causal simulation of one (layer, KV head) at T = 4096, budget 20% (819 slots), the
 *   unit the oracle runs 48 times per window and policy on the fixture model; baseline: h2o in the
 *   same run, ratio = policy / h2o;
 * - the fast paths (WebAssembly exp rows, exact PageRank on the triangle, the WebAssembly walker)
 *   against the implementations they replace (kept as references, identical evictions: see
 *   fast-paths.test.ts), per (layer, KV head) at 20% and 50%: baseline = the reference with Math.exp
 *   rows in the same run, ratio = reference / fast (h2o: the rows alone);
 * - exact personalized PageRank on a 4096-node causal attention graph (all T(T+1)/2 edges): the causal
 *   backward sweep (what pagerank-dense uses) vs power iteration to 1e-10 (baseline), and on the
 *   top-4 graph: the sweep vs @kvwalk/walker-cuda's pagerankExact.
 * Results: $KVWALK_BENCH_OUT/runtime-policies.json (default bench/results/ of the repository).
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runMetadata, writeJsonAtomic } from "@kvwalk/core";
import { createGraph, writeTopK } from "@kvwalk/graph-cache";
import { pagerankExact } from "@kvwalk/walker-cuda";
import { Bench } from "tinybench";
import { AttentionGraph, personalizedPageRank, personalizedPageRankCausal } from "../policies/attention-graph.js";
import { CacheState } from "../policies/policy.js";
import { PageRankDenseSparsePolicy } from "../policies/pagerank-dense.js";
import { PageRankUndirectedSparsePolicy } from "../policies/pagerank-undirected.js";
import { PageRankWalkerReferencePolicy } from "../policies/pagerank-walker.js";
import type { EvictionPolicy, PolicyOptions } from "../policies/policy.js";
import { createPolicy, POLICY_NAMES } from "../policies/registry.js";
import { top4PageRankCausal } from "../policies/top4-graph.js";
import { logitsRowSource, simulateHead } from "../simulate.js";
import { syntheticLogits } from "../synthetic.js";

const outDir = process.env.KVWALK_BENCH_OUT ?? fileURLToPath(new URL("../../../../bench/results/", import.meta.url));
const say = (s: string) => process.stdout.write(`${s}\n`);
const T = 4096;
const BUDGET = 0.2;

async function median(name: string, fn: () => void, iterations: number): Promise<number> {
  const bench = new Bench({ name, time: 0, iterations, warmup: true, warmupIterations: 1, warmupTime: 0 });
  bench.add(name, fn);
  await bench.run();
  const r = bench.tasks[0].result as { latency?: { p50: number } };
  return r.latency?.p50 ?? Number.NaN;
}

async function main(): Promise<void> {
  say(`runtime bench: T = ${T}, budget ${BUDGET * 100}% (synthetic logits, 1 query head per KV head)`);
  const logits = syntheticLogits(T, 1, 1);
  const sims: Record<string, { medianMs: number; ratioVsH2o: number }> = {};
  const h2oMs = await median("h2o", () => simulateHead(createPolicy("h2o", { budget: BUDGET }), logits, T), 5);
  for (const name of POLICY_NAMES) {
    const ms = name === "h2o" ? h2oMs : await median(name, () => simulateHead(createPolicy(name, { budget: BUDGET }), logits, T), name === "pagerank-undirected" ? 2 : 3);
    sims[name] = { medianMs: ms, ratioVsH2o: ms / h2oMs };
    say(`  simulate ${name.padEnd(20)} ${ms.toFixed(0).padStart(6)} ms per (layer, KV head)  (${(ms / h2oMs).toFixed(2)}x h2o)`);
  }

  // Each fast path against the implementation it replaced (Math.exp rows, sparse-row exact
  // PageRank, compactGraph + walkReference), same run; h2o isolates the rows (WebAssembly exp).
  const references: Record<string, ((o: PolicyOptions) => EvictionPolicy) | null> = {
    h2o: null,
    "pagerank-dense": (o) => new PageRankDenseSparsePolicy(o),
    "pagerank-undirected": (o) => new PageRankUndirectedSparsePolicy(o),
    "pagerank-walker": (o) => new PageRankWalkerReferencePolicy(o),
  };
  const fastPaths: Record<string, { budget: number; fastMs: number; referenceMs: number; speedup: number; identicalEvictions: boolean }> = {};
  for (const [name, ref] of Object.entries(references)) {
    const make = ref ?? ((o: PolicyOptions) => createPolicy(name, o));
    for (const budget of [0.2, 0.5]) {
      const iters = name === "pagerank-undirected" && budget === 0.5 ? 1 : 2;
      const fastMs = await median(`${name} fast`, () => simulateHead(createPolicy(name, { budget }), logits, T), iters + 1);
      const referenceMs = await median(`${name} reference`, () => simulateHead(make({ budget }), logits, T, 0, { exp: "exact" }), iters);
      const refEvict = simulateHead(make({ budget }), logits, T, 0, { exp: "exact" }).evict;
      const same = simulateHead(createPolicy(name, { budget }), logits, T).evict.every((e, j) => e === refEvict[j]);
      fastPaths[`${name}@${budget}`] = { budget, fastMs, referenceMs, speedup: referenceMs / fastMs, identicalEvictions: same };
      say(`  ${name.padEnd(20)} @${budget * 100}%: ${fastMs.toFixed(0)} ms vs reference ${referenceMs.toFixed(0)} ms (${(referenceMs / fastMs).toFixed(1)}x), identical evictions: ${same}`);
    }
  }

  // A full 4096-node causal attention graph: every query's row over all earlier keys.
  const row = logitsRowSource(logits, T);
  const graph = new AttentionGraph(T);
  const top4 = createGraph(T);
  const cache = new CacheState(T);
  const probs = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    cache.append(t);
    row(t, cache, probs);
    graph.record(t, cache, probs, 4, true, 0);
    writeTopK(top4, t, probs, t + 1);
  }
  let edges = 0;
  for (let t = 0; t < T; t++) edges += graph.len[t];
  const x = new Float64Array(T);
  const y = new Float64Array(T);
  const sweepMs = await median("causal sweep", () => personalizedPageRankCausal(graph, cache, 4, 64, 0.15, x), 10);
  const powerMs = await median("power iteration", () => {
    x.fill(0);
    personalizedPageRank(graph, cache, 4, 64, { teleport: 0.15, tol: 1e-10, maxIter: 1000 }, x, y);
  }, 3);
  say(`  exact PageRank, dense ${T}-node graph (${edges} edges): causal sweep ${sweepMs.toFixed(1)} ms, power iteration ${powerMs.toFixed(0)} ms (${(powerMs / sweepMs).toFixed(0)}x)`);
  const opts = { numNodes: T, excludeBelow: 4, startWindow: 64, teleport: 0.15 };
  const top4SweepMs = await median("top-4 sweep", () => top4PageRankCausal(top4, opts), 20);
  const top4PowerMs = await median("pagerankExact", () => pagerankExact(top4, { ...opts, tol: 1e-10 }), 5);
  say(`  exact PageRank, top-4 ${T}-node graph: causal sweep ${top4SweepMs.toFixed(2)} ms, walker-cuda pagerankExact ${top4PowerMs.toFixed(1)} ms (${(top4PowerMs / top4SweepMs).toFixed(0)}x)`);

  const file = join(outDir, "runtime-policies.json");
  writeJsonAtomic(file, {
    ...runMetadata(),
    T,
    budget: BUDGET,
    input: "syntheticLogits(4096, 1 head, seed 1)",
    simulatePerHead: { baseline: "h2o", results: sims },
    fastPathsPerHead: {
      baseline: "the replaced implementation, same run: Math.exp rows (exp: 'exact'), sparse-row exact PageRank, compactGraph + walkReference",
      results: fastPaths,
    },
    exactPageRank: {
      dense: { nodes: T, edges, causalSweepMs: sweepMs, baseline: "power iteration tol 1e-10", powerIterationMs: powerMs, ratio: powerMs / sweepMs },
      top4: { nodes: T, causalSweepMs: top4SweepMs, baseline: "walker-cuda pagerankExact tol 1e-10", pagerankExactMs: top4PowerMs, ratio: top4PowerMs / top4SweepMs },
    },
  });
  say(`wrote ${file}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
