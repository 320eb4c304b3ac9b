import { describe, expect, it } from "vitest";
import {
  classificationScore,
  codeSimScore,
  countScore,
  indelDistance,
  lcsLength,
  levenshteinRatio,
  normalizeAnswer,
  qaF1Score,
  retrievalScore,
  rougeLScore,
  scoreLongBench,
  tokenF1,
} from "./metrics.js";
import { longBenchTask } from "./tasks.js";

describe("normalizeAnswer", () => {
  it("lowercases, strips punctuation and articles, collapses whitespace", () => {
    expect(normalizeAnswer("The Cat  sat, on\tthe MAT.")).toBe("cat sat on mat");
    expect(normalizeAnswer("An apple a day")).toBe("apple day");
    // Articles only as whole words: "theatre" and "bandana" keep their letters.
    expect(normalizeAnswer("theatre bandana")).toBe("theatre bandana");
    // Punctuation is removed before articles, so "the-end" -> "theend" (no article left).
    expect(normalizeAnswer("the-end")).toBe("theend");
  });
});

describe("qa F1", () => {
  it("hand-computed: 2 common tokens, P=2/4, R=2/2 -> F1=2/3", () => {
    // pred -> [cat, sat, on, mat]; ref -> [cat, sat]
    expect(qaF1Score("The Cat sat on the mat.", "a cat sat")).toBeCloseTo(2 / 3, 12);
  });
  it("counts repeated tokens as a multiset", () => {
    // common = min(2,1) x + min(1,2) y = 2; P = R = 2/3
    expect(tokenF1(["x", "x", "y"], ["x", "y", "y"])).toBeCloseTo(2 / 3, 12);
  });
  it("is 0 without overlap and 1 for equal answers", () => {
    expect(qaF1Score("Paris", "London")).toBe(0);
    expect(qaF1Score("the Eiffel Tower!", "Eiffel tower")).toBe(1);
    expect(qaF1Score("", "x")).toBe(0);
  });
});

describe("ROUGE-L", () => {
  it("LCS of token lists", () => {
    expect(lcsLength(["a", "b", "c", "d"], ["a", "c", "d", "b"])).toBe(3);
    expect(lcsLength([], ["a"])).toBe(0);
  });
  it("hand-computed: LCS 6 of 7 and 6 tokens -> F = 12/13", () => {
    expect(rougeLScore("the cat was found under the bed", "the cat was under the bed")).toBeCloseTo(12 / 13, 12);
  });
  it("is case-insensitive, 0 on empty input", () => {
    expect(rougeLScore("The Cat", "the cat")).toBe(1);
    expect(rougeLScore("", "the cat")).toBe(0);
  });
});

describe("classification accuracy", () => {
  const classes = ["location", "human", "value", "numeric value"];
  it("scores 1/|named classes| when the reference is named", () => {
    expect(classificationScore("Type: location", "location", classes)).toBe(1);
    expect(classificationScore("human or location", "location", classes)).toBe(0.5);
  });
  it("drops named classes that are strict substrings of the reference", () => {
    // "value" is inside "numeric value" -> removed; "numeric value" alone remains.
    expect(classificationScore("numeric value", "numeric value", classes)).toBe(1);
  });
  it("scores 0 when the reference class is not named", () => {
    expect(classificationScore("no idea", "location", classes)).toBe(0);
    expect(classificationScore("human", "location", classes)).toBe(0);
  });
});

describe("retrieval and count accuracy", () => {
  it("count: fraction of numbers equal to the reference", () => {
    expect(countScore("There are 12 paragraphs, not 12 or 13", "12")).toBeCloseTo(2 / 3, 12);
    expect(countScore("none", "3")).toBe(0);
    expect(countScore("7", "7")).toBe(1);
  });
  it("retrieval: numbers compared with the N of 'Paragraph N'", () => {
    expect(retrievalScore("Paragraph 3", "Paragraph 3")).toBe(1);
    expect(retrievalScore("Paragraph 3 or Paragraph 30", "Paragraph 3")).toBe(0.5);
    expect(retrievalScore("I do not know", "Paragraph 3")).toBe(0);
    expect(() => retrievalScore("3", "three")).toThrow(/reference/);
  });
});

describe("code edit similarity", () => {
  it("indel distance: substitutions cost 2", () => {
    expect(indelDistance("kitten", "sitting")).toBe(5); // 2 substitutions + 1 insertion
    expect(indelDistance("", "abc")).toBe(3);
    expect(indelDistance("abc", "abc")).toBe(0);
  });
  it("levenshteinRatio is fuzz.ratio / 100, rounding half to even", () => {
    expect(levenshteinRatio("kitten", "sitting")).toBe(0.62); // 8/13 = 61.5% -> 62
    expect(levenshteinRatio("abc", "abd")).toBe(0.67); // 4/6
    expect(levenshteinRatio("abcdefgh", "abcdefgx")).toBe(0.88); // 14/16 = 87.5 -> 88 (even)
    expect(levenshteinRatio("abcdefgh", "abcdexyz")).toBe(0.62); // 10/16 = 62.5 -> 62 (even)
    expect(levenshteinRatio("", "abc")).toBe(0);
  });
  it("takes the first line that is not a fence or a comment", () => {
    // "x = foo(1)" vs "x = foo(2)": 20 characters, one substitution (2) -> 18/20
    expect(codeSimScore("\n```python\n# comment\nx = foo(1)\ny = 2", "x = foo(2)")).toBe(0.9);
    expect(codeSimScore("// only comments", "x")).toBe(0);
  });
});

describe("scoreLongBench", () => {
  it("takes the best reference and the first line for few-shot tasks", () => {
    const trec = longBenchTask("trec")!;
    expect(scoreLongBench(trec, "\nlocation\nhuman", ["location"], ["location", "human"])).toBe(1);
    const hotpot = longBenchTask("hotpotqa")!;
    expect(scoreLongBench(hotpot, "Paris", ["London", "paris"])).toBe(1);
    const news = longBenchTask("multi_news")!;
    // Not first-line-only: the second line still counts.
    expect(scoreLongBench(news, "a b\nc d", ["a b c d"])).toBe(1);
  });
});
