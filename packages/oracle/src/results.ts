import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { writeFileAtomic } from "@kvwalk/core";

/** One finished (window, policy, budget) run: what the study appends to results.jsonl. */
export interface RunRecord {
  mode: "causal" | "retrospective";
  dataset: string;
  /** Window index in the dataset order and its id. */
  window: number;
  windowId: string;
  policy: string;
  /** Budget as a fraction of the window. */
  budget: number;
  /** Budget in slots (floor(budget x T)). */
  budgetSlots: number;
  /** Window length T. */
  T: number;
  /** Sum and count of NLL over all predicted tokens (1..T-1). */
  nllSum: number;
  count: number;
  /** Sum and count over the tokens predicted after the cache first fills (query positions >= budgetSlots). */
  nllSumFilled: number;
  countFilled: number;
  /** Tokens evicted over all (layer, KV head); for `full` 0. */
  evictions: number;
  /** Milliseconds: model, simulation (of which rows and PageRank refreshes), wall (for full: its one shared pass). */
  forwardMs: number;
  simMs: number;
  rowMs: number;
  refreshMs: number;
  refreshes: number;
  /** Power iterations over all refreshes (pagerank-undirected); absent in older records. */
  iterations?: number;
  wallMs: number;
  /** PageRank refresh interval used (steps). */
  refreshEvery: number;
}

export function recordKey(r: Pick<RunRecord, "mode" | "dataset" | "window" | "policy" | "budget">): string {
  return `${r.mode}|${r.dataset}|${r.window}|${r.policy}|${r.budget}`;
}

/**
 * results.jsonl: one JSON record per line, appended as runs finish. Loading drops a torn last line
 * (an interrupted append) and rewrites the file atomically without it, so a rerun resumes cleanly.
 */
export class ResultStore {
  readonly records: RunRecord[] = [];
  private readonly keys = new Set<string>();

  constructor(readonly path: string) {
    if (!existsSync(path)) return;
    const lines = readFileSync(path, "utf8").split("\n");
    let dropped = 0;
    for (const line of lines) {
      if (line.trim() === "") continue;
      try {
        const r = JSON.parse(line) as RunRecord;
        if (typeof r.nllSum !== "number" || typeof r.policy !== "string") throw new Error("not a run record");
        this.add(r);
      } catch {
        dropped++;
      }
    }
    if (dropped > 0) {
      console.warn(`${path}: dropped ${dropped} unreadable line(s) (interrupted write); rewriting the file`);
      writeFileAtomic(path, this.records.map((r) => `${JSON.stringify(r)}\n`).join(""));
    }
  }

  private add(r: RunRecord): void {
    const k = recordKey(r);
    if (this.keys.has(k)) return;
    this.keys.add(k);
    this.records.push(r);
  }

  has(r: Pick<RunRecord, "mode" | "dataset" | "window" | "policy" | "budget">): boolean {
    return this.keys.has(recordKey(r));
  }

  /** Appends records (one write call, whole lines) and remembers them. */
  append(records: RunRecord[]): void {
    const fresh = records.filter((r) => !this.keys.has(recordKey(r)));
    if (fresh.length === 0) return;
    appendFileSync(this.path, fresh.map((r) => `${JSON.stringify(r)}\n`).join(""));
    for (const r of fresh) this.add(r);
  }
}

/** NLL sums of a pass over all tokens and over query positions >= budgetSlots. */
export function nllSums(nll: Float32Array, budgetSlots: number): Pick<RunRecord, "nllSum" | "count" | "nllSumFilled" | "countFilled"> {
  let all = 0;
  let filled = 0;
  let countFilled = 0;
  for (let i = 0; i < nll.length; i++) {
    all += nll[i];
    if (i >= budgetSlots) {
      filled += nll[i];
      countFilled++;
    }
  }
  return { nllSum: all, count: nll.length, nllSumFilled: filled, countFilled };
}
