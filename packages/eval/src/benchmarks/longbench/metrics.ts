import { InvalidArgumentError } from "@kvwalk/core";
import type { LongBenchMetricName, LongBenchTask } from "./tasks.js";

/**
 * LongBench's metrics, implemented from their definitions (Bai et al. 2023, and the SQuAD answer
 * normalisation of Rajpurkar et al. 2016). Every score is in [0, 1]; a prediction is scored against
 * each reference answer and the best score counts (`scoreLongBench`).
 */

// Python's string.punctuation: the 32 ASCII punctuation characters.
const ASCII_PUNCT = new Set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~");
// Articles as whole words; word characters as Python 3's Unicode-aware \w sees them.
const ARTICLES = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu;

/** SQuAD answer normalisation: lowercase, drop ASCII punctuation, drop the articles a/an/the, collapse whitespace. */
export function normalizeAnswer(s: string): string {
  let t = s.toLowerCase();
  t = Array.from(t)
    .filter((ch) => !ASCII_PUNCT.has(ch))
    .join("");
  t = t.replace(ARTICLES, " ");
  return splitWhitespace(t).join(" ");
}

/** Splits on runs of whitespace (Python's str.split() with no argument), dropping empty pieces. */
export function splitWhitespace(s: string): string[] {
  return s.split(/\s+/u).filter((w) => w.length > 0);
}

/** Token-level F1 of two token lists, counting repeated tokens as a multiset intersection. */
export function tokenF1(prediction: readonly string[], reference: readonly string[]): number {
  const counts = new Map<string, number>();
  for (const t of reference) counts.set(t, (counts.get(t) ?? 0) + 1);
  let same = 0;
  for (const t of prediction) {
    const c = counts.get(t) ?? 0;
    if (c > 0) {
      same++;
      counts.set(t, c - 1);
    }
  }
  if (same === 0) return 0;
  const precision = same / prediction.length;
  const recall = same / reference.length;
  return (2 * precision * recall) / (precision + recall);
}

/** QA F1 (narrativeqa, qasper, multifieldqa_en, hotpotqa, 2wikimqa, musique, triviaqa). */
export function qaF1Score(prediction: string, reference: string): number {
  return tokenF1(splitWhitespace(normalizeAnswer(prediction)), splitWhitespace(normalizeAnswer(reference)));
}

/** Length of the longest common subsequence of two token lists; O(m n) time, O(n) memory. */
export function lcsLength(a: readonly string[], b: readonly string[]): number {
  if (a.length === 0 || b.length === 0) return 0;
  let prev = new Int32Array(b.length + 1);
  let cur = new Int32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    const ai = a[i - 1];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = ai === b[j - 1] ? prev[j - 1] + 1 : Math.max(prev[j], cur[j - 1]);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length];
}

/**
 * ROUGE-L F-measure (Lin 2004) on lowercased whitespace tokens: P = LCS/|prediction|,
 * R = LCS/|reference|, F = 2PR/(P+R). Empty prediction or reference scores 0 (as LongBench's
 * rouge_score, which returns 0 when the `rouge` package raises on empty input).
 */
export function rougeLScore(prediction: string, reference: string): number {
  const p = splitWhitespace(prediction.toLowerCase());
  const r = splitWhitespace(reference.toLowerCase());
  const lcs = lcsLength(p, r);
  if (lcs === 0) return 0;
  const precision = lcs / p.length;
  const recall = lcs / r.length;
  return (2 * precision * recall) / (precision + recall);
}

/**
 * Classification accuracy (trec): the classes named in the prediction (substring match), minus
 * those that are a strict substring of the reference class; 1/|matches| if the reference class is
 * among them, else 0. (LongBench's similarity fallback for "no class named" is unreachable in its
 * code, which compares a list with 0, so no match scores 0 there too.)
 */
export function classificationScore(prediction: string, reference: string, allClasses: readonly string[]): number {
  const named = allClasses.filter((c) => prediction.includes(c));
  const matches = named.filter((c) => !(reference.includes(c) && c !== reference));
  return matches.includes(reference) ? 1 / matches.length : 0;
}

/** All maximal digit runs in `s`, as strings (Python's re.findall(r"\d+")). ASCII digits only. */
function digitRuns(s: string): string[] {
  return s.match(/[0-9]+/g) ?? [];
}

/** Count accuracy (passage_count): fraction of the numbers in the prediction that equal the reference. */
export function countScore(prediction: string, reference: string): number {
  const nums = digitRuns(prediction);
  if (nums.length === 0) return 0;
  return nums.filter((n) => n === reference).length / nums.length;
}

/**
 * Retrieval accuracy (passage_retrieval_en): the reference reads "Paragraph N"; the score is the
 * fraction of the numbers in the prediction that equal N.
 */
export function retrievalScore(prediction: string, reference: string): number {
  const m = /Paragraph (\d+)/.exec(reference);
  if (!m) throw new InvalidArgumentError("reference", 'an answer of the form "Paragraph N"', reference);
  const nums = digitRuns(prediction);
  if (nums.length === 0) return 0;
  return nums.filter((n) => n === m[1]).length / nums.length;
}

/**
 * Weighted edit distance between two strings, counted in code points: insertions and deletions cost
 * 1, substitutions 2 (so it equals |a| + |b| - 2 * matched characters, the "indel" distance).
 */
export function indelDistance(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  let prev = new Int32Array(y.length + 1).map((_, j) => j);
  let cur = new Int32Array(y.length + 1);
  for (let i = 1; i <= x.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= y.length; j++) {
      const sub = prev[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 2);
      cur[j] = Math.min(sub, prev[j] + 1, cur[j - 1] + 1);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[y.length];
}

/** Round half to even, as Python's round(). */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Normalised Levenshtein similarity as fuzzywuzzy's fuzz.ratio computes it (the scorer LongBench
 * uses): round(100 * (|a| + |b| - indel(a, b)) / (|a| + |b|)) / 100; 0 if either string is empty.
 */
export function levenshteinRatio(a: string, b: string): number {
  if (a.length === 0 || b.length === 0) return 0;
  const total = Array.from(a).length + Array.from(b).length;
  return roundHalfEven((100 * (total - indelDistance(a, b))) / total) / 100;
}

/**
 * Code edit similarity (lcc, repobench-p): the first line of the prediction (after leading newlines)
 * that contains no backtick, `#` or `//` -- i.e. skipping fences and comments -- compared with the
 * reference line by `levenshteinRatio`. No such line scores the empty string (0).
 */
export function codeSimScore(prediction: string, reference: string): number {
  const lines = prediction.replace(/^\n+/, "").split("\n");
  const line = lines.find((l) => !l.includes("`") && !l.includes("#") && !l.includes("//")) ?? "";
  return levenshteinRatio(line, reference);
}

/** One metric by name, scoring a prediction against one reference answer. */
export function metricScore(metric: LongBenchMetricName, prediction: string, reference: string, allClasses: readonly string[] = []): number {
  switch (metric) {
    case "qa_f1":
      return qaF1Score(prediction, reference);
    case "rouge_l":
      return rougeLScore(prediction, reference);
    case "classification":
      return classificationScore(prediction, reference, allClasses);
    case "retrieval":
      return retrievalScore(prediction, reference);
    case "count":
      return countScore(prediction, reference);
    case "code_sim":
      return codeSimScore(prediction, reference);
  }
}

/**
 * A prediction's LongBench score for a task: the best score over the reference answers, after
 * keeping only the first line for the tasks that do so (eval.py's scorer).
 */
export function scoreLongBench(task: LongBenchTask, prediction: string, answers: readonly string[], allClasses: readonly string[] | null = null): number {
  const pred = task.firstLineOnly ? prediction.replace(/^\n+/, "").split("\n")[0] : prediction;
  let best = 0;
  for (const a of answers) best = Math.max(best, metricScore(task.metric, pred, a, allClasses ?? []));
  return best;
}
