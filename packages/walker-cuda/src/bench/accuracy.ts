/**
 * Accuracy study: how well the walker's counts rank tokens against exact personalized PageRank on
 * the same top-4 graph, as a function of walkers, steps and refreshes accumulated with decay.
 * Runs the TypeScript walker (whose counts equal the kernel's bit for bit), so it runs anywhere.
 *
 *   node dist/bench/accuracy.js [out.json]     (default: bench/results/walker-cuda-accuracy.json)
 *
 * Graphs: synthetic causal attention graphs (testing/graphs.ts "attention": sinks and recent tokens
 * dominate, as in top-4 attention rows), 4096 nodes, sinks 0..3 excluded, start window 64. The
 * ranked set is what an eviction policy ranks: nodes in [excludeBelow, numNodes - startWindow)
 * (sinks and the recent window are always kept). Metrics, averaged over GRAPHS graphs:
 *  - Spearman correlation of counts vs exact PageRank (pagerankExact);
 *  - overlap of the kept top-20% sets (|top(counts) ∩ top(PPR)| / k);
 *  - the same two against expectedVisits (the finite-step walk's own exact expectation), which
 *    separates noise (vs expectation) from the finite-walk bias (expectation vs PageRank).
 */
import { fileURLToPath } from "node:url";
import { runMetadata, writeJsonAtomic } from "@kvwalk/core";
import { expectedVisits, pagerankExact } from "../reference.js";
import { randomGraph } from "../testing/graphs.js";
import { agreement, rankedRange, rankedSlice, refreshSeries } from "./accuracy-common.js";

const outPath = process.argv[2] ?? fileURLToPath(new URL("../../../../bench/results/walker-cuda-accuracy.json", import.meta.url));
const say = (s: string) => process.stdout.write(`${s}\n`);
const N = 4096;
const EXCLUDE = 4;
const WINDOW = 64;
const GRAPHS = 4;
const KEEP = 0.2;
const DECAY = 0.9;

const graphs = Array.from({ length: GRAPHS }, (_, i) => randomGraph("attention", N, 500 + i));
const range = rankedRange(N, EXCLUDE, WINDOW, KEEP);
const { lo, hi, k } = range;
const base = { numNodes: N, excludeBelow: EXCLUDE, startWindow: WINDOW };
const ppr = graphs.map((g) => rankedSlice(pagerankExact(g, base), range));

interface Row {
  walkers: number;
  steps: number;
  refreshes: number;
  spearmanPpr: number;
  top20OverlapPpr: number;
  spearmanExpected: number;
  top20OverlapExpected: number;
}

function evaluate(walkers: number, steps: number, refreshes: number): Row {
  let sp = 0;
  let ov = 0;
  let spE = 0;
  let ovE = 0;
  graphs.forEach((g, gi) => {
    const e = rankedSlice(expectedVisits(g, { ...base, walkers, steps }), range);
    refreshSeries(g, { ...base, walkers, steps, graphIndex: gi }, [DECAY], [refreshes], (r) => r, (_r, _d, scores) => {
      const s = rankedSlice(scores, range);
      const vsPpr = agreement(s, ppr[gi], range, true);
      const vsE = agreement(s, e, range, true);
      sp += vsPpr.spearman;
      ov += vsPpr.topOverlap;
      spE += vsE.spearman;
      ovE += vsE.topOverlap;
    });
  });
  return {
    walkers,
    steps,
    refreshes,
    spearmanPpr: sp / GRAPHS,
    top20OverlapPpr: ov / GRAPHS,
    spearmanExpected: spE / GRAPHS,
    top20OverlapExpected: ovE / GRAPHS,
  };
}

const rows: Row[] = [];
const fmt = (r: Row) =>
  `walkers ${String(r.walkers).padStart(5)} steps ${String(r.steps).padStart(2)} refreshes ${String(r.refreshes).padStart(2)}: ` +
  `vs PPR spearman ${r.spearmanPpr.toFixed(3)} top20 ${r.top20OverlapPpr.toFixed(3)} | vs E[counts] spearman ${r.spearmanExpected.toFixed(3)} top20 ${r.top20OverlapExpected.toFixed(3)}`;
for (const walkers of [256, 1024, 4096, 16384]) {
  for (const steps of [5, 10, 20, 40]) {
    rows.push(evaluate(walkers, steps, 1));
    say(fmt(rows[rows.length - 1]));
  }
}
for (const refreshes of [2, 4, 8, 16, 32]) {
  rows.push(evaluate(1024, 20, refreshes));
  say(fmt(rows[rows.length - 1]));
}
// The bias floor: the finite-step expectation itself against PageRank.
const floor = [5, 10, 20, 40].map((steps) => {
  let sp = 0;
  let ov = 0;
  graphs.forEach((g, gi) => {
    const a = agreement(rankedSlice(expectedVisits(g, { ...base, walkers: 1, steps }), range), ppr[gi], range, true);
    sp += a.spearman;
    ov += a.topOverlap;
  });
  return { steps, spearmanPpr: sp / GRAPHS, top20OverlapPpr: ov / GRAPHS };
});
for (const f of floor) say(`E[counts] (steps ${f.steps}) vs PPR: spearman ${f.spearmanPpr.toFixed(4)} top20 ${f.top20OverlapPpr.toFixed(4)}`);
writeJsonAtomic(outPath, {
  ...runMetadata(),
  graphs: `${GRAPHS} synthetic causal attention graphs (testing/graphs.ts "attention"), ${N} nodes`,
  rankedNodes: `[${lo}, ${hi}) (sinks < ${EXCLUDE} and the last ${WINDOW} excluded), top ${k} = ${KEEP * 100}%`,
  walk: { teleport: 0.15, startWindow: WINDOW, excludeBelow: EXCLUDE, decay: DECAY },
  rows,
  expectationVsPagerank: floor,
});
say(`wrote ${outPath}`);
