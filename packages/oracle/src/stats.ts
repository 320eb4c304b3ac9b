import { type BootstrapSample, bootstrapDraws, bootstrapSample, type Interval, pairedDifference, percentileInterval, pooledPerplexity } from "@kvwalk/core";
import { Rng } from "@kvwalk/runtime";
import type { RunRecord } from "./results.js";

/** m.get(k), which must exist (internal maps built from the same key lists). */
function at<K, V>(m: Map<K, V>, k: K): V {
  const v = m.get(k);
  if (v === undefined) throw new Error(`internal: missing key ${String(k)}`);
  return v;
}

/** A point estimate with its 95% bootstrap interval. */
export type Estimate = Interval;

/** One (policy, budget) cell of the summary, over the windows every reported policy finished. */
export interface Cell {
  policy: string;
  budget: number;
  budgetSlots: number;
  windows: number;
  tokens: number;
  tokensFilled: number;
  /** Perplexity over all predicted tokens, and over the tokens after the cache first fills. */
  ppl: Estimate;
  pplFilled: Estimate;
  /** Paired differences (this policy minus reference), same windows and resamples. */
  vsFull?: Estimate;
  vsH2o?: Estimate;
  vsFullFilled?: Estimate;
  vsH2oFilled?: Estimate;
  /** Mean milliseconds per window: model, simulation, PageRank refreshes, wall. */
  forwardMs: number;
  simMs: number;
  refreshMs: number;
  wallMs: number;
  /** Mean evictions per window (all layers and heads). */
  evictions: number;
}

export interface Summary {
  mode: string;
  dataset: string;
  policies: string[];
  budgets: number[];
  resamples: number;
  cells: Cell[];
}

/**
 * Perplexities with 95% bootstrap intervals over windows (percentile bootstrap, `resamples` draws of
 * the windows with replacement, seeded). Per budget, only the windows that every policy present at
 * that budget finished are used, so every policy is measured on the same tokens, and differences vs
 * `full` and `h2o` are paired (same resampled windows).
 */
export function summarize(
  records: RunRecord[],
  opts: { mode: string; dataset: string; policies: string[]; budgets: number[]; resamples?: number; seed?: number },
): Summary {
  const resamples = opts.resamples ?? 2000;
  const cells: Cell[] = [];
  for (const budget of opts.budgets) {
    const sel = records.filter((r) => r.mode === opts.mode && r.dataset === opts.dataset && r.budget === budget && opts.policies.includes(r.policy));
    const present = opts.policies.filter((p) => sel.some((r) => r.policy === p));
    if (present.length === 0) continue;
    const byPolicy = new Map(present.map((p) => [p, new Map(sel.filter((r) => r.policy === p).map((r) => [r.window, r]))]));
    const windows = [...byPolicy.get(present[0])!.keys()].filter((w) => present.every((p) => byPolicy.get(p)!.has(w))).sort((a, b) => a - b);
    const n = windows.length;
    if (n === 0) continue;
    const rng = new Rng(opts.seed ?? 0);
    const draws = bootstrapDraws(n, resamples, () => rng.next());
    const sample = (p: string, filled: boolean): BootstrapSample => {
      const rs = windows.map((w) => at(at(byPolicy, p), w));
      const nll = rs.map((r) => (filled ? r.nllSumFilled : r.nllSum));
      const cnt = rs.map((r) => (filled ? r.countFilled : r.count));
      return bootstrapSample(n, draws, pooledPerplexity(nll, cnt));
    };
    const all = new Map(present.map((p) => [p, sample(p, false)]));
    const filled = new Map(present.map((p) => [p, sample(p, true)]));
    const diff = (m: typeof all, p: string, ref: string): Estimate | undefined => {
      const a = m.get(p);
      const b = m.get(ref);
      if (!a || !b || p === ref) return undefined;
      return pairedDifference(a, b);
    };
    for (const p of present) {
      const rs = windows.map((w) => at(at(byPolicy, p), w));
      const mean = (f: (r: RunRecord) => number) => rs.reduce((s, r) => s + f(r), 0) / n;
      cells.push({
        policy: p,
        budget,
        budgetSlots: rs[0].budgetSlots,
        windows: n,
        tokens: rs.reduce((s, r) => s + r.count, 0),
        tokensFilled: rs.reduce((s, r) => s + r.countFilled, 0),
        ppl: percentileInterval(at(all, p).point, at(all, p).boot),
        pplFilled: percentileInterval(at(filled, p).point, at(filled, p).boot),
        vsFull: diff(all, p, "full"),
        vsH2o: diff(all, p, "h2o"),
        vsFullFilled: diff(filled, p, "full"),
        vsH2oFilled: diff(filled, p, "h2o"),
        forwardMs: mean((r) => r.forwardMs),
        simMs: mean((r) => r.simMs),
        refreshMs: mean((r) => r.refreshMs),
        wallMs: mean((r) => r.wallMs),
        evictions: mean((r) => r.evictions),
      });
    }
  }
  return { mode: opts.mode, dataset: opts.dataset, policies: opts.policies, budgets: opts.budgets, resamples, cells };
}
