import { lineChart, type Scene } from "@kvwalk/core/plot";
import type { Cell, Estimate, Summary } from "./stats.js";

/** What the report states about the run besides the numbers. */
export interface ReportContext {
  command: string;
  modelDir: string;
  windowLen: number;
  windowsRequested: number | "all";
  settings: Record<string, unknown>;
  metadata: Record<string, unknown>;
  /** Budget of the headline verdict (default 0.2). */
  headlineBudget?: number;
}

const pct = (b: number) => `${Math.round(b * 1000) / 10}%`;
const f2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : "n/a");
const signed = (v: number) => (Number.isFinite(v) ? `${v >= 0 ? "+" : ""}${v.toFixed(2)}` : "n/a");
const est = (e: Estimate | undefined) => (e ? `${f2(e.value)} [${f2(e.lo)}, ${f2(e.hi)}]` : "");
const diff = (e: Estimate | undefined) => (e ? `${signed(e.value)} [${signed(e.lo)}, ${signed(e.hi)}]` : "");
const secs = (ms: number) => (ms / 1000).toFixed(1);

function cellOf(s: Summary, policy: string, budget: number): Cell | undefined {
  return s.cells.find((c) => c.policy === policy && c.budget === budget);
}

function table(s: Summary, policies: string[], budgets: number[], f: (c: Cell) => string): string {
  const head = `| policy | ${budgets.map((b) => `${pct(b)}`).join(" | ")} |`;
  const sep = `|---|${budgets.map(() => "---").join("|")}|`;
  const rows = policies.map((p) => `| ${p} | ${budgets.map((b) => (cellOf(s, p, b) ? f(cellOf(s, p, b)!) : "")).join(" | ")} |`);
  return [head, sep, ...rows].join("\n");
}

/** The verdict lines: for each PageRank variant, is its perplexity below H2O's at the headline budget? */
export function verdictLines(s: Summary, budget = 0.2): string[] {
  const h2o = cellOf(s, "h2o", budget);
  const lines: string[] = [];
  for (const p of s.policies.filter((q) => q.startsWith("pagerank-"))) {
    const c = cellOf(s, p, budget);
    if (!c || !h2o || !c.vsH2o) {
      lines.push(`PPL(${p}) < PPL(h2o) at ${pct(budget)}: not measured`);
      continue;
    }
    const d = c.vsH2o;
    const yes = d.value < 0;
    const sig = d.hi < 0 || d.lo > 0 ? "the 95% CI of the difference excludes 0" : "the 95% CI of the difference includes 0";
    lines.push(
      `PPL(${p}) < PPL(h2o) at ${pct(budget)}: **${yes ? "yes" : "no"}** (${f2(c.ppl.value)} vs ${f2(h2o.ppl.value)}; difference ${diff(d)}, ${sig}; ${c.windows} windows)`,
    );
  }
  return lines;
}

/**
 * The PPL-vs-budget chart of one summary (one line per policy, 95% bootstrap intervals as error
 * bars); `filled` plots the after-fill perplexity. Render it with `renderSvg` / `renderPng` of
 * `@kvwalk/core/plot`.
 */
export function pplPlot(s: Summary, filled = false): Scene {
  const series = s.policies
    .map((p) => {
      const cells = s.budgets.map((b) => cellOf(s, p, b)).filter((c): c is Cell => c !== undefined);
      const e = (c: Cell) => (filled ? c.pplFilled : c.ppl);
      return {
        name: p,
        points: cells.map((c) => ({ x: c.budget * 100, y: e(c).value, lo: e(c).lo, hi: e(c).hi })),
        dashed: p === "full" || p === "pagerank-undirected",
      };
    })
    .filter((x) => x.points.length > 0);
  return lineChart({
    title: `Perplexity vs KV budget (${s.mode}, ${s.dataset}${filled ? ", after the cache fills" : ""})`,
    xLabel: "budget (% of the window, sinks and window included)",
    yLabel: filled ? "perplexity (tokens after the cache first fills)" : "perplexity (all predicted tokens)",
    series,
    xTicks: s.budgets.map((b) => ({ value: b * 100, label: pct(b) })),
  });
}

/** File names (relative to report.md) of one plot rendered as PNG and SVG. */
export interface PlotFiles {
  png: string;
  svg: string;
}

const plotLine = (alt: string, f: PlotFiles) => `![${alt}](${f.png})\n\n[${alt} (SVG)](${f.svg})`;

/** The Markdown report of a study. */
export function markdownReport(s: Summary, ctx: ReportContext, plotFiles: { all: PlotFiles; filled: PlotFiles }): string {
  const budgets = s.budgets.filter((b) => s.cells.some((c) => c.budget === b));
  const policies = s.policies.filter((p) => s.cells.some((c) => c.policy === p));
  const hb = ctx.headlineBudget ?? 0.2;
  const windows = Math.max(0, ...s.cells.map((c) => c.windows));
  const L: string[] = [];
  L.push(`# Phase-1 study: PageRank eviction vs H2O (${s.mode} simulation, ${s.dataset})`);
  L.push("");
  if (s.mode === "retrospective") {
    L.push(
      "> **Retrospective oracle: uses future information.** Scores come from the full attention of the whole window (every query, including those after a key), and each head keeps one static set of tokens for the whole window, as in the original design's Phase 1. It is not a realizable cache policy; the causal simulation is the headline.",
    );
    L.push("");
  }
  L.push(`Command: \`${ctx.command}\``);
  L.push("");
  L.push(
    `Model \`${ctx.modelDir}\`; ${windows} windows of ${ctx.windowLen} tokens (requested: ${ctx.windowsRequested}); ${s.resamples} bootstrap resamples over windows; every policy is measured on the same windows and tokens.`,
  );
  L.push("");
  L.push(`Settings: ${Object.entries(ctx.settings)
    .map(([k, v]) => `${k} = ${JSON.stringify(v)}`)
    .join(", ")}.`);
  L.push("");
  L.push("## Verdict");
  L.push("");
  for (const v of verdictLines(s, hb)) L.push(`- ${v}`);
  L.push("");
  if (windows < 5) {
    L.push(`With only ${windows} window(s), the bootstrap intervals over windows are a rough indication, not a reliable 95% interval; run more windows (\`--windows\`) for the verdict.`);
    L.push("");
  }
  const pplSections = [
    { title: "Perplexity over all predicted tokens (95% bootstrap CI)", pick: (c: Cell) => c.ppl, alt: "perplexity vs budget", files: plotFiles.all },
    {
      title: "Perplexity over the tokens after the cache first fills (query positions >= budget)",
      pick: (c: Cell) => c.pplFilled,
      alt: "perplexity vs budget, after the cache fills",
      files: plotFiles.filled,
    },
  ];
  for (const sec of pplSections) L.push(`## ${sec.title}`, "", table(s, policies, budgets, (c) => est(sec.pick(c))), "", plotLine(sec.alt, sec.files), "");
  L.push("## Difference vs h2o (paired bootstrap; negative = better than H2O)");
  L.push("");
  L.push("All predicted tokens:");
  L.push("");
  L.push(table(s, policies.filter((p) => p !== "h2o"), budgets, (c) => diff(c.vsH2o)));
  L.push("");
  L.push("After the cache first fills:");
  L.push("");
  L.push(table(s, policies.filter((p) => p !== "h2o"), budgets, (c) => diff(c.vsH2oFilled)));
  L.push("");
  L.push("## Difference vs full cache (paired bootstrap)");
  L.push("");
  L.push(table(s, policies.filter((p) => p !== "full"), budgets, (c) => diff(c.vsFull)));
  L.push("");
  L.push("## What pagerank-undirected converges to");
  L.push("");
  L.push(
    "`pagerank-undirected` is the original design's literal `nx.pagerank(nx.from_numpy_array(A))`. `from_numpy_array` of the (lower-triangular) attention matrix builds an *undirected* weighted graph: edge {i, j} weighs A[max(i,j), min(i,j)]. A random walk on an undirected weighted graph moves from i to j with probability w(i,j)/deg(i), and its stationary distribution is exactly deg(i)/sum(deg) (detailed balance: deg(i) P(i,j) = w(i,j) = deg(j) P(j,i)). With networkx's damping d = 0.85 and no personalization there is no such closed form: the scores solve x = (1 - d + d m)/N + d W D^-1 x (W the symmetric weights, D their degrees, m the mass on dangling nodes), which equals deg/sum(deg) only as d goes to 1 (the unit test `converges to the weighted degree` checks this) and is otherwise that degree distribution pulled towards uniform by the teleport; no cheaper exact computation exists, so the policy keeps networkx's power iteration. Here deg(i) = sum_j A[j,i] + sum_j A[i,j] - A[i,i]: the attention token i *received* (H2O's column sum) plus its own row sum, which is about 1 (the GQA group size) for every query that is still cached. So the literal design ranks tokens essentially like H2O, and the direction of the edges, which is what lets a walk follow \"who attends to whom\" back to a needle, is lost. The directed, personalized variants (`pagerank-dense`, `-top4`, `-walker`) are the method. (Computation: networkx's power iteration and tolerance, warm-started from the previous refresh; after the first, converged refresh each refresh runs at most 4 iterations unless `--max-iter` says otherwise, so convergence is amortized over refreshes. Each iteration is one pass of a WebAssembly SIMD kernel over the live graph stored as a packed triangle.)",
  );
  L.push("");
  L.push("## Where the time goes (mean per window and pass, seconds)");
  L.push("");
  L.push(
    "Wall = the pass's elapsed time (passes run concurrently, so walls overlap); model = waiting on the model (q/k/v, logits, attention, MLP); sim = the policy simulation over all layers and KV heads (softmax rows + bookkeeping + ranking), summed over the simulation workers, so it can exceed the wall time; PageRank = refreshes inside sim. `full` needs one pass per window for all budgets.",
  );
  L.push("");
  L.push(table(s, policies, budgets, (c) => `${secs(c.wallMs)} (model ${secs(c.forwardMs)}, sim ${secs(c.simMs)}, PageRank ${secs(c.refreshMs)})`));
  L.push("");
  L.push("## Definitions");
  L.push("");
  L.push(
    "- Causal simulation: per layer and KV head, at step t token t is appended; while the cache holds more than B tokens the policy evicts its lowest-scored unprotected token (permanently) using only queries < t; then query t attends over what is cached (softmax restricted to the cached keys). Layer l + 1 is computed from layer l's evicted attention, so this equals decode-time eviction with teacher forcing.",
  );
  L.push("- Budget B = floor(fraction x window) slots, including the protected set: the first `sinks` tokens and the `window` most recent tokens. With grouped-query attention the query heads of a group are summed.");
  L.push(
    "- PageRank family: personalized PageRank on the attention graph of the cached tokens (query u -> key j with weight A[u,j], as recorded when u was the query), teleport to the last `startWindow` live tokens, sinks never entered (edges into sinks or evicted keys teleport), refreshed every `refreshEvery` steps and evicting by the latest scores in between. `pagerank-dense` uses all recorded edges; `-top4` each query's top-4 keys renormalized (the graph cache); `-walker` the shadow walker's visit counts (TypeScript reference of the CUDA kernel).",
  );
  L.push(`- Perplexity = exp(mean NLL); "after the cache first fills" = tokens predicted at query positions >= B.`);
  L.push("");
  L.push("## Run metadata");
  L.push("");
  L.push("```json");
  L.push(JSON.stringify(ctx.metadata, null, 2));
  L.push("```");
  L.push("");
  return L.join("\n");
}
