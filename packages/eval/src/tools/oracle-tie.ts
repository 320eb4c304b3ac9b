/**
 * The GPU engine on whole WikiText-2 windows against the oracle's causal simulation of the same windows
 * (issue 7: "per-token NLL over WikiText-2 windows equals the oracle's causal simulation"): pairs the
 * results of `configs/gpu-wikitext-oracle-tie.json` (the first 16 test windows, the engine compacting
 * before every append as the oracle evicts) with the oracle study's committed records
 * (`packages/oracle/results/causal-wikitext/results.jsonl`: same windows, same policies and options) and
 * reports, per policy and budget, both perplexities, their relative difference, and the largest
 * per-window difference in mean NLL per token.
 *   node dist/tools/oracle-tie.js --oracle ORACLE.jsonl --gpu GPU_RESULTS_DIR --out OUT.json
 * Writes OUT.json and OUT.md (a Markdown table) and prints the table.
 */
import { parseArgs } from "node:util";
import { runMetadata, writeFileAtomic, writeJsonAtomic } from "@kvwalk/core";
import { ResultStore, type RunRecord } from "@kvwalk/oracle";
import { mergeResults, type ResultRecord } from "../results.js";

/** One window's NLL sum over its predicted tokens (all of them, and those after the cache filled). */
export interface WindowNll {
  nllSum: number;
  tokens: number;
  filledNllSum: number;
  filledTokens: number;
}

export interface TieRow {
  policy: string;
  budget: number;
  windows: number;
  oraclePpl: number;
  gpuPpl: number;
  /** gpuPpl / oraclePpl - 1 */
  pplRel: number;
  /** after the cache first filled (query position >= budget slots) */
  oracleFilledPpl: number;
  gpuFilledPpl: number;
  filledPplRel: number;
  /** max over windows of |mean NLL per token, GPU - oracle| */
  maxWindowNllDiff: number;
}

const key = (policy: string, budget: number, window: number) => `${policy}|${budget.toFixed(4)}|${window}`;

/** Oracle records (mode causal, dataset wikitext) by policy | budget | window. */
export function oracleWindows(records: readonly RunRecord[]): Map<string, WindowNll> {
  const out = new Map<string, WindowNll>();
  for (const r of records) {
    if (r.mode !== "causal" || r.dataset !== "wikitext") continue;
    out.set(key(r.policy, r.budget, r.window), { nllSum: r.nllSum, tokens: r.count, filledNllSum: r.nllSumFilled, filledTokens: r.countFilled });
  }
  return out;
}

/**
 * GPU eval records (dataset wikitext2, item "wikitext2-test#i") by policy | budget | window; the full
 * cache (budget 1) is entered at every budget of its `filled` map.
 */
export function gpuWindows(records: readonly ResultRecord[]): Map<string, WindowNll> {
  const out = new Map<string, WindowNll>();
  for (const r of records) {
    if (r.dataset !== "wikitext2") continue;
    const m = /#(\d+)$/.exec(r.item);
    if (!m) continue;
    const window = Number(m[1]);
    if (r.policy === "full") {
      for (const [b, f] of Object.entries(r.filled ?? {})) {
        out.set(key("full", Number(b), window), { nllSum: r.nllSum, tokens: r.tokens, filledNllSum: f.nllSum, filledTokens: f.tokens });
      }
    } else {
      out.set(key(r.policy, r.budget, window), { nllSum: r.nllSum, tokens: r.tokens, filledNllSum: r.filledNllSum, filledTokens: r.filledTokens });
    }
  }
  return out;
}

/** Pairs the windows both sides ran, per (policy, budget) of the GPU side; windows whose token counts differ are refused. */
export function tieRows(oracle: Map<string, WindowNll>, gpu: Map<string, WindowNll>): TieRow[] {
  const groups = new Map<string, { policy: string; budget: number; pairs: [WindowNll, WindowNll][] }>();
  for (const [k, g] of gpu) {
    const o = oracle.get(k);
    if (!o) continue;
    const [policy, b] = k.split("|");
    if (o.tokens !== g.tokens || o.filledTokens !== g.filledTokens) {
      throw new Error(`window ${k}: the oracle scored ${o.tokens} (${o.filledTokens} after filling) tokens, the GPU ${g.tokens} (${g.filledTokens})`);
    }
    const gk = `${policy}|${b}`;
    const entry = groups.get(gk) ?? { policy, budget: Number(b), pairs: [] };
    entry.pairs.push([o, g]);
    groups.set(gk, entry);
  }
  const ppl = (sum: number, n: number) => Math.exp(sum / n);
  const rows: TieRow[] = [];
  for (const { policy, budget, pairs } of groups.values()) {
    let on = 0, gn = 0, t = 0, ofn = 0, gfn = 0, ft = 0, maxDiff = 0;
    for (const [o, g] of pairs) {
      on += o.nllSum;
      gn += g.nllSum;
      t += o.tokens;
      ofn += o.filledNllSum;
      gfn += g.filledNllSum;
      ft += o.filledTokens;
      maxDiff = Math.max(maxDiff, Math.abs(g.nllSum - o.nllSum) / o.tokens);
    }
    const oraclePpl = ppl(on, t), gpuPpl = ppl(gn, t);
    const oracleFilledPpl = ppl(ofn, ft), gpuFilledPpl = ppl(gfn, ft);
    rows.push({
      policy,
      budget,
      windows: pairs.length,
      oraclePpl,
      gpuPpl,
      pplRel: gpuPpl / oraclePpl - 1,
      oracleFilledPpl,
      gpuFilledPpl,
      filledPplRel: gpuFilledPpl / oracleFilledPpl - 1,
      maxWindowNllDiff: maxDiff,
    });
  }
  return rows.sort((a, b) => a.budget - b.budget || a.policy.localeCompare(b.policy));
}

export function tieTable(rows: readonly TieRow[]): string {
  const pct = (x: number) => `${x >= 0 ? "+" : ""}${(100 * x).toFixed(2)}%`;
  const lines = [
    "| policy | budget | windows | PPL oracle | PPL GPU | GPU / oracle - 1 | after filling: oracle / GPU | GPU / oracle - 1 | max per-window \\|dNLL\\| per token |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.policy} | ${r.budget} | ${r.windows} | ${r.oraclePpl.toFixed(2)} | ${r.gpuPpl.toFixed(2)} | ${pct(r.pplRel)} | ${r.oracleFilledPpl.toFixed(2)} / ${r.gpuFilledPpl.toFixed(2)} | ${pct(r.filledPplRel)} | ${r.maxWindowNllDiff.toFixed(4)} |`,
    );
  }
  return `${lines.join("\n")}\n`;
}

function main(): void {
  const { values } = parseArgs({ options: { oracle: { type: "string" }, gpu: { type: "string" }, out: { type: "string" } } });
  if (!values.oracle || !values.gpu || !values.out) throw new Error("usage: oracle-tie.js --oracle ORACLE.jsonl --gpu GPU_RESULTS_DIR --out OUT.json");
  // the two packages' own readers: the oracle study's results.jsonl, the eval's merged shards
  const rows = tieRows(oracleWindows(new ResultStore(values.oracle).records), gpuWindows(mergeResults(values.gpu).records));
  if (rows.length === 0) throw new Error(`no window of ${values.gpu} is in ${values.oracle}`);
  const table = tieTable(rows);
  writeJsonAtomic(values.out, { ...runMetadata(), oracle: values.oracle, gpu: values.gpu, rows });
  writeFileAtomic(values.out.replace(/\.json$/, ".md"), table);
  process.stdout.write(table);
}

if (process.argv[1]?.endsWith("oracle-tie.js")) main();
