import { expectInt, expectNumber, expectOneOf, InvalidArgumentError, seededRandom } from "@kvwalk/core";
import { concatTokens, type TextTokenizer } from "../../tokenizer.js";

/**
 * Needle-in-a-haystack samples in the three formats the fixture model was trained on
 * (shared/models/fixture-lm/README.md): needles are inserted between tokens of natural filler text,
 * the sequence starts with BOS and ends with the question and the answer.
 */
export const NEEDLE_KINDS = ["passkey", "multikey", "vartrack"] as const;
export type NeedleKind = (typeof NEEDLE_KINDS)[number];

/** A span of needle tokens [start, end) in the sample, and what it is. */
export interface NeedleSpan {
  start: number;
  end: number;
  /** "target": holds (or leads to) the answer; "distractor": another key's needle or the other chain. */
  role: "target" | "distractor";
  text: string;
}

export interface NeedleSample {
  id: string;
  kind: NeedleKind;
  /** Total tokens, BOS, question and answer included. */
  length: number;
  /** Requested depth of the target needle in the filler, 0 (start) .. 1 (end). */
  depth: number;
  seed: number;
  tokens: Int32Array;
  /** Answer tokens are tokens[answerStart .. answerStart + answerLength). */
  answerStart: number;
  answerLength: number;
  answer: string;
  /** Where the question starts (everything before it is BOS, filler and needles). */
  questionStart: number;
  needles: NeedleSpan[];
}

export interface NeedleSpec {
  kind: NeedleKind;
  length: number;
  depth: number;
  seed: number;
}

const WORDS = [
  "apple", "river", "garden", "window", "silver", "mountain", "candle", "harbor", "forest", "pencil", "violin", "meadow",
  "lantern", "marble", "falcon", "copper", "island", "thunder", "orchard", "compass", "velvet", "glacier", "bridge", "pepper",
  "saddle", "anchor", "comet", "walnut", "ribbon", "castle", "desert", "feather", "harvest", "ladder", "mirror", "canyon",
  "tiger", "basket", "engine", "jacket", "kettle", "lemon", "magnet", "needle", "ocean", "parrot", "rocket", "shadow",
];

/** A random integer with 5 to 7 digits (no leading zero). */
function randomNum(rand: () => number): string {
  const digits = 5 + Math.floor(rand() * 3);
  let s = String(1 + Math.floor(rand() * 9));
  for (let i = 1; i < digits; i++) s += String(Math.floor(rand() * 10));
  return s;
}

function randomVar(rand: () => number, used: Set<string>): string {
  for (;;) {
    let s = "";
    for (let i = 0; i < 3; i++) s += String.fromCharCode(65 + Math.floor(rand() * 26));
    if (!used.has(s)) {
      used.add(s);
      return s;
    }
  }
}

function pickDistinct<T>(rand: () => number, items: readonly T[], n: number): T[] {
  const pool = items.slice();
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(pool.splice(Math.floor(rand() * pool.length), 1)[0]);
  return out;
}

/** The texts of one sample before tokenization: needles with depths, question and answer. */
export interface NeedlePlan {
  needles: { text: string; depth: number; role: "target" | "distractor" }[];
  question: string;
  answer: string;
}

/**
 * The needles, question and answer of a sample (templates verbatim from the model card):
 * - passkey: " The pass key is NUM. Remember it. NUM is the pass key." / " What is the pass key? The pass key is" / " NUM."
 * - multikey: 2-6 needles " The special magic number for WORD is: NUM."; the question asks for the
 *   one at `depth`, the others go to uniform random depths.
 * - vartrack: two chains " VAR ABC = NUM.", " VAR DEF = VAR ABC.", ... of 1-3 hops each, statements
 *   in order; the first chain's value statement is at `depth`, its later hops at random depths
 *   after it; the question asks for the first chain's last name.
 */
export function planNeedle(kind: NeedleKind, depth: number, rand: () => number): NeedlePlan {
  switch (kind) {
    case "passkey": {
      const num = randomNum(rand);
      return {
        needles: [{ text: ` The pass key is ${num}. Remember it. ${num} is the pass key.`, depth, role: "target" }],
        question: " What is the pass key? The pass key is",
        answer: ` ${num}.`,
      };
    }
    case "multikey": {
      const n = 2 + Math.floor(rand() * 5);
      const words = pickDistinct(rand, WORDS, n);
      const nums = new Set<string>();
      while (nums.size < n) nums.add(randomNum(rand));
      const numList = [...nums];
      const needles = words.map((w, i) => ({
        text: ` The special magic number for ${w} is: ${numList[i]}.`,
        depth: i === 0 ? depth : rand(),
        role: (i === 0 ? "target" : "distractor") as "target" | "distractor",
      }));
      return {
        needles,
        question: ` What is the special magic number for ${words[0]}? The special magic number for ${words[0]} is:`,
        answer: ` ${numList[0]}.`,
      };
    }
    case "vartrack": {
      const used = new Set<string>();
      const chain = (first: boolean, startDepth: number) => {
        const hops = 1 + Math.floor(rand() * 3);
        const names = Array.from({ length: hops + 1 }, () => randomVar(rand, used));
        const num = randomNum(rand);
        // Later statements at sorted random depths after the first one, so the chain reads in order.
        const depths = [startDepth, ...Array.from({ length: hops }, () => startDepth + rand() * (1 - startDepth)).sort((a, b) => a - b)];
        const stmts = names.map((nm, i) => ({
          text: i === 0 ? ` VAR ${nm} = ${num}.` : ` VAR ${nm} = VAR ${names[i - 1]}.`,
          depth: depths[i],
          role: (first ? "target" : "distractor") as "target" | "distractor",
        }));
        return { stmts, last: names[names.length - 1], num };
      };
      const a = chain(true, depth);
      const b = chain(false, rand());
      return {
        needles: [...a.stmts, ...b.stmts],
        question: ` What is the value of VAR ${a.last}? VAR ${a.last} =`,
        answer: ` ${a.num}.`,
      };
    }
  }
}

/**
 * Builds one sample of exactly `length` tokens: BOS, filler from `haystack` starting at a seeded
 * random offset, the needles inserted between filler tokens at round(depth * fillerLength), then
 * the question and the answer. Deterministic in (kind, length, depth, seed, haystack, tokenizer).
 */
export function makeNeedleSample(tok: TextTokenizer, haystack: Int32Array, spec: NeedleSpec): NeedleSample {
  const kind = expectOneOf("kind", spec.kind, NEEDLE_KINDS);
  const length = expectInt("length", spec.length, 16);
  const depth = expectNumber("depth", spec.depth, 0, 1);
  const seed = expectInt("seed", spec.seed, 0);
  // Mix the spec into the seed so (depth, kind, length) variations of one seed are independent draws.
  const rand = seededRandom(hashSpec(kind, length, depth, seed));
  const plan = planNeedle(kind, depth, rand);
  const needleIds = plan.needles.map((n) => tok.encode(n.text, { addBos: false }));
  const question = tok.encode(plan.question, { addBos: false });
  const answer = tok.encode(plan.answer, { addBos: false });
  const bos = tok.bosId == null ? [] : [tok.bosId];
  const fixed = bos.length + needleIds.reduce((a, n) => a + n.length, 0) + question.length + answer.length;
  const fillerLen = length - fixed;
  if (fillerLen < 1) throw new InvalidArgumentError("length", `at least ${fixed + 1} tokens for a ${kind} sample`, length);
  if (haystack.length < fillerLen) throw new InvalidArgumentError("haystack", `at least ${fillerLen} tokens`, `${haystack.length} tokens`);
  const offset = Math.floor(rand() * (haystack.length - fillerLen + 1));
  const filler = haystack.subarray(offset, offset + fillerLen);
  // Insertion points in filler coordinates; stable order for equal points keeps chains in order.
  const order = plan.needles
    .map((n, i) => ({ i, at: Math.min(fillerLen, Math.max(0, Math.round(n.depth * fillerLen))) }))
    .sort((a, b) => a.at - b.at || a.i - b.i);
  const parts: ArrayLike<number>[] = [bos];
  const needles: NeedleSpan[] = new Array(plan.needles.length);
  let pos = bos.length;
  let cursor = 0;
  for (const { i, at } of order) {
    parts.push(filler.subarray(cursor, at));
    pos += at - cursor;
    cursor = at;
    parts.push(needleIds[i]);
    needles[i] = { start: pos, end: pos + needleIds[i].length, role: plan.needles[i].role, text: plan.needles[i].text };
    pos += needleIds[i].length;
  }
  parts.push(filler.subarray(cursor));
  pos += fillerLen - cursor;
  const questionStart = pos;
  parts.push(question, answer);
  const tokens = concatTokens(parts);
  return {
    id: `${kind}-L${length}-d${depth.toFixed(3)}-s${seed}`,
    kind,
    length,
    depth,
    seed,
    tokens,
    answerStart: questionStart + question.length,
    answerLength: answer.length,
    answer: plan.answer,
    questionStart,
    needles,
  };
}

function hashSpec(kind: string, length: number, depth: number, seed: number): number {
  let h = 2166136261 >>> 0;
  for (const ch of `${kind}|${length}|${depth.toFixed(6)}|${seed}`) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 16777619) >>> 0;
  }
  return h;
}

/** Positions whose logits predict the answer tokens: answerStart-1 .. answerStart+answerLength-2. */
export function answerLogitPositions(s: Pick<NeedleSample, "answerStart" | "answerLength">): number[] {
  return Array.from({ length: s.answerLength }, (_, i) => s.answerStart - 1 + i);
}
