/**
 * Shared by the accuracy studies (accuracy.ts on synthetic graphs, accuracy-fixture.ts on graphs
 * captured from the fixture model): the ranked node range, rank agreement (Spearman and top-k
 * overlap from ../rank.ts) restricted to it, decayed accumulation of walker counts across
 * refreshes, and a small SVG line-chart writer for the README plots.
 */
import type { GraphView } from "@kvwalk/graph-cache";
import { spearman, topKIndices, topKOverlap } from "../rank.js";
import { accumulateScores, type WalkOptions, walkReference } from "../reference.js";

/**
 * The nodes an eviction policy ranks: [lo, hi) = [excludeBelow, numNodes - startWindow) (sinks and
 * the recent window are always kept); k = round((hi - lo) * keep) is the kept set's size.
 */
export interface RankedRange {
  lo: number;
  hi: number;
  k: number;
}

export function rankedRange(numNodes: number, excludeBelow: number, startWindow: number, keep: number): RankedRange {
  const lo = excludeBelow;
  const hi = numNodes - startWindow;
  return { lo, hi, k: Math.round((hi - lo) * keep) };
}

/** The ranked slice [lo, hi) of a score vector, as a plain array. */
export function rankedSlice(x: ArrayLike<number>, range: RankedRange): number[] {
  return Array.from({ length: range.hi - range.lo }, (_, i) => x[range.lo + i]);
}

export interface Agreement {
  /** Spearman correlation over the ranked nodes. */
  spearman: number;
  /** |top-k(scores) ∩ top-k(reference)| / k over the ranked nodes. */
  topOverlap: number;
  /**
   * Reference mass kept: Σ reference over top-k(scores) / Σ reference over top-k(reference), in
   * [0, 1] (1 when k = 0 or the reference is 0 there). Unlike the overlap, swapping two nodes of
   * nearly equal reference score at the boundary costs nearly nothing.
   */
  massRecall: number;
}

function massRecall(scores: ArrayLike<number>, reference: ArrayLike<number>, k: number): number {
  if (k === 0) return 1;
  let got = 0;
  let best = 0;
  for (const i of topKIndices(scores, k)) got += reference[i];
  for (const i of topKIndices(reference, k)) best += reference[i];
  return best > 0 ? got / best : 1;
}

/** Agreement of `scores` with `reference` (full-length vectors, or slices already cut by rankedSlice). */
export function agreement(scores: ArrayLike<number>, reference: ArrayLike<number>, range: RankedRange, sliced = false): Agreement {
  const a = sliced ? scores : rankedSlice(scores, range);
  const b = sliced ? reference : rankedSlice(reference, range);
  return { spearman: spearman(a, b), topOverlap: topKOverlap(a, b, range.k), massRecall: massRecall(a, b, range.k) };
}

/**
 * Walks `graph` once per refresh r = 1..max(checkpoints) with seed `seedOf(r)` (other options from
 * `walk`) and accumulates the counts with each decay in `decays` (accumulateScores, the CUDA twin's
 * float32 rule). Calls `at(refreshes, decay, scores)` at every checkpoint, so refreshes 1..R cost R
 * walks in total rather than one series per checkpoint.
 */
export function refreshSeries(
  graph: GraphView,
  walk: WalkOptions,
  decays: readonly number[],
  checkpoints: readonly number[],
  seedOf: (refresh: number) => number,
  at: (refreshes: number, decay: number, scores: Float32Array) => void,
): void {
  const scores = decays.map(() => new Float32Array(walk.numNodes));
  const want = new Set(checkpoints);
  const last = Math.max(...checkpoints);
  for (let r = 1; r <= last; r++) {
    const counts = walkReference(graph, { ...walk, seed: seedOf(r) });
    decays.forEach((d, i) => {
      accumulateScores(scores[i], counts, d);
      if (want.has(r)) at(r, d, scores[i]);
    });
  }
}

/** One line of a chart: points [x, y]; `dash` draws it dashed. */
export interface Series {
  name: string;
  points: Array<[number, number]>;
  color: string;
  dash?: boolean;
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  /** x axis in log2 scale (ticks at the given xTicks). */
  xLog?: boolean;
  xTicks: number[];
  yRange: [number, number];
  yTicks: number[];
  series: Series[];
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** One chart as an SVG group of size w x h at (x0, y0). */
function chartGroup(c: ChartSpec, x0: number, y0: number, w: number, h: number): string {
  const m = { l: 48, r: 110, t: 24, b: 38 };
  const pw = w - m.l - m.r;
  const ph = h - m.t - m.b;
  const tx = (x: number) => (c.xLog ? Math.log2(x) : x);
  const xs = c.xTicks.map(tx);
  const [xmin, xmax] = [Math.min(...xs), Math.max(...xs)];
  const X = (x: number) => m.l + ((tx(x) - xmin) / (xmax - xmin || 1)) * pw;
  const Y = (y: number) => m.t + (1 - (y - c.yRange[0]) / (c.yRange[1] - c.yRange[0])) * ph;
  const out: string[] = [`<g transform="translate(${x0},${y0})" font-family="sans-serif" font-size="11">`];
  out.push(`<text x="${m.l + pw / 2}" y="14" text-anchor="middle" font-size="12" font-weight="bold">${esc(c.title)}</text>`);
  for (const t of c.yTicks) {
    out.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${Y(t).toFixed(1)}" y2="${Y(t).toFixed(1)}" stroke="#ddd"/>`);
    out.push(`<text x="${m.l - 4}" y="${(Y(t) + 4).toFixed(1)}" text-anchor="end">${t}</text>`);
  }
  for (const t of c.xTicks) {
    out.push(`<line x1="${X(t).toFixed(1)}" x2="${X(t).toFixed(1)}" y1="${m.t}" y2="${m.t + ph}" stroke="#eee"/>`);
    out.push(`<text x="${X(t).toFixed(1)}" y="${m.t + ph + 14}" text-anchor="middle">${t}</text>`);
  }
  out.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${m.l + pw / 2}" y="${h - 6}" text-anchor="middle">${esc(c.xLabel)}</text>`);
  out.push(`<text transform="translate(12,${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(c.yLabel)}</text>`);
  c.series.forEach((s, i) => {
    const pts = s.points.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(" ");
    const dash = s.dash ? ' stroke-dasharray="5,3"' : "";
    out.push(`<polyline points="${pts}" fill="none" stroke="${s.color}" stroke-width="1.8"${dash}/>`);
    for (const [x, y] of s.points) out.push(`<circle cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="2.2" fill="${s.color}"/>`);
    const ly = m.t + 8 + i * 15;
    out.push(`<line x1="${m.l + pw + 8}" x2="${m.l + pw + 26}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="1.8"${dash}/>`);
    out.push(`<text x="${m.l + pw + 30}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push("</g>");
  return out.join("\n");
}

/** Charts laid out in a grid of `cols` columns, each cell w x h pixels, as one SVG document. */
export function chartsSvg(charts: ChartSpec[], cols: number, w = 400, h = 260): string {
  const rows = Math.ceil(charts.length / cols);
  const body = charts.map((c, i) => chartGroup(c, (i % cols) * w, Math.floor(i / cols) * h, w, h)).join("\n");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${cols * w}" height="${rows * h}" viewBox="0 0 ${cols * w} ${rows * h}">\n<rect width="100%" height="100%" fill="white"/>\n${body}\n</svg>\n`;
}
