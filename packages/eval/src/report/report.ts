import { mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  bootstrapDraws,
  bootstrapInterval,
  bootstrapSample,
  type Interval,
  pairedDifference,
  percentileInterval,
  perplexityInterval,
  pooledPerplexity,
  seededRandom,
  writeFileAtomic,
} from "@kvwalk/core";
import { barChart, heatmap, lineChart, renderPng, renderSvg, type Scene } from "@kvwalk/core/plot";
import type { ResultRecord } from "../results.js";
import { wilsonInterval } from "../stats.js";

/** Perplexity of one (policy, budget) cell over its windows. */
export interface PplCell {
  policy: string;
  budget: number;
  windows: number;
  tokens: number;
  ppl: Interval;
  /** Perplexity over the tokens whose query saw a full cache at this budget (full cache: same tokens). */
  filledPpl: Interval;
}

const bkey = (b: number) => b.toFixed(4);

/**
 * Perplexity table of a perplexity dataset: one cell per (policy, budget), plus, for the full
 * cache, one cell per budget of the others (its overall perplexity is the same everywhere, its
 * "cache full" perplexity is measured on the same tokens as the policies at that budget).
 */
export function perplexityCells(records: readonly ResultRecord[], dataset: string): PplCell[] {
  const recs = records.filter((r) => r.dataset === dataset);
  const budgets = [...new Set(recs.filter((r) => r.policy !== "full").map((r) => r.budget))].sort((a, b) => a - b);
  const groups = new Map<string, ResultRecord[]>();
  for (const r of recs) {
    const targets = r.budget >= 1 ? budgets : [r.budget];
    for (const b of targets) {
      const k = `${r.policy}|${bkey(b)}`;
      if (!groups.has(k)) groups.set(k, []);
      groups.get(k)!.push(r);
    }
  }
  const cells: PplCell[] = [];
  for (const [k, rs] of groups) {
    const [policy, b] = k.split("|");
    const budget = Number(b);
    const filled = rs.map((r) => r.filled?.[bkey(budget)] ?? { tokens: r.filledTokens, nllSum: r.filledNllSum });
    cells.push({
      policy,
      budget,
      windows: rs.length,
      tokens: rs.reduce((a, r) => a + r.tokens, 0),
      ppl: perplexityInterval(
        rs.map((r) => r.nllSum),
        rs.map((r) => r.tokens),
      ),
      filledPpl: perplexityInterval(
        filled.map((f) => f.nllSum),
        filled.map((f) => f.tokens),
      ),
    });
  }
  return cells;
}

/** Policies in first-seen order with `full` first: the report's row order. */
export function policyOrder(records: readonly ResultRecord[], preferred: readonly string[] = []): string[] {
  const seen = [...new Set(records.map((r) => r.policy))];
  const order = preferred.filter((p) => seen.includes(p));
  for (const p of seen) if (!order.includes(p)) order.push(p);
  return order.sort((a, b) => (a === "full" ? -1 : b === "full" ? 1 : 0));
}

/** Exact two-sided sign test (McNemar without continuity correction, exact binomial) for b vs c discordant pairs. */
export function signTestP(b: number, c: number): number {
  const n = b + c;
  if (n === 0) return 1;
  const k = Math.min(b, c);
  // log C(n, i) accumulated to avoid overflow for large n.
  let logC = 0;
  let sum = 0;
  for (let i = 0; i <= k; i++) {
    if (i > 0) logC += Math.log(n - i + 1) - Math.log(i);
    sum += Math.exp(logC - n * Math.LN2);
  }
  return Math.min(1, 2 * sum);
}

/** Needle accuracy of a (kind, length, policy, budget, depth) cell. */
export interface NeedleCell {
  kind: string;
  length: number;
  policy: string;
  budget: number;
  depth: number | "all";
  correct: number;
  n: number;
  acc: Interval;
}

export function needleCells(records: readonly ResultRecord[]): NeedleCell[] {
  const groups = new Map<string, { correct: number; n: number; kind: string; length: number; policy: string; budget: number; depth: number | "all" }>();
  for (const r of records) {
    if (r.dataset !== "needle" || !r.needle) continue;
    for (const depth of [r.needle.depth, "all"] as const) {
      const k = `${r.needle.kind}|${r.needle.length}|${r.policy}|${bkey(r.budget)}|${depth}`;
      let g = groups.get(k);
      if (!g) {
        g = { correct: 0, n: 0, kind: r.needle.kind, length: r.needle.length, policy: r.policy, budget: r.budget, depth };
        groups.set(k, g);
      }
      g.n++;
      if (r.needle.correct) g.correct++;
    }
  }
  return [...groups.values()].map((g) => ({ ...g, acc: wilsonInterval(g.correct, g.n) }));
}

/** Paired comparison of two policies at one budget on the same needle samples. */
export interface PairedNeedle {
  kind: string;
  length: number;
  budget: number;
  a: string;
  b: string;
  /** Samples both ran on. */
  n: number;
  /** a wrong, b right. */
  onlyB: number;
  /** a right, b wrong. */
  onlyA: number;
  p: number;
  /** Item ids where they disagree (for traces). */
  disagreements: { item: string; winner: string }[];
}

export function pairedNeedle(records: readonly ResultRecord[], a: string, b: string): PairedNeedle[] {
  const idx = new Map<string, ResultRecord>();
  for (const r of records) if (r.dataset === "needle") idx.set(`${r.item}|${r.policy}|${bkey(r.budget)}`, r);
  const out = new Map<string, PairedNeedle>();
  for (const r of records) {
    if (r.dataset !== "needle" || r.policy !== a || !r.needle) continue;
    const other = idx.get(`${r.item}|${b}|${bkey(r.budget)}`);
    if (!other?.needle) continue;
    const k = `${r.needle.kind}|${r.needle.length}|${bkey(r.budget)}`;
    let g = out.get(k);
    if (!g) {
      g = { kind: r.needle.kind, length: r.needle.length, budget: r.budget, a, b, n: 0, onlyA: 0, onlyB: 0, p: 1, disagreements: [] };
      out.set(k, g);
    }
    g.n++;
    if (r.needle.correct && !other.needle.correct) {
      g.onlyA++;
      g.disagreements.push({ item: r.item, winner: a });
    } else if (!r.needle.correct && other.needle.correct) {
      g.onlyB++;
      g.disagreements.push({ item: r.item, winner: b });
    }
  }
  for (const g of out.values()) g.p = signTestP(g.onlyA, g.onlyB);
  return [...out.values()].sort((x, y) => x.kind.localeCompare(y.kind) || x.length - y.length || x.budget - y.budget);
}

/** LongBench generation score of a (task, policy, budget) cell: mean metric over samples, and the paired difference to the full cache. */
export interface GenCell {
  task: string;
  metric: string;
  policy: string;
  budget: number;
  n: number;
  /** Mean score (0-1) with a 95% percentile bootstrap interval over samples. */
  score: Interval;
  /** Mean of (this policy - full cache) over the samples both ran, paired bootstrap 95% interval; absent for full. */
  vsFull?: Interval;
  /** Samples in the paired comparison. */
  paired: number;
  meanNewTokens: number;
  /** Share of answers that ended at EOS (the rest ran to the task's maximum length). */
  stoppedShare: number;
}

const BOOT_SEED = 1234;
const BOOT_RESAMPLES = 1000;

const meanOf = (xs: ArrayLike<number>) => (idx: ArrayLike<number>) => {
  let s = 0;
  for (let k = 0; k < idx.length; k++) s += xs[idx[k]];
  return idx.length ? s / idx.length : Number.NaN;
};

/**
 * Generation cells per task: every (policy, budget) of the non-full budgets, and the full cache at
 * each of those budgets (the same records, so its row reads across). Bootstrap intervals resample
 * samples (seed 1234, 1000 resamples); the comparison with the full cache resamples the same
 * samples for both (a paired bootstrap of the mean difference).
 */
export function generationCells(records: readonly ResultRecord[]): GenCell[] {
  const recs = records.filter((r) => r.dataset === "longbench-gen" && r.generation);
  const cells: GenCell[] = [];
  for (const task of [...new Set(recs.map((r) => r.generation!.task))].sort()) {
    const tr = recs.filter((r) => r.generation!.task === task);
    const budgets = [...new Set(tr.filter((r) => r.policy !== "full").map((r) => r.budget))].sort((a, b) => a - b);
    const full = new Map(tr.filter((r) => r.policy === "full").map((r) => [r.item, r.generation!.score]));
    const groups = new Map<string, ResultRecord[]>();
    for (const r of tr) {
      for (const b of r.policy === "full" ? budgets : [r.budget]) {
        const k = `${r.policy}|${bkey(b)}`;
        if (!groups.has(k)) groups.set(k, []);
        groups.get(k)!.push(r);
      }
    }
    for (const [k, rs] of groups) {
      const [policy, b] = k.split("|");
      const scores = Float64Array.from(rs, (r) => r.generation!.score);
      const cell: GenCell = {
        task,
        metric: rs[0].generation!.metric,
        policy,
        budget: Number(b),
        n: rs.length,
        score: bootstrapInterval(rs.length, meanOf(scores), { seed: BOOT_SEED, resamples: BOOT_RESAMPLES }),
        paired: 0,
        meanNewTokens: rs.reduce((a, r) => a + r.generation!.newTokens, 0) / rs.length,
        stoppedShare: rs.filter((r) => r.generation!.stopped).length / rs.length,
      };
      if (policy !== "full") {
        const both = rs.filter((r) => full.has(r.item));
        cell.paired = both.length;
        if (both.length) {
          const mine = Float64Array.from(both, (r) => r.generation!.score);
          const ref = Float64Array.from(both, (r) => full.get(r.item)!);
          const draws = bootstrapDraws(both.length, BOOT_RESAMPLES, seededRandom(BOOT_SEED));
          cell.vsFull = pairedDifference(bootstrapSample(both.length, draws, meanOf(mine)), bootstrapSample(both.length, draws, meanOf(ref)));
        }
      }
      cells.push(cell);
    }
  }
  return cells.sort((a, b) => (a.task < b.task ? -1 : a.task > b.task ? 1 : 0) || a.budget - b.budget || (a.policy < b.policy ? -1 : a.policy > b.policy ? 1 : 0));
}

/** Paired comparison of two policies' "cache full" perplexity at one budget on the windows both ran. */
export interface PairedPpl {
  dataset: string;
  budget: number;
  a: string;
  b: string;
  /** Windows both policies ran at this budget (the full cache: at any budget, on this budget's tokens). */
  n: number;
  /** Pooled "after the cache filled" perplexity of each over those windows. */
  pplA: number;
  pplB: number;
  /**
   * PPL_b / PPL_a - 1 with a paired percentile bootstrap 95% interval over windows (each resample
   * draws the same windows for both; seed 1234, 1000 resamples). Negative: b predicts better.
   */
  rel: Interval;
  /** Windows where b's filled NLL sum is strictly lower than a's. */
  bLower: number;
}

/** The "cache full" tokens and NLL of a record at `budget` (the full cache: from its per-budget map), or undefined. */
function filledAt(r: ResultRecord, budget: number): { tokens: number; nllSum: number } | undefined {
  const f = r.filled?.[bkey(budget)];
  if (f) return f;
  return bkey(r.budget) === bkey(budget) ? { tokens: r.filledTokens, nllSum: r.filledNllSum } : undefined;
}

/**
 * Paired perplexity comparisons of `b` against `a` on a perplexity dataset, one per budget below 1
 * where both have windows: pooled perplexity over the tokens predicted after the cache filled, the
 * relative difference PPL_b / PPL_a - 1 with a paired bootstrap interval (the resampled windows
 * are shared by both; a resample's perplexity is exp(sum filled NLL / sum filled tokens) over its
 * windows), and the number of windows where b's filled NLL sum is lower. A policy run at budget 1
 * (the full cache) takes part at every budget, on that budget's tokens.
 */
export function pairedPerplexity(records: readonly ResultRecord[], dataset: string, a: string, b: string): PairedPpl[] {
  const recs = records.filter((r) => r.dataset === dataset && (r.policy === a || r.policy === b));
  const budgets = [...new Set(recs.filter((r) => r.budget < 1).map((r) => r.budget))].sort((x, y) => x - y);
  const out: PairedPpl[] = [];
  for (const budget of budgets) {
    const at = (p: string) => {
      const m = new Map<string, { tokens: number; nllSum: number }>();
      for (const r of recs) {
        if (r.policy !== p || (r.budget < 1 && bkey(r.budget) !== bkey(budget))) continue;
        const f = filledAt(r, budget);
        if (f && !m.has(r.item)) m.set(r.item, f);
      }
      return m;
    };
    const ma = at(a);
    const mb = at(b);
    const items = [...ma.keys()].filter((k) => mb.has(k)).sort();
    const n = items.length;
    if (n === 0) continue;
    const fa = items.map((k) => ma.get(k)!);
    const fb = items.map((k) => mb.get(k)!);
    const pa = pooledPerplexity(
      fa.map((f) => f.nllSum),
      fa.map((f) => f.tokens),
    );
    const pb = pooledPerplexity(
      fb.map((f) => f.nllSum),
      fb.map((f) => f.tokens),
    );
    const draws = bootstrapDraws(n, BOOT_RESAMPLES, seededRandom(BOOT_SEED));
    const rel = bootstrapSample(n, draws, (idx) => pb(idx) / pa(idx) - 1);
    const all = Int32Array.from(items, (_, i) => i);
    out.push({
      dataset,
      budget,
      a,
      b,
      n,
      pplA: pa(all),
      pplB: pb(all),
      rel: percentileInterval(rel.point, rel.boot),
      bLower: items.filter((_, i) => fb[i].nllSum < fa[i].nllSum).length,
    });
  }
  return out;
}

const fmt = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : "--");
const fmtIv = (iv: Interval, d = 1) => `${fmt(iv.value, d)} [${fmt(iv.lo, d)}, ${fmt(iv.hi, d)}]`;
const sign = (v: number) => (v > 0 ? "+" : "");
/** A relative difference in percent with its interval, "-0.61% [-0.72, -0.50]"; one window has none. */
const fmtRel = (iv: Interval, n: number) =>
  `${sign(iv.value)}${fmt(iv.value * 100, 2)}%${n < 2 ? " (one window: no interval)" : ` [${fmt(iv.lo * 100, 2)}, ${fmt(iv.hi * 100, 2)}]`}`;

function mdTable(header: string[], rows: string[][]): string {
  return [`| ${header.join(" | ")} |`, `|${header.map((_, i) => (i === 0 ? " --- " : " ---: ")).join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

/** Writes `name`.svg and `name`.png under dir/plots; returns the Markdown that shows the PNG and links the SVG. */
function writePlot(dir: string, name: string, scene: Scene, alt: string): string {
  const plots = join(dir, "plots");
  mkdirSync(plots, { recursive: true });
  writeFileAtomic(join(plots, `${name}.svg`), renderSvg(scene));
  writeFileAtomic(join(plots, `${name}.png`), renderPng(scene));
  return `![${alt}](plots/${name}.png) ([SVG](plots/${name}.svg))`;
}

export interface ReportInput {
  records: readonly ResultRecord[];
  /** Lines printed under the title (run metadata, config summary). */
  preamble?: string[];
  /** Policy order for tables (labels). */
  policies?: readonly string[];
  /** Pairs (A, B) compared: perplexity (paired bootstrap), needles (sign test), e.g. [["h2o", "pagerank-walker"]]. */
  comparisons?: [string, string][];
  /** Extra Markdown sections appended at the end (traces). */
  extraSections?: string[];
}

const DATASET_TITLES: Record<string, string> = {
  wikitext2: "WikiText-2 perplexity",
  "longbench-context": "LongBench contexts: perplexity of the first window of each context",
};

/**
 * Plain statements of what was measured, computed from the records: per perplexity dataset,
 * compared pair (a, b) and budget, b's "cache full" perplexity against a's on the windows both ran,
 * the relative difference with its paired bootstrap 95% interval and the windows where b is lower
 * (`pairedPerplexity`);
 * per needle kind, length and budget, the accuracies of the compared pairs and the sign test.
 */
export function summaryLines(records: readonly ResultRecord[], comparisons: readonly [string, string][]): string[] {
  const lines: string[] = [];
  const pairs = comparisons.length ? comparisons : [];
  for (const ds of ["wikitext2", "longbench-context"] as const) {
    for (const [a, b] of pairs) {
      const ps = pairedPerplexity(records, ds, a, b);
      if (!ps.length) continue;
      const n = Math.max(...ps.map((p) => p.n));
      const parts = ps.map((p) => `${p.budget}: ${fmt(p.pplB, 2)} vs ${fmt(p.pplA, 2)} (${fmtRel(p.rel, p.n)}, lower in ${p.bLower}/${p.n} windows)`);
      lines.push(`- ${ds}, perplexity after the cache filled, ${b} vs ${a} (${n} paired window${n === 1 ? "" : "s"}), by budget: ${parts.join("; ")}.`);
    }
  }
  for (const c of generationCells(records)) {
    if (!c.vsFull || !pairs.some(([a, b]) => c.policy === a || c.policy === b)) continue;
    lines.push(
      `- LongBench ${c.task} generation, ${c.policy} at budget ${c.budget}: ${c.metric} ${fmt(c.score.value * 100)} vs the full cache ${c.vsFull.value >= 0 ? "+" : ""}${fmt(c.vsFull.value * 100)} points [${fmt(c.vsFull.lo * 100)}, ${fmt(c.vsFull.hi * 100)}] (${c.paired} samples).`,
    );
  }
  for (const [a, b] of pairs) {
    for (const g of pairedNeedle(records, a, b)) {
      const acc = (pol: string) => {
        const rs = records.filter((r) => r.dataset === "needle" && r.policy === pol && r.budget === g.budget && r.needle?.kind === g.kind && r.needle.length === g.length);
        return `${rs.filter((r) => r.needle!.correct).length}/${rs.length}`;
      };
      const verdict = g.onlyA + g.onlyB === 0 ? "no sample separates them" : g.p < 0.05 ? `the difference is significant (p = ${g.p.toFixed(3)})` : `no significant difference (p = ${g.p.toFixed(2)})`;
      lines.push(
        `- ${g.kind} needles, ${g.length} tokens, budget ${g.budget}: ${a} ${acc(a)} correct, ${b} ${acc(b)}; only ${a} right on ${g.onlyA}, only ${b} on ${g.onlyB}: ${verdict}.`,
      );
    }
  }
  return lines;
}

/** Builds report.md (and plots/) in `dir` from result records. Deterministic for the same records. */
export function writeReport(dir: string, input: ReportInput): string {
  const { records } = input;
  const order = policyOrder(records, input.policies);
  const out: string[] = ["# kvwalk evaluation report", ""];
  if (input.preamble?.length) out.push(...input.preamble, "");
  const datasets = [...new Set(records.map((r) => r.dataset))];
  out.push(`${records.length} result records: ${datasets.map((d) => `${d} ${records.filter((r) => r.dataset === d).length}`).join(", ")}.`, "");
  const summary = summaryLines(records, input.comparisons ?? []);
  if (summary.length) out.push("## Summary (as measured)", "", ...summary, "");

  for (const ds of ["wikitext2", "longbench-context"] as const) {
    if (!datasets.includes(ds)) continue;
    const cells = perplexityCells(records, ds);
    const budgets = [...new Set(cells.map((c) => c.budget))].sort((a, b) => a - b);
    const get = (p: string, b: number) => cells.find((c) => c.policy === p && c.budget === b);
    const pols = order.filter((p) => cells.some((c) => c.policy === p));
    const nWin = new Set(records.filter((r) => r.dataset === ds).map((r) => r.item)).size;
    out.push(`## ${DATASET_TITLES[ds]}`, "");
    out.push(
      `${nWin} window${nWin === 1 ? "" : "s"} of ${records.find((r) => r.dataset === ds)?.length ?? "?"} tokens. Perplexity over all predicted tokens, with 95% bootstrap intervals over windows; the budget is the cache size as a fraction of the window (sinks and local window included). The full cache does not depend on the budget.`,
      "",
    );
    out.push(mdTable(["policy", ...budgets.map((b) => `budget ${b}`)], pols.map((p) => [p, ...budgets.map((b) => (get(p, b) ? fmtIv(get(p, b)!.ppl) : "--"))])), "");
    out.push(
      "Perplexity over only the tokens predicted after the cache first filled (query position >= budget slots), where eviction can matter; the full cache is measured on the same tokens:",
      "",
    );
    out.push(mdTable(["policy", ...budgets.map((b) => `budget ${b}`)], pols.map((p) => [p, ...budgets.map((b) => (get(p, b) ? fmtIv(get(p, b)!.filledPpl) : "--"))])), "");
    const scene = lineChart({
      title: `${ds === "wikitext2" ? "WikiText-2" : "LongBench contexts"}: perplexity after the cache fills`,
      xLabel: "budget (fraction of the window)",
      yLabel: "perplexity",
      xTicks: budgets.map((b) => ({ value: b, label: String(b) })),
      series: pols.map((p) => ({
        name: p,
        dashed: p === "full",
        points: budgets.flatMap((b) => {
          const c = get(p, b);
          return c ? [{ x: b, y: c.filledPpl.value, lo: c.filledPpl.lo, hi: c.filledPpl.hi }] : [];
        }),
      })),
    });
    out.push(writePlot(dir, `${ds}-ppl`, scene, `${ds} perplexity vs budget`), "");
  }

  const pairedPpl = (["wikitext2", "longbench-context"] as const).flatMap((ds) => (input.comparisons ?? []).flatMap(([a, b]) => pairedPerplexity(records, ds, a, b)));
  if (pairedPpl.length) {
    out.push("## Paired perplexity comparisons", "");
    out.push(
      'Perplexity after the cache filled of A and B on the windows both ran; relative difference PPL B / PPL A - 1 with a paired 95% percentile bootstrap interval over windows (the same resampled windows for both, 1000 resamples); "B lower" counts the windows where B\'s summed NLL on those tokens is lower than A\'s.',
      "",
    );
    out.push(
      mdTable(
        ["dataset", "budget", "A", "B", "windows", "PPL A", "PPL B", "B / A - 1 [95% CI]", "B lower"],
        pairedPpl.map((p) => [p.dataset, String(p.budget), p.a, p.b, String(p.n), fmt(p.pplA, 2), fmt(p.pplB, 2), fmtRel(p.rel, p.n), `${p.bLower}/${p.n}`]),
      ),
      "",
    );
  }

  if (datasets.includes("longbench-answer")) {
    const recs = records.filter((r) => r.dataset === "longbench-answer" && r.answer);
    const pols = order.filter((p) => recs.some((r) => r.policy === p));
    const budgets = [...new Set(recs.map((r) => r.budget))].sort((a, b) => a - b);
    out.push("## LongBench: teacher-forced reference answers", "");
    out.push("Perplexity of the reference answer given the middle-truncated prompt (LongBench's template), per policy and budget, 95% bootstrap intervals over samples.", "");
    const rows = pols.map((p) => [
      p,
      ...budgets.map((b) => {
        const rs = recs.filter((r) => r.policy === p && r.budget === b);
        if (!rs.length) return "--";
        return fmtIv(
          perplexityInterval(
            rs.map((r) => r.answer!.nllSum),
            rs.map((r) => r.answer!.tokens),
          ),
        );
      }),
    ]);
    out.push(mdTable(["policy", ...budgets.map((b) => (b >= 1 ? "full cache" : `budget ${b}`))], rows), "");
  }

  if (datasets.includes("longbench-gen")) {
    const cells = generationCells(records);
    out.push("## LongBench: generated answers", "");
    out.push(
      "Greedy answers to LongBench's official prompt (middle-truncated so that the prompt plus the task's maximum generation length fit the context), the prompt teacher-forced through decode steps under the policy (the cache budget is a fraction of the prompt and holds through generation), scored with the task's metric against the best reference (x100). Intervals: 95% percentile bootstrap over samples; the difference to the full cache is paired (the same samples resampled for both).",
      "",
    );
    for (const task of [...new Set(cells.map((c) => c.task))]) {
      const cs = cells.filter((c) => c.task === task);
      const budgets = [...new Set(cs.map((c) => c.budget))].sort((a, b) => a - b);
      const pols = order.filter((p) => cs.some((c) => c.policy === p));
      const get = (p: string, b: number) => cs.find((c) => c.policy === p && c.budget === b);
      const pct = (iv: Interval) => ({ value: iv.value * 100, lo: iv.lo * 100, hi: iv.hi * 100 });
      out.push(`### ${task} (${cs[0].metric}, ${Math.max(...cs.map((c) => c.n))} samples)`, "");
      out.push(mdTable(["policy", ...budgets.map((b) => `budget ${b}`)], pols.map((p) => [p, ...budgets.map((b) => (get(p, b) ? fmtIv(pct(get(p, b)!.score), 1) : "--"))])), "");
      out.push("Difference from the full cache on the same samples (points):", "");
      out.push(
        mdTable(
          ["policy", ...budgets.map((b) => `budget ${b}`)],
          pols
            .filter((p) => p !== "full")
            .map((p) => [
              p,
              ...budgets.map((b) => {
                const c = get(p, b);
                return c?.vsFull ? `${fmtIv(pct(c.vsFull), 1)} (n=${c.paired})` : "--";
              }),
            ]),
        ),
        "",
      );
      out.push("Mean answer length in tokens, and the share of answers that ended at EOS before the maximum length:", "");
      out.push(
        mdTable(
          ["policy", ...budgets.map((b) => `budget ${b}`)],
          pols.map((p) => [p, ...budgets.map((b) => (get(p, b) ? `${fmt(get(p, b)!.meanNewTokens, 0)} (${fmt(get(p, b)!.stoppedShare * 100, 0)}% EOS)` : "--"))]),
        ),
        "",
      );
      const scene = lineChart({
        title: `LongBench ${task}: ${cs[0].metric} of generated answers`,
        xLabel: "budget (fraction of the prompt)",
        yLabel: `${cs[0].metric} x100`,
        xTicks: budgets.map((b) => ({ value: b, label: String(b) })),
        series: pols.map((p) => ({
          name: p,
          dashed: p === "full",
          points: budgets.flatMap((b) => {
            const c = get(p, b);
            return c ? [{ x: b, y: c.score.value * 100, lo: c.score.lo * 100, hi: c.score.hi * 100 }] : [];
          }),
        })),
      });
      out.push(writePlot(dir, `longbench-gen-${task}`, scene, `${task} generation score vs budget`), "");
    }
  }

  if (datasets.includes("needle")) {
    const cells = needleCells(records);
    out.push("## Needle tests", "");
    out.push(
      "Accuracy = all answer tokens are the greedy argmax given the prompt (teacher forcing). Intervals are Wilson 95% score intervals. The same samples go through every policy and budget.",
      "",
    );
    const combos = [...new Set(cells.map((c) => `${c.kind}|${c.length}`))].sort();
    for (const combo of combos) {
      const [kind, lenS] = combo.split("|");
      const length = Number(lenS);
      const cs = cells.filter((c) => c.kind === kind && c.length === length);
      const budgets = [...new Set(cs.filter((c) => c.budget < 1).map((c) => c.budget))].sort((a, b) => a - b);
      const depths = [...new Set(cs.map((c) => c.depth).filter((d): d is number => d !== "all"))].sort((a, b) => a - b);
      const pols = order.filter((p) => cs.some((c) => c.policy === p));
      const find = (p: string, b: number, d: number | "all") => cs.find((c) => c.policy === p && (c.budget === b || (p === "full" && c.budget >= 1)) && c.depth === d);
      out.push(`### ${kind}, ${length} tokens`, "");
      out.push(
        mdTable(
          ["policy", ...budgets.map((b) => `budget ${b}`)],
          pols.map((p) => [
            p,
            ...budgets.map((b) => {
              const c = find(p, b, "all");
              return c ? `${fmtIv(c.acc, 2)} (${c.correct}/${c.n})` : "--";
            }),
          ]),
        ),
        "",
      );
      const accPlot = lineChart({
        title: `${kind} (${length} tokens): accuracy vs budget`,
        xLabel: "budget (fraction of the window)",
        yLabel: "accuracy",
        yMin: 0,
        yMax: 1,
        xTicks: budgets.map((b) => ({ value: b, label: String(b) })),
        series: pols.map((p) => ({
          name: p,
          dashed: p === "full",
          points: budgets.flatMap((b) => {
            const c = find(p, b, "all");
            return c ? [{ x: b, y: c.acc.value, lo: c.acc.lo, hi: c.acc.hi }] : [];
          }),
        })),
      });
      out.push(writePlot(dir, `needle-${kind}-L${length}-accuracy`, accPlot, `${kind} accuracy vs budget`), "");
      for (const b of budgets) {
        const values = pols.map((p) => depths.map((d) => find(p, b, d)?.acc.value ?? null));
        const n = pols.map((p) => depths.map((d) => find(p, b, d)?.n ?? 0));
        const scene = heatmap({
          title: `${kind}, ${length} tokens, budget ${b}: accuracy by depth`,
          xLabel: "needle depth",
          yLabel: "policy",
          xLabels: depths.map((d) => String(d)),
          yLabels: pols,
          values,
          min: 0,
          max: 1,
          cellText: (v, r, c) => `${Math.round(v * n[r][c])}/${n[r][c]}`,
        });
        out.push(`Budget ${b}, accuracy by depth (correct/samples):`, "", writePlot(dir, `needle-${kind}-L${length}-b${b}-heatmap`, scene, `${kind} depth x policy heatmap at budget ${b}`), "");
      }
    }
    const comparisons = input.comparisons ?? [];
    const paired = comparisons.flatMap(([a, b]) => pairedNeedle(records, a, b));
    if (paired.length) {
      out.push("### Paired comparisons on the same samples", "");
      out.push("Discordant samples: only A answers correctly / only B does; p = exact two-sided sign test (McNemar) on the discordant pairs.", "");
      out.push(
        mdTable(
          ["kind", "length", "budget", "A", "B", "samples", "only A", "only B", "p"],
          paired.map((g) => [g.kind, String(g.length), String(g.budget), g.a, g.b, String(g.n), String(g.onlyA), String(g.onlyB), g.p < 0.001 ? g.p.toExponential(1) : g.p.toFixed(3)]),
        ),
        "",
      );
    }
  }

  // Time per unit.
  const timing = new Map<string, number[]>();
  for (const r of records) {
    const k = `${r.dataset}|${r.policy}`;
    if (!timing.has(k)) timing.set(k, []);
    timing.get(k)!.push(r.ms);
  }
  if (timing.size) {
    out.push("## Cost", "");
    const batched = records.some((r) => r.batch !== undefined);
    out.push(
      batched
        ? "Mean wall time per window in seconds, as measured by the run: windows ran in batches on the GPU, so this is the batch's wall time divided by its windows (concurrent batches and shard processes shared the device)."
        : "Mean wall time per window (all layers, the policy simulated for every layer and KV head), in seconds, as measured by the run (shards may run on different hosts).",
      "",
    );
    const dss = [...new Set(records.map((r) => r.dataset))];
    out.push(
      mdTable(
        ["policy", ...dss],
        order.map((p) => [
          p,
          ...dss.map((d) => {
            const ms = timing.get(`${d}|${p}`);
            return ms ? `${(ms.reduce((a, b) => a + b, 0) / ms.length / 1000).toFixed(1)} (n=${ms.length})` : "--";
          }),
        ]),
      ),
      "",
    );
    const bar = barChart({
      title: "Mean seconds per window",
      yLabel: "seconds",
      categories: order,
      series: dss.map((d) => ({
        name: d,
        values: order.map((p) => {
          const ms = timing.get(`${d}|${p}`);
          return ms ? ms.reduce((a, b) => a + b, 0) / ms.length / 1000 : null;
        }),
      })),
    });
    out.push(writePlot(dir, "cost", bar, "seconds per window"), "");
  }
  if (input.extraSections) out.push(...input.extraSections);
  const md = `${out.join("\n").trimEnd()}\n`;
  writeFileAtomic(join(dir, "report.md"), md);
  return md;
}
