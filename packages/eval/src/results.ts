import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, truncateSync } from "node:fs";
import { dirname, join } from "node:path";
import { FileFormatError } from "@kvwalk/core";

/**
 * One evaluated unit (a window or a sample, under one policy and budget), one JSON line in a
 * results file. `key` identifies the unit across runs and shards: a rerun skips keys already
 * present, and merged shards are de-duplicated by key.
 */
export interface ResultRecord {
  /** Record format version. */
  v: 1;
  key: string;
  dataset: "wikitext2" | "longbench-context" | "longbench-answer" | "needle" | "longbench-gen";
  /** Window or sample id (unique within the dataset). */
  item: string;
  /** Policy label (the registry name unless the config gives a label for a variant). */
  policy: string;
  /** Budget as a fraction of the window (1 for the full cache). */
  budget: number;
  backend: string;
  model: string;
  /** Window length T. */
  length: number;
  /** Scored tokens (T-1) and their summed NLL in nats. */
  tokens: number;
  nllSum: number;
  /** Scored tokens at query positions >= the budget in slots (the cache was full), and their NLL. */
  filledTokens: number;
  filledNllSum: number;
  /** The same for every budget of the run (key: budget with 4 decimals), so runs at different budgets, and the full cache, compare on identical tokens. */
  filled: Record<string, { tokens: number; nllSum: number }>;
  /** LongBench answer scoring: answer tokens and their summed NLL. */
  answer?: { tokens: number; nllSum: number; task: string };
  needle?: { kind: string; depth: number; length: number; seed: number; correct: boolean; hits: boolean[]; answerNllSum: number; answer: string };
  /**
   * Set when the backend scored only some positions (the GPU backend on needles scores the answer
   * tokens only): `tokens`, `nllSum` and the `filled` counts cover those positions.
   */
  scored?: "answer";
  /** LongBench generation: the task's metric of the greedy answer (0-1), the answer and its length. */
  generation?: { task: string; metric: string; score: number; prediction: string; newTokens: number; stopped: boolean };
  /** Windows evaluated together in one batch (batched backends); `ms` is then the batch's wall time / batch. */
  batch?: number;
  /** Wall time of the unit in milliseconds. */
  ms: number;
}

/** The unit key: dataset | item | policy | budget (budget printed with 4 decimals). */
export function resultKey(dataset: string, item: string, policy: string, budget: number): string {
  return `${dataset}|${item}|${policy}|${budget.toFixed(4)}`;
}

/**
 * Reads a JSON-lines results file. Malformed lines throw FileFormatError with the line number,
 * except a malformed LAST line, which is what an interrupted append leaves: it is dropped (and
 * reported through `onTruncated`) so that the unit is simply recomputed.
 */
export function readResults(file: string, onTruncated?: (line: number) => void): ResultRecord[] {
  if (!existsSync(file)) return [];
  const lines = readFileSync(file, "utf8").split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const out: ResultRecord[] = [];
  lines.forEach((line, i) => {
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch (err) {
      if (i === lines.length - 1) {
        onTruncated?.(i + 1);
        return;
      }
      throw new FileFormatError(file, `line ${i + 1}: invalid JSON (${(err as Error).message})`, { cause: err });
    }
    const r = rec as Partial<ResultRecord>;
    if (r === null || typeof r !== "object" || r.v !== 1 || typeof r.key !== "string" || typeof r.dataset !== "string" || typeof r.policy !== "string") {
      throw new FileFormatError(file, `line ${i + 1}: not a version-1 result record (needs v, key, dataset, policy)`);
    }
    out.push(r as ResultRecord);
  });
  return out;
}

/** Appends one record as a single line (one write call, so concurrent shards never interleave within a line). */
export function appendResult(file: string, rec: ResultRecord): void {
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, `${JSON.stringify(rec)}\n`);
}

/**
 * Cuts an incomplete last line (an append interrupted mid-write) off a results file, so the next
 * append starts on a fresh line. Returns true if something was cut.
 */
export function repairResults(file: string): boolean {
  if (!existsSync(file)) return false;
  const buf = readFileSync(file);
  if (buf.length === 0 || buf[buf.length - 1] === 0x0a) return false;
  truncateSync(file, buf.lastIndexOf(0x0a) + 1);
  return true;
}

/** Results file of a shard: results.jsonl, or results.shard-<i>-of-<n>.jsonl when sharded. */
export function resultsFileName(shard?: { index: number; count: number }): string {
  return !shard || shard.count === 1 ? "results.jsonl" : `results.shard-${shard.index}-of-${shard.count}.jsonl`;
}

/**
 * Every record of every results*.jsonl in `dir`, de-duplicated by key (first occurrence in file
 * name order wins) and sorted by key, so merging shards gives the same report whatever the order
 * the shards finished in. `duplicates` counts dropped records.
 */
export function mergeResults(dir: string, onTruncated?: (file: string, line: number) => void): { records: ResultRecord[]; duplicates: number; files: string[] } {
  if (!existsSync(dir)) return { records: [], duplicates: 0, files: [] };
  const files = readdirSync(dir)
    .filter((f) => /^results(\.shard-\d+-of-\d+)?\.jsonl$/.test(f))
    .sort();
  const byKey = new Map<string, ResultRecord>();
  let duplicates = 0;
  for (const f of files) {
    for (const r of readResults(join(dir, f), (line) => onTruncated?.(f, line))) {
      if (byKey.has(r.key)) duplicates++;
      else byKey.set(r.key, r);
    }
  }
  const records = [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { records, duplicates, files };
}
