/**
 * Accuracy study on attention graphs captured from the fixture model: how well the walker's counts
 * rank tokens against exact personalized PageRank on the same top-4 graph, as a function of
 * walkers, steps and refreshes accumulated with decay. The synthetic-graph twin is accuracy.ts;
 * both share accuracy-common.ts.
 *
 *   node dist/bench/accuracy-fixture.js [out.json]
 *   (default: bench/results/walker-cuda-accuracy-fixture.json, plot beside it as .svg)
 *
 * Graphs: fixture-lm (requireShared("models/fixture-lm")) on the first 4096-token window of the
 * WikiText-2 test text (BOS + text, as `kvwalk-model ppl` cuts it). For each sampled (layer, head),
 * the stepper's scaled causal logits [T, T] become probability rows (softmax over keys <= t) and
 * node t of a 4096-node graph gets the top-4 of row t (writeTopK, the CUDA writer's twin). The
 * model is causal, so rows 0..2047 of that graph are exactly the graph of a 2048-token prefix: the
 * mid-sequence point is the same graph walked with numNodes = 2048.
 * Walk: the runtime policies' defaults (sinks 0..3 excluded, start window 64, teleport 0.15).
 * Ranked set as in accuracy.ts: nodes [4, numNodes - 64), kept set = top 20%.
 * Refreshes: refresh r (1-based) uses seed r on the SAME graph. In the runtime the graph gains a
 * few nodes and the cache is compacted between refreshes (refreshEvery decode steps), so this is the
 * idealized case of a graph that changes little between refreshes.
 * Metrics per graph, reported as mean and minimum over the sampled heads: Spearman, top-20%
 * overlap and PageRank mass kept (accuracy-common.ts `agreement`) of the (accumulated) counts
 * against pagerankExact, and the same against expectedVisits (noise vs finite-walk bias).
 * Takes about a minute on 2 busy cores (15 s of it capturing the graphs).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Progress, requireShared, runMetadata, writeFileAtomic, writeJsonAtomic } from "@kvwalk/core";
import { createGraph, type GraphView, writeTopK } from "@kvwalk/graph-cache";
import { loadModel, reexecWithTunedAllocator } from "@kvwalk/model";
import { expectedVisits, pagerankExact, walkReference } from "../reference.js";
import { type Agreement, agreement, type ChartSpec, chartsSvg, type RankedRange, rankedRange, rankedSlice, refreshSeries } from "./accuracy-common.js";

reexecWithTunedAllocator();

const outPath = process.argv[2] ?? fileURLToPath(new URL("../../../../bench/results/walker-cuda-accuracy-fixture.json", import.meta.url));
const svgPath = `${outPath.replace(/\.json$/, "")}.svg`;
const say = (s: string) => process.stdout.write(`${s}\n`);
const T = 4096;
const SIZES = [4096, 2048];
const LAYERS = [0, 2, 5, 7];
const HEADS = [0, 2, 4];
/** The runtime policies' defaults (@kvwalk/runtime policies/policy.ts: sinks 4, start window 64, teleport 0.15). */
const EXCLUDE = 4;
const WINDOW = 64;
const TELEPORT = 0.15;
const KEEP = 0.2;
const WALKERS = [256, 512, 1024, 2048, 4096, 8192, 16384];
const STEPS = [5, 10, 20, 40];
const REFRESHES = [1, 2, 4, 8, 16, 32];
/** [walkers, steps] per refresh of the refresh series (512 x 40 costs the same walker-steps as 1024 x 20). */
const REFRESH_CONFIGS: ReadonlyArray<readonly [number, number]> = [
  [256, 20],
  [1024, 20],
  [4096, 20],
  [512, 40],
];
/** 0.5: pagerank-walker's default; 0.9: the synthetic study's. */
const DECAYS = [0.5, 0.9];

const t0 = performance.now();
const secs = () => ((performance.now() - t0) / 1000).toFixed(1);

// ---- capture ------------------------------------------------------------------------------------
interface Captured {
  layer: number;
  head: number;
  graph: GraphView;
  /** Mean over rows t >= 1 of the probability mass of the 4 kept keys. */
  top4Mass: number;
  /** Mean over rows t >= 1 of the renormalized weight of kept edges into sinks (< EXCLUDE): walk dead ends. */
  sinkWeight: number;
}

const modelDir = requireShared("models/fixture-lm", "the fixture model (models/fixture-lm)");
const textPath = requireShared("data/wikitext-2-raw/wiki.test.raw", "WikiText-2 raw test text");
const model = await loadModel(modelDir, { threads: 2 });
// BOS + text; 200k characters is far more than 4096 tokens, and the cut is ~40k tokens past the window.
const ids = model.tokenizer.encode(readFileSync(textPath, "utf8").slice(0, 200_000));
if (ids.length < T) throw new Error(`tokenized WikiText-2 prefix has ${ids.length} tokens, expected >= ${T}`);
const tokens = ids.slice(0, T);
say(`[${secs()} s] model loaded, ${T} tokens (first ids ${Array.from(tokens.slice(0, 4)).join(",")})`);

function toGraph(logits: Float32Array, layer: number, head: number): Captured {
  const graph = createGraph(T);
  const row = new Float32Array(T);
  let mass = 0;
  let sink = 0;
  for (let t = 0; t < T; t++) {
    const off = t * T;
    let max = Number.NEGATIVE_INFINITY;
    for (let j = 0; j <= t; j++) if (logits[off + j] > max) max = logits[off + j];
    let sum = 0;
    for (let j = 0; j <= t; j++) sum += Math.exp(logits[off + j] - max);
    for (let j = 0; j <= t; j++) row[j] = Math.exp(logits[off + j] - max) / sum;
    writeTopK(graph, t, row, t + 1);
    if (t === 0) continue;
    for (let e = 0; e < 4; e++) {
      const v = graph.neighbors[t * 4 + e];
      if (v < 0) continue;
      mass += row[v];
      if (v < EXCLUDE) sink += graph.weights[t * 4 + e];
    }
  }
  return { layer, head, graph, top4Mass: mass / (T - 1), sinkWeight: sink / (T - 1) };
}

const captured: Captured[] = [];
const stepper = await model.stepper(tokens);
for (let layer = 0; layer <= Math.max(...LAYERS); layer++) {
  if (LAYERS.includes(layer)) {
    for (const head of HEADS) captured.push(toGraph(await stepper.logits(head), layer, head));
    say(`[${secs()} s] layer ${layer}: captured heads ${HEADS.join(",")}`);
  }
  if (layer < Math.max(...LAYERS)) await stepper.attend();
}
await model.dispose();
const captureSeconds = Number(secs());

// ---- walks --------------------------------------------------------------------------------------
interface Case {
  layer: number;
  head: number;
  numNodes: number;
  graphIndex: number;
  graph: GraphView;
  range: RankedRange;
  ppr: number[];
  /** Fraction of ranked nodes with PageRank > 0 (the rest tie at 0: unreachable in the top-4 graph). */
  reachable: number;
  top4Mass: number;
  sinkWeight: number;
}

const cases: Case[] = [];
for (const numNodes of SIZES) {
  for (const c of captured) {
    const range = rankedRange(numNodes, EXCLUDE, WINDOW, KEEP);
    const ppr = rankedSlice(pagerankExact(c.graph, { numNodes, excludeBelow: EXCLUDE, startWindow: WINDOW, teleport: TELEPORT }), range);
    cases.push({
      layer: c.layer,
      head: c.head,
      numNodes,
      graphIndex: cases.length,
      graph: c.graph,
      range,
      ppr,
      reachable: ppr.filter((x) => x > 0).length / ppr.length,
      top4Mass: c.top4Mass,
      sinkWeight: c.sinkWeight,
    });
  }
}

/** Per-graph agreement of one setting, against PageRank and against the walk's own expectation. */
interface Measured {
  ppr: Agreement;
  expected: Agreement;
}
interface Row {
  numNodes: number;
  walkers: number;
  steps: number;
  refreshes: number;
  decay: number | null;
  spearmanPpr: number;
  top20OverlapPpr: number;
  massRecallPpr: number;
  minSpearmanPpr: number;
  minTop20OverlapPpr: number;
  minMassRecallPpr: number;
  spearmanExpected: number;
  top20OverlapExpected: number;
  /** Per graph (order of `graphs` for this numNodes), rounded to 4 digits. */
  spearmanPprByGraph: number[];
  top20OverlapPprByGraph: number[];
}

const mean = (x: number[]) => x.reduce((a, b) => a + b, 0) / x.length;
const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
function summarize(numNodes: number, walkers: number, steps: number, refreshes: number, decay: number | null, m: Measured[]): Row {
  const sp = m.map((x) => x.ppr.spearman);
  const ov = m.map((x) => x.ppr.topOverlap);
  const mr = m.map((x) => x.ppr.massRecall);
  return {
    numNodes,
    walkers,
    steps,
    refreshes,
    decay,
    spearmanPpr: mean(sp),
    top20OverlapPpr: mean(ov),
    massRecallPpr: mean(mr),
    minSpearmanPpr: Math.min(...sp),
    minTop20OverlapPpr: Math.min(...ov),
    minMassRecallPpr: Math.min(...mr),
    spearmanExpected: mean(m.map((x) => x.expected.spearman)),
    top20OverlapExpected: mean(m.map((x) => x.expected.topOverlap)),
    spearmanPprByGraph: sp.map(r4),
    top20OverlapPprByGraph: ov.map(r4),
  };
}

const gridKey = (n: number, w: number, s: number) => `${n}/${w}/${s}`;
const refKey = (n: number, w: number, s: number, r: number, d: number) => `${n}/${w}/${s}/${r}/${d}`;
const grid = new Map<string, Measured[]>();
const series = new Map<string, Measured[]>();
const push = (m: Map<string, Measured[]>, k: string, v: Measured) => (m.get(k) ?? m.set(k, []).get(k)!).push(v);
const floor = new Map<string, Agreement[]>();

const progress = new Progress("walks", cases.length, "graph");
for (const c of cases) {
  const base = { numNodes: c.numNodes, excludeBelow: EXCLUDE, startWindow: WINDOW, teleport: TELEPORT, graphIndex: c.graphIndex };
  const expected = new Map<number, number[]>();
  for (const steps of STEPS) {
    const e = rankedSlice(expectedVisits(c.graph, { ...base, walkers: 1, steps }), c.range);
    expected.set(steps, e);
    const f = agreement(e, c.ppr, c.range, true);
    (floor.get(`${c.numNodes}/${steps}`) ?? floor.set(`${c.numNodes}/${steps}`, []).get(`${c.numNodes}/${steps}`)!).push(f);
  }
  const measure = (scores: ArrayLike<number>, steps: number): Measured => {
    const s = rankedSlice(scores, c.range);
    return { ppr: agreement(s, c.ppr, c.range, true), expected: agreement(s, expected.get(steps)!, c.range, true) };
  };
  for (const walkers of WALKERS) {
    for (const steps of STEPS) {
      push(grid, gridKey(c.numNodes, walkers, steps), measure(walkReference(c.graph, { ...base, walkers, steps, seed: 1 }), steps));
    }
  }
  for (const [walkers, steps] of REFRESH_CONFIGS) {
    refreshSeries(c.graph, { ...base, walkers, steps }, DECAYS, REFRESHES, (r) => r, (r, d, scores) => {
      push(series, refKey(c.numNodes, walkers, steps, r, d), measure(scores, steps));
    });
  }
  progress.tick(1, `L${c.layer}H${c.head} n=${c.numNodes}`);
}

const rows: Row[] = [];
for (const n of SIZES) {
  for (const w of WALKERS) for (const s of STEPS) rows.push(summarize(n, w, s, 1, null, grid.get(gridKey(n, w, s))!));
  for (const [w, s] of REFRESH_CONFIGS) {
    for (const d of DECAYS) for (const r of REFRESHES) rows.push(summarize(n, w, s, r, d, series.get(refKey(n, w, s, r, d))!));
  }
}
const floorRows = SIZES.flatMap((n) =>
  STEPS.map((steps) => {
    const f = floor.get(`${n}/${steps}`)!;
    return {
      numNodes: n,
      steps,
      spearmanPpr: mean(f.map((x) => x.spearman)),
      top20OverlapPpr: mean(f.map((x) => x.topOverlap)),
      massRecallPpr: mean(f.map((x) => x.massRecall)),
      minSpearmanPpr: Math.min(...f.map((x) => x.spearman)),
    };
  }),
);

// ---- report -------------------------------------------------------------------------------------
const f3 = (x: number) => x.toFixed(3);
const find = (n: number, w: number, s: number, r: number, d: number | null) =>
  rows.find((x) => x.numNodes === n && x.walkers === w && x.steps === s && x.refreshes === r && x.decay === d)!;
const cell = (x: Row) => `${f3(x.spearmanPpr)} / ${f3(x.top20OverlapPpr)} / ${f3(x.massRecallPpr)}`;
for (const n of SIZES) {
  say(`\n${n} nodes, 1 refresh: mean Spearman / top-20% overlap / PageRank mass recall`);
  say(`| walkers \\ steps | ${STEPS.join(" | ")} |`);
  say(`|---|${STEPS.map(() => "---").join("|")}|`);
  for (const w of WALKERS) say(`| ${w} | ${STEPS.map((s) => cell(find(n, w, s, 1, null))).join(" | ")} |`);
  say(`min over graphs, 1024 x 20: ${(({ minSpearmanPpr: a, minTop20OverlapPpr: b, minMassRecallPpr: c }) => [a, b, c].map(f3).join(" / "))(find(n, 1024, 20, 1, null))}`);
  for (const d of DECAYS) {
    say(`\n${n} nodes, refreshes accumulated with decay ${d}: Spearman / top-20% overlap / mass recall`);
    say(`| refreshes | ${REFRESH_CONFIGS.map(([w, s]) => `${w} x ${s}`).join(" | ")} |`);
    say(`|---|${REFRESH_CONFIGS.map(() => "---").join("|")}|`);
    for (const r of REFRESHES) say(`| ${r} | ${REFRESH_CONFIGS.map(([w, s]) => cell(find(n, w, s, r, d))).join(" | ")} |`);
  }
  for (const f of floorRows.filter((x) => x.numNodes === n)) {
    say(`E[counts] (steps ${f.steps}) vs PPR: spearman ${f.spearmanPpr.toFixed(4)} (min ${f.minSpearmanPpr.toFixed(4)}) top20 ${f.top20OverlapPpr.toFixed(4)} mass ${f.massRecallPpr.toFixed(4)}`);
  }
}
for (const c of cases) {
  say(`L${c.layer} H${c.head} n=${c.numNodes}: reachable ${(c.reachable * 100).toFixed(1)}%, top-4 mass ${f3(c.top4Mass)}, sink weight ${f3(c.sinkWeight)}`);
}

// Plot: 4096 nodes, a column per metric. Top: one refresh vs walkers (a line per steps). Bottom:
// refreshes accumulated (a colour per walkers x steps; decay 0.9 solid, 0.5 dashed).
const N = SIZES[0];
const colors = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a"];
type Metric = "spearmanPpr" | "top20OverlapPpr" | "massRecallPpr";
const METRICS: Array<[Metric, string]> = [
  ["spearmanPpr", "Spearman"],
  ["top20OverlapPpr", "top-20% overlap"],
  ["massRecallPpr", "PageRank mass kept"],
];
const axis = (key: Metric) => {
  const lo = Math.floor(Math.min(...rows.filter((x) => x.numNodes === N).map((x) => x[key])) * 10) / 10;
  return { yRange: [lo, 1] as [number, number], yTicks: Array.from({ length: Math.round((1 - lo) * 10) + 1 }, (_, i) => r4(lo + i / 10)) };
};
const byWalkers = ([key, label]: [Metric, string]): ChartSpec => ({
  title: `${label}, 1 refresh`,
  xLabel: "walkers",
  yLabel: label,
  xLog: true,
  xTicks: WALKERS.filter((_, i) => i % 2 === 0),
  ...axis(key),
  series: STEPS.map((s, i) => ({ name: `${s} steps`, color: colors[i], points: WALKERS.map((w) => [w, find(N, w, s, 1, null)[key]] as [number, number]) })),
});
const byRefresh = ([key, label]: [Metric, string]): ChartSpec => ({
  title: `${label}, accumulated`,
  xLabel: "refreshes",
  yLabel: label,
  xLog: true,
  xTicks: REFRESHES,
  ...axis(key),
  series: REFRESH_CONFIGS.flatMap(([w, s], i) =>
    [...DECAYS].reverse().map((d) => ({
      name: `${w}x${s} d${d}`,
      color: colors[i],
      dash: d !== DECAYS[DECAYS.length - 1],
      points: REFRESHES.map((r) => [r, find(N, w, s, r, d)[key]] as [number, number]),
    })),
  ),
});
writeFileAtomic(svgPath, chartsSvg([...METRICS.map(byWalkers), ...METRICS.map(byRefresh)], 3, 400, 290));

writeJsonAtomic(outPath, {
  ...runMetadata(),
  model: "fixture-lm (8 layers x 6 heads, MHA)",
  text: `WikiText-2 raw test, first window: BOS + first ${T - 1} tokens`,
  graphs: `top-4 graphs of the softmax of stepper.logits(head), layers ${LAYERS.join(",")} x heads ${HEADS.join(",")}, at numNodes ${SIZES.join(" and ")} (rows 0..n-1 of the ${T}-token graph = the n-token prefix's graph, the model being causal)`,
  rankedNodes: SIZES.map((n) => {
    const r = rankedRange(n, EXCLUDE, WINDOW, KEEP);
    return `${n} nodes: [${r.lo}, ${r.hi}), top ${r.k} = ${KEEP * 100}%`;
  }),
  walk: { teleport: TELEPORT, startWindow: WINDOW, excludeBelow: EXCLUDE, decays: DECAYS, gridSeed: 1, refreshSeeds: "seed r for refresh r = 1..32, same graph" },
  seconds: { capture: captureSeconds, total: Number(secs()) },
  perGraph: cases.map((c) => ({
    layer: c.layer,
    head: c.head,
    numNodes: c.numNodes,
    reachableRankedFraction: r4(c.reachable),
    top4Mass: r4(c.top4Mass),
    sinkEdgeWeight: r4(c.sinkWeight),
  })),
  rows,
  expectationVsPagerank: floorRows,
});
say(`wrote ${outPath} and ${svgPath} in ${secs()} s`);
