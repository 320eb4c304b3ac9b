import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { expectInt, FileFormatError, InvalidArgumentError, requireShared } from "@kvwalk/core";
import { concatTokens, type TextTokenizer } from "../../tokenizer.js";
import { buildPrompt, type LongBenchTask, longBenchTask } from "./tasks.js";

/** One row of an official LongBench v1 task file. `length` counts words (characters for Chinese). */
export interface LongBenchRow {
  input: string;
  context: string;
  answers: string[];
  length: number;
  dataset: string;
  language: string;
  all_classes: string[] | null;
  _id: string;
  /** 1-based line number in the file, for messages. */
  line: number;
}

const STRING_FIELDS = ["input", "context", "dataset", "language", "_id"] as const;

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === "string");
}

/** Validates one parsed line; throws FileFormatError naming `file:line` and the offending field. */
function checkRow(obj: unknown, file: string, line: number): LongBenchRow {
  const where = `line ${line}`;
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) throw new FileFormatError(file, `${where}: expected a JSON object`);
  const o = obj as Record<string, unknown>;
  for (const f of STRING_FIELDS) {
    if (typeof o[f] !== "string") throw new FileFormatError(file, `${where}: field "${f}" must be a string, got ${typeOf(o[f])}`);
  }
  if (!isStringArray(o.answers) || o.answers.length === 0) {
    throw new FileFormatError(file, `${where}: field "answers" must be a non-empty array of strings, got ${typeOf(o.answers)}`);
  }
  if (typeof o.length !== "number" || !Number.isInteger(o.length) || o.length < 0) {
    throw new FileFormatError(file, `${where}: field "length" must be a non-negative integer, got ${typeOf(o.length)}`);
  }
  if (o.all_classes !== null && !isStringArray(o.all_classes)) {
    throw new FileFormatError(file, `${where}: field "all_classes" must be null or an array of strings, got ${typeOf(o.all_classes)}`);
  }
  return {
    input: o.input as string,
    context: o.context as string,
    answers: o.answers,
    length: o.length,
    dataset: o.dataset as string,
    language: o.language as string,
    all_classes: o.all_classes as string[] | null,
    _id: o._id as string,
    line,
  };
}

function typeOf(v: unknown): string {
  if (v === undefined) return "nothing (missing)";
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return `a ${typeof v}`;
}

/**
 * Parses the text of a LongBench task file (JSON lines). Every line must be an object with the
 * official fields; a malformed line throws FileFormatError with the file and 1-based line number.
 * Only a trailing empty line (the final newline) is allowed; `_id`s must be distinct.
 */
export function parseLongBench(text: string, file: string): LongBenchRow[] {
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const rows: LongBenchRow[] = [];
  const ids = new Set<string>();
  lines.forEach((raw, i) => {
    const line = i + 1;
    const s = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (s.trim() === "") throw new FileFormatError(file, `line ${line}: empty line`);
    let obj: unknown;
    try {
      obj = JSON.parse(s);
    } catch (err) {
      throw new FileFormatError(file, `line ${line}: invalid JSON (${(err as Error).message})`, { cause: err });
    }
    const row = checkRow(obj, file, line);
    if (ids.has(row._id)) throw new FileFormatError(file, `line ${line}: duplicate _id ${JSON.stringify(row._id)}`);
    ids.add(row._id);
    rows.push(row);
  });
  if (rows.length === 0) throw new FileFormatError(file, "no rows");
  return rows;
}

/** Reads and validates a task file. `task` (default: the file name without `.jsonl`) must match every row's `dataset`. */
export function loadLongBench(file: string, opts: { task?: string } = {}): { task: LongBenchTask; rows: LongBenchRow[] } {
  const name = opts.task ?? basename(file).replace(/\.jsonl$/, "");
  const task = longBenchTask(name);
  if (!task) throw new InvalidArgumentError("task", "a LongBench English task name (see LONGBENCH_TASKS)", name);
  const rows = parseLongBench(readFileSync(file, "utf8"), file);
  for (const r of rows) {
    if (r.dataset !== task.name) throw new FileFormatError(file, `line ${r.line}: dataset ${JSON.stringify(r.dataset)} does not match task "${task.name}"`);
  }
  return { task, rows };
}

/** Path of a task file in the shared data folder (`data/longbench/<task>.jsonl`). */
export function longBenchPath(task: string): string {
  return requireShared(`data/longbench/${task}.jsonl`, `LongBench task file ${task}.jsonl`);
}

/**
 * Middle truncation as LongBench's pred.py does it: if `ids` is longer than `maxLength`, keep the
 * first floor(maxLength/2) and the last floor(maxLength/2) tokens (instructions sit at both ends).
 */
export function truncateMiddle(ids: Int32Array, maxLength: number): Int32Array {
  expectInt("maxLength", maxLength, 2);
  if (ids.length <= maxLength) return ids;
  const half = Math.floor(maxLength / 2);
  return concatTokens([ids.subarray(0, half), ids.subarray(ids.length - half)]);
}

/**
 * Model input for a row: BOS + the filled prompt, middle-truncated so the whole input (BOS
 * included) fits `maxLength` tokens. pred.py truncates the ids, decodes and re-encodes; we keep the
 * truncated ids, which avoids a tokenizer round trip that can shift the boundary by a token.
 */
export function longBenchInput(tok: TextTokenizer, task: LongBenchTask, row: LongBenchRow, maxLength: number): Int32Array {
  expectInt("maxLength", maxLength, 3);
  const prompt = tok.encode(buildPrompt(task, row), { addBos: false });
  const body = truncateMiddle(prompt, tok.bosId == null ? maxLength : maxLength - 1);
  return tok.bosId == null ? body : concatTokens([[tok.bosId], body]);
}

/**
 * Teacher-forced answer scoring input: BOS + middle-truncated prompt + the first reference answer,
 * fitting `maxLength` in total. Returns the tokens and where the answer starts; the answer itself is
 * cut to at most `task.maxGen` tokens and at most half the window.
 */
export function longBenchAnswerInput(
  tok: TextTokenizer,
  task: LongBenchTask,
  row: LongBenchRow,
  maxLength: number,
): { tokens: Int32Array; answerStart: number; answerLength: number } {
  const answer = tok.encode(` ${row.answers[0].trim()}`, { addBos: false });
  const ans = answer.subarray(0, Math.min(answer.length, task.maxGen, Math.floor(maxLength / 2)));
  const prompt = longBenchInput(tok, task, row, maxLength - ans.length);
  return { tokens: concatTokens([prompt, ans]), answerStart: prompt.length, answerLength: ans.length };
}

/**
 * Context windows: BOS + the first `windowTokens - 1` tokens of each row's context, for the rows
 * whose context has at least that many tokens (so every window has the same length), in file order,
 * at most `maxSamples` of them.
 */
export function longBenchContextWindows(
  tok: TextTokenizer,
  rows: readonly LongBenchRow[],
  opts: { windowTokens?: number; maxSamples?: number; allowShorter?: boolean } = {},
): { id: string; line: number; tokens: Int32Array }[] {
  const T = expectInt("windowTokens", opts.windowTokens ?? 4096, 2);
  const max = opts.maxSamples === undefined ? Number.POSITIVE_INFINITY : expectInt("maxSamples", opts.maxSamples, 1);
  const out: { id: string; line: number; tokens: Int32Array }[] = [];
  for (const r of rows) {
    if (out.length >= max) break;
    const ids = tok.encode(r.context, { addBos: false });
    const body = tok.bosId == null ? T : T - 1;
    if (ids.length < body && !opts.allowShorter) continue;
    const cut = ids.subarray(0, Math.min(body, ids.length));
    out.push({ id: r._id, line: r.line, tokens: tok.bosId == null ? cut.slice() : concatTokens([[tok.bosId], cut]) });
  }
  return out;
}

/** One LongBench generation input: the prompt and what scoring needs. */
export interface LongBenchGenerationInput {
  id: string;
  line: number;
  /** BOS + the middle-truncated prompt, exactly `promptTokens` long. */
  tokens: Int32Array;
  maxNewTokens: number;
  answers: string[];
  allClasses: string[] | null;
}

/**
 * Generation inputs as LongBench's pred.py builds them: the official prompt, middle-truncated so the
 * prompt plus the task's maximum generation length fit the model's context (`contextTokens`). The
 * prompt body gets the largest even number of tokens <= contextTokens - maxNewTokens - 1 (middle
 * truncation keeps floor(max/2) tokens from each end, so an odd maximum would give even lengths
 * anyway), plus BOS. Only rows whose prompt fills that are kept, so every sample has the same length
 * and a cache budget as a fraction of the prompt is the same number of slots for all of them; in file
 * order, at most `maxSamples`.
 */
export function longBenchGenerationInputs(
  tok: TextTokenizer,
  task: LongBenchTask,
  rows: readonly LongBenchRow[],
  opts: { contextTokens: number; maxNewTokens?: number; maxSamples?: number },
): LongBenchGenerationInput[] {
  const context = expectInt("contextTokens", opts.contextTokens, 8);
  const maxNew = expectInt("maxNewTokens", opts.maxNewTokens ?? task.maxGen, 1, context - 5);
  const max = opts.maxSamples === undefined ? Number.POSITIVE_INFINITY : expectInt("maxSamples", opts.maxSamples, 0);
  const bos = tok.bosId == null ? 0 : 1;
  const body = 2 * Math.floor((context - maxNew - bos) / 2);
  const out: LongBenchGenerationInput[] = [];
  for (const r of rows) {
    if (out.length >= max) break;
    const ids = tok.encode(buildPrompt(task, r), { addBos: false });
    if (ids.length < body) continue;
    const cut = truncateMiddle(ids, body);
    const tokens = tok.bosId == null ? cut.slice() : concatTokens([[tok.bosId], cut]);
    out.push({ id: r._id, line: r.line, tokens, maxNewTokens: maxNew, answers: r.answers, allClasses: r.all_classes });
  }
  return out;
}
