import { describe, expect, it } from "vitest";
import { charTokenizer } from "../../test-helpers.js";
import { answerLogitPositions, makeNeedleSample, NEEDLE_KINDS } from "./generate.js";
import { greedyExactMatch } from "./metric.js";

const tok = charTokenizer();
const haystack = tok.encode("lorem ipsum dolor sit amet ".repeat(200), { addBos: false });

describe("needle samples", () => {
  it("passkey: exact length, BOS first, template text, answer at the end", () => {
    const s = makeNeedleSample(tok, haystack, { kind: "passkey", length: 600, depth: 0.5, seed: 3 });
    expect(s.tokens.length).toBe(600);
    expect(s.tokens[0]).toBe(1);
    const text = tok.decode(s.tokens);
    const num = s.answer.trim().slice(0, -1);
    expect(num).toMatch(/^[1-9][0-9]{4,6}$/);
    expect(text).toContain(` The pass key is ${num}. Remember it. ${num} is the pass key.`);
    expect(text.endsWith(` What is the pass key? The pass key is${s.answer}`)).toBe(true);
    expect(tok.decode(s.tokens.subarray(s.answerStart))).toBe(s.answer);
    expect(s.answerStart + s.answerLength).toBe(600);
    // The needle sits at round(0.5 * fillerLength) filler tokens after BOS.
    const filler = 600 - 1 - (s.needles[0].end - s.needles[0].start) - (s.answerStart - s.questionStart) - s.answerLength;
    expect(s.needles[0].start).toBe(1 + Math.round(0.5 * filler));
    expect(tok.decode(s.tokens.subarray(s.needles[0].start, s.needles[0].end))).toBe(s.needles[0].text);
  });
  it("depth 0 and 1 put the needle right after BOS and right before the question", () => {
    const a = makeNeedleSample(tok, haystack, { kind: "passkey", length: 400, depth: 0, seed: 1 });
    expect(a.needles[0].start).toBe(1);
    const b = makeNeedleSample(tok, haystack, { kind: "passkey", length: 400, depth: 1, seed: 1 });
    expect(b.needles[0].end).toBe(b.questionStart);
  });
  it("multikey: 2-6 needles, the question names the target's word", () => {
    for (let seed = 0; seed < 10; seed++) {
      const s = makeNeedleSample(tok, haystack, { kind: "multikey", length: 800, depth: 0.3, seed });
      expect(s.needles.length).toBeGreaterThanOrEqual(2);
      expect(s.needles.length).toBeLessThanOrEqual(6);
      const target = s.needles.find((n) => n.role === "target")!;
      const m = / The special magic number for (\w+) is: (\d+)\./.exec(target.text)!;
      expect(s.answer).toBe(` ${m[2]}.`);
      expect(tok.decode(s.tokens.subarray(s.questionStart, s.answerStart))).toBe(
        ` What is the special magic number for ${m[1]}? The special magic number for ${m[1]} is:`,
      );
    }
  });
  it("vartrack: two in-order chains; the question asks for the first chain's last name", () => {
    for (let seed = 0; seed < 10; seed++) {
      const s = makeNeedleSample(tok, haystack, { kind: "vartrack", length: 900, depth: 0.2, seed });
      const chain = s.needles.filter((n) => n.role === "target");
      expect(chain.length).toBeGreaterThanOrEqual(2);
      expect(chain.length).toBeLessThanOrEqual(4);
      expect(chain[0].text).toMatch(/^ VAR [A-Z]{3} = \d{5,7}\.$/);
      for (let i = 1; i < chain.length; i++) {
        expect(chain[i].start).toBeGreaterThanOrEqual(chain[i - 1].end);
        expect(chain[i].text).toBe(` VAR ${/VAR ([A-Z]{3}) =/.exec(chain[i].text)![1]} = VAR ${/VAR ([A-Z]{3}) =/.exec(chain[i - 1].text)![1]}.`);
      }
      const last = /VAR ([A-Z]{3}) =/.exec(chain[chain.length - 1].text)![1];
      expect(tok.decode(s.tokens.subarray(s.questionStart, s.answerStart))).toBe(` What is the value of VAR ${last}? VAR ${last} =`);
      expect(s.answer).toBe(` ${/= (\d+)\./.exec(chain[0].text)![1]}.`);
    }
  });
  it("is deterministic in the spec and varies with the seed", () => {
    for (const kind of NEEDLE_KINDS) {
      const a = makeNeedleSample(tok, haystack, { kind, length: 700, depth: 0.4, seed: 9 });
      const b = makeNeedleSample(tok, haystack, { kind, length: 700, depth: 0.4, seed: 9 });
      const c = makeNeedleSample(tok, haystack, { kind, length: 700, depth: 0.4, seed: 10 });
      expect(a.tokens).toEqual(b.tokens);
      expect(a.tokens).not.toEqual(c.tokens);
    }
  });
  it("rejects impossible specs", () => {
    expect(() => makeNeedleSample(tok, haystack, { kind: "passkey", length: 50, depth: 0.5, seed: 1 })).toThrow(/length/);
    expect(() => makeNeedleSample(tok, haystack, { kind: "passkey", length: 600, depth: 1.5, seed: 1 })).toThrow(/depth/);
    expect(() => makeNeedleSample(tok, haystack.subarray(0, 10), { kind: "passkey", length: 600, depth: 0.5, seed: 1 })).toThrow(/haystack/);
  });
});

describe("greedy exact match", () => {
  it("needs every answer token to be the argmax", () => {
    const vocab = 4;
    // rows: argmax 2, argmax 0
    const logits = Float32Array.from([0, 1, 5, 2, 9, 1, 1, 1]);
    expect(greedyExactMatch(logits, vocab, [2, 0]).correct).toBe(true);
    const r = greedyExactMatch(logits, vocab, [2, 1]);
    expect(r.correct).toBe(false);
    expect(r.hits).toEqual([true, false]);
    expect(r.predicted).toEqual([2, 0]);
    expect(() => greedyExactMatch(logits, vocab, [2])).toThrow(/logits/);
  });
  it("logit positions precede the answer tokens", () => {
    expect(answerLogitPositions({ answerStart: 10, answerLength: 3 })).toEqual([9, 10, 11]);
  });
});
