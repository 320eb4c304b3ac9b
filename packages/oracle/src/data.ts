import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expectInt, FileFormatError, requireShared } from "@kvwalk/core";

/** Minimal tokenizer surface the loaders need (a subset of @kvwalk/model's Tokenizer). */
export interface TextEncoder {
  encode(text: string, opts?: { addBos?: boolean }): Int32Array;
}

/** One evaluation window: `tokens` is Int32Array [windowLen]. */
export interface StudyWindow {
  /** Stable id, e.g. "wikitext:3" or "multi_news:<_id>". */
  id: string;
  tokens: Int32Array;
}

export const DATASETS = ["wikitext", "longbench"] as const;
export type DatasetName = (typeof DATASETS)[number];

/**
 * WikiText-2 test: BOS + the whole raw text as one string, tokenized once, cut into non-overlapping
 * windows of `windowLen` tokens (the partial last window is dropped). `limit` keeps the first ones.
 */
export function wikitextWindows(tok: TextEncoder, windowLen: number, limit = Number.POSITIVE_INFINITY, file?: string): StudyWindow[] {
  expectInt("windowLen", windowLen, 2);
  const path = file ?? requireShared("data/wikitext-2-raw/wiki.test.raw", "WikiText-2 test text");
  const text = readFileSync(path, "utf8");
  const ids = tok.encode(text, { addBos: true });
  const out: StudyWindow[] = [];
  for (let w = 0; (w + 1) * windowLen <= ids.length && out.length < limit; w++) {
    out.push({ id: `wikitext:${w}`, tokens: ids.slice(w * windowLen, (w + 1) * windowLen) });
  }
  return out;
}

/**
 * LongBench: every task file (*.jsonl) in the folder, in name order; each row's `context`
 * (BOS + context) gives one window of its first `windowLen` tokens; shorter contexts are skipped.
 * Malformed rows are rejected with the file and line number.
 */
export function longbenchWindows(tok: TextEncoder, windowLen: number, limit = Number.POSITIVE_INFINITY, dir?: string): StudyWindow[] {
  expectInt("windowLen", windowLen, 2);
  const root = dir ?? requireShared("data/longbench", "LongBench task files");
  const files = readdirSync(root)
    .filter((f) => f.endsWith(".jsonl"))
    .sort();
  if (files.length === 0) throw new FileFormatError(root, "no *.jsonl task files");
  const out: StudyWindow[] = [];
  for (const f of files) {
    const task = f.replace(/\.jsonl$/, "");
    const lines = readFileSync(join(root, f), "utf8").split("\n");
    for (let i = 0; i < lines.length && out.length < limit; i++) {
      if (lines[i].trim() === "") continue;
      let row: { context?: unknown; _id?: unknown };
      try {
        row = JSON.parse(lines[i]);
      } catch (err) {
        throw new FileFormatError(join(root, f), `line ${i + 1}: not valid JSON`, { cause: err });
      }
      if (typeof row.context !== "string") throw new FileFormatError(join(root, f), `line ${i + 1}: field "context" missing or not a string`);
      const ids = tok.encode(row.context, { addBos: true });
      if (ids.length < windowLen) continue;
      out.push({ id: `${task}:${typeof row._id === "string" ? row._id : i}`, tokens: ids.slice(0, windowLen) });
    }
  }
  return out;
}

/** Windows of a dataset by name. */
export function loadWindows(dataset: DatasetName, tok: TextEncoder, windowLen: number, limit?: number): StudyWindow[] {
  return dataset === "wikitext" ? wikitextWindows(tok, windowLen, limit) : longbenchWindows(tok, windowLen, limit);
}
