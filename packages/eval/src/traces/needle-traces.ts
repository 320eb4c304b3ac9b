import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Progress, writeFileAtomic } from "@kvwalk/core";
import { lineChart, renderPng, renderSvg } from "@kvwalk/core/plot";
import { answerLogitPositions, type NeedleSample } from "../benchmarks/needle/generate.js";
import { greedyExactMatch } from "../benchmarks/needle/metric.js";
import type { CpuSimBackend, PassTrace } from "../harness/cpu-sim.js";
import { type PolicySpec, policyLabel } from "../harness/config.js";
import type { SweepItem } from "../harness/sweep.js";
import { pairedNeedle } from "../report/report.js";
import type { ResultRecord } from "../results.js";

/** A needle sample on which two policies disagree at one budget. */
export interface TraceCase {
  item: string;
  budget: number;
  /** The policy that answered correctly. */
  winner: string;
  loser: string;
}

/**
 * Up to `maxCases` disagreements between policies a and b on needle samples, alternating the
 * direction (a right / b right) when both exist. Samples whose needle sits at depth >= 0.9 come
 * last: there it is usually inside the protected local window, so a trace shows nothing about
 * eviction. Then by budget and item. Deterministic.
 */
export function selectTraceCases(records: readonly ResultRecord[], a: string, b: string, maxCases: number): TraceCase[] {
  const depth = new Map<string, number>();
  for (const r of records) if (r.dataset === "needle" && r.needle) depth.set(r.item, r.needle.depth);
  const late = (item: string) => ((depth.get(item) ?? 0) >= 0.9 ? 1 : 0);
  const all = pairedNeedle(records, a, b).flatMap((g) => g.disagreements.map((d) => ({ item: d.item, budget: g.budget, winner: d.winner, loser: d.winner === a ? b : a })));
  all.sort((x, y) => late(x.item) - late(y.item) || x.budget - y.budget || (x.item < y.item ? -1 : x.item > y.item ? 1 : 0));
  const byWinner = [all.filter((c) => c.winner === b), all.filter((c) => c.winner === a)];
  const out: TraceCase[] = [];
  for (let i = 0; out.length < maxCases && (byWinner[0].length || byWinner[1].length); i++) {
    const q = byWinner[i % 2].length ? byWinner[i % 2] : byWinner[(i + 1) % 2];
    out.push(q.shift()!);
  }
  return out;
}

/** Per-step summary of one policy's trace over all (layer, KV head) streams. */
export interface TraceSummary {
  policy: string;
  correct: boolean;
  /** Sampled steps (query positions). */
  steps: number[];
  /** Fraction of (stream, target needle token) pairs still cached after each step. */
  retained: number[];
  /** Mean rank percentile (rank / (candidates - 1), 0 = most important, 1 = next to go) of cached, rankable target tokens; NaN when none. */
  rankPct: number[];
  /** Per layer: eviction step of the target tokens, median over KV heads and tokens (T = kept). */
  medianEvictByLayer: number[];
  /** Per layer: KV heads that kept every target token to the end. */
  headsKeepingAll: number[];
  /** KV heads per layer. */
  headsPerLayer: number;
  /** Step at which the first (stream, target token) eviction happened (T: never). */
  firstEviction: number;
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : Number.NaN;
}

/** Summarises a pass trace over the target positions (all streams, every `every` steps). */
export function summarizeTrace(trace: PassTrace, T: number, every: number, correct: boolean): TraceSummary {
  const streams = trace.streams.flat();
  const steps: number[] = [];
  for (let t = 0; t < T; t += every) steps.push(t);
  if (steps[steps.length - 1] !== T - 1) steps.push(T - 1);
  const retained = steps.map((t) => {
    let kept = 0;
    let n = 0;
    for (const s of streams)
      s.positions.forEach((p, i) => {
        if (p > t) return;
        n++;
        if (s.evictedAt[i] > t) kept++;
      });
    return n ? kept / n : Number.NaN;
  });
  const rankPct = steps.map((t) => {
    let sum = 0;
    let n = 0;
    for (const s of streams) {
      if (!s.rank) continue;
      const k = s.steps.indexOf(t);
      if (k < 0 || s.candidates[k] < 2) continue;
      for (const r of s.rank[k]) {
        if (r >= 0) {
          sum += r / (s.candidates[k] - 1);
          n++;
        }
      }
    }
    return n ? sum / n : Number.NaN;
  });
  const medianEvictByLayer = trace.streams.map((layer) => median(layer.flatMap((s) => s.evictedAt)));
  const headsKeepingAll = trace.streams.map((layer) => layer.filter((s) => s.evictedAt.every((e) => e >= T)).length);
  const firstEviction = Math.min(T, ...streams.flatMap((s) => s.evictedAt));
  return { policy: trace.policy, correct, steps, retained, rankPct, medianEvictByLayer, headsKeepingAll, headsPerLayer: trace.streams[0]?.length ?? 0, firstEviction };
}

/** The target needle token positions of a sample (the spans that hold or lead to the answer). */
export function targetPositions(s: NeedleSample): number[] {
  return s.needles.filter((n) => n.role === "target").flatMap((n) => Array.from({ length: n.end - n.start }, (_, i) => n.start + i));
}

export interface TracedCase extends TraceCase {
  length: number;
  kind: string;
  depth: number;
  needleStart: number;
  questionStart: number;
  summaries: TraceSummary[];
}

/**
 * Traces every case under each policy (a traced pass per policy and case), summarises, and writes
 * traces.json in `outDir` (reused on a rerun when it holds the same cases).
 */
export async function runNeedleTraces(opts: {
  backend: CpuSimBackend;
  items: readonly SweepItem[];
  cases: TraceCase[];
  policies: PolicySpec[];
  every: number;
  outDir: string;
  progressStream?: NodeJS.WritableStream;
}): Promise<TracedCase[]> {
  const file = join(opts.outDir, "traces.json");
  const ident = JSON.stringify({ cases: opts.cases, policies: opts.policies.map(policyLabel), every: opts.every });
  if (existsSync(file)) {
    const prev = JSON.parse(readFileSync(file, "utf8"));
    if (prev.ident === ident) return prev.traced as TracedCase[];
  }
  const progress = new Progress("traces", opts.cases.length * opts.policies.length, "passes", undefined, opts.progressStream);
  const traced: TracedCase[] = [];
  for (const c of opts.cases) {
    const item = opts.items.find((i) => i.dataset === "needle" && i.id === c.item);
    if (!item || item.dataset !== "needle") throw new Error(`trace case ${c.item}: no such needle item in this configuration`);
    const s = item.sample;
    const positions = targetPositions(s);
    const summaries: TraceSummary[] = [];
    for (const p of opts.policies) {
      const logitPositions = answerLogitPositions(s);
      const r = await opts.backend.trace({ tokens: s.tokens, policy: p, budget: p.name === "full" ? 1 : c.budget, logitPositions }, positions, opts.every);
      const m = greedyExactMatch(r.logits!, opts.backend.vocabSize, s.tokens.subarray(s.answerStart, s.answerStart + s.answerLength));
      summaries.push(summarizeTrace({ ...r.trace, policy: policyLabel(p) }, s.tokens.length, opts.every, m.correct));
      progress.tick(1, `${c.item} ${policyLabel(p)}`);
    }
    traced.push({ ...c, length: s.length, kind: s.kind, depth: s.depth, needleStart: Math.min(...positions), questionStart: s.questionStart, summaries });
  }
  writeFileAtomic(file, `${JSON.stringify({ ident, backend: opts.backend.name, traced })}\n`);
  return traced;
}

/** Markdown section (and plots) for traced cases; `note` (e.g. where the cases came from) goes under the title. */
export function traceSection(dir: string, traced: readonly TracedCase[], note?: string): string {
  if (!traced.length) return "## Needle traces\n\nNo sample where the traced policies disagree.\n";
  const out = [
    "## Needle traces",
    "",
    ...(note ? [note, ""] : []),
    "Samples where the compared policies disagree. For each policy: the share of (layer, KV head, target-needle token) entries still in the cache after each step, and the target tokens' mean rank percentile among the eviction candidates (0 = the most important token, 1 = the next to go; tied scores share their mean rank, so a PageRank policy before its first refresh sits at 0.5). Dashed lines: the first step with a full cache and the start of the question; a token evicted before the question is lost for the answer.",
    "",
  ];
  traced.forEach((c, i) => {
    out.push(
      `### Case ${i + 1}: ${c.item}, budget ${c.budget} (${c.winner} correct, ${c.loser} wrong)`,
      "",
      `Target needle tokens start at position ${c.needleStart} (depth ${c.depth}); the question starts at ${c.questionStart}.`,
      "",
    );
    const name = `trace-${i + 1}`;
    const markers = [
      { x: Math.floor(c.budget * c.length), label: "cache full" },
      { x: c.questionStart, label: "question" },
    ];
    const ret = lineChart({
      title: `Case ${i + 1}: target needle tokens still cached`,
      markers,
      xLabel: "decode step (query position)",
      yLabel: "fraction cached",
      yMin: 0,
      yMax: 1,
      series: c.summaries.map((s) => ({ name: `${s.policy}${s.correct ? " (right)" : " (wrong)"}`, points: s.steps.map((t, k) => ({ x: t, y: s.retained[k] })).filter((p) => Number.isFinite(p.y)) })),
    });
    const rank = lineChart({
      title: `Case ${i + 1}: rank percentile of the needle (0 = kept first)`,
      markers,
      xLabel: "decode step (query position)",
      yLabel: "rank percentile",
      yMin: 0,
      yMax: 1,
      series: c.summaries
        .filter((s) => s.rankPct.some(Number.isFinite))
        .map((s) => ({ name: s.policy, points: s.steps.map((t, k) => ({ x: t, y: s.rankPct[k] })).filter((p) => Number.isFinite(p.y)) })),
    });
    for (const [n, scene] of [
      [`${name}-retained`, ret],
      [`${name}-rank`, rank],
    ] as const) {
      writeFileAtomic(join(dir, "plots", `${n}.svg`), renderSvg(scene));
      writeFileAtomic(join(dir, "plots", `${n}.png`), renderPng(scene));
      out.push(`![${n}](plots/${n}.png) ([SVG](plots/${n}.svg))`, "");
    }
    const layers = c.summaries[0]?.medianEvictByLayer.length ?? 0;
    out.push(
      `| policy | answer | first eviction of a target token | ${Array.from({ length: layers }, (_, l) => `L${l}`).join(" | ")} |`,
      `| --- | --- | ---: | ${Array.from({ length: layers }, () => "---:").join(" | ")} |`,
      ...c.summaries.map(
        (s) =>
          `| ${s.policy} | ${s.correct ? "right" : "wrong"} | ${s.firstEviction >= c.length ? "never" : s.firstEviction} | ${s.medianEvictByLayer
            .map((m, l) => `${m >= c.length ? "kept" : Math.round(m)} (${s.headsKeepingAll[l]}/${s.headsPerLayer})`)
            .join(" | ")} |`,
      ),
      "",
      "Per layer L: median eviction step of the target tokens over KV heads and tokens (kept = not evicted by the end), and in parentheses how many KV heads kept all of them.",
      "",
    );
  });
  return out.join("\n");
}
