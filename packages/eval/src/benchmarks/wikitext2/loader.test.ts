import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileFormatError } from "@kvwalk/core";
import { describe, expect, it } from "vitest";
import { charTokenizer } from "../../test-helpers.js";
import { readWikiText2, wikiText2Windows, windowsOf } from "./loader.js";
import { corpusPerplexity, nllSum } from "./metric.js";

describe("WikiText-2 windows", () => {
  it("cuts non-overlapping windows, keeping a long-enough tail", () => {
    const ids = Int32Array.from({ length: 10 }, (_, i) => i);
    expect(windowsOf(ids, 4, "w").map((w) => [...w.tokens])).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
    expect(windowsOf(ids, 3, "w").map((w) => w.tokens.length)).toEqual([3, 3, 3]); // tail of 1 dropped
  });
  it("tokenizes BOS + the whole text", () => {
    const dir = mkdtempSync(join(tmpdir(), "wt-"));
    const f = join(dir, "wiki.test.raw");
    writeFileSync(f, " = A = \n hello world \n");
    const { windows, totalTokens } = wikiText2Windows(charTokenizer(), { file: f, windowTokens: 8 });
    expect(totalTokens).toBe(1 + 22);
    expect(windows[0].tokens[0]).toBe(1);
    expect(windows.length).toBe(3);
  });
  it("rejects empty and binary files", () => {
    const dir = mkdtempSync(join(tmpdir(), "wt-"));
    const f = join(dir, "empty.raw");
    writeFileSync(f, "");
    expect(() => readWikiText2("test", f)).toThrow(FileFormatError);
    writeFileSync(f, "a\u0000b");
    expect(() => readWikiText2("test", f)).toThrow(/NUL/);
  });
  it("perplexity pools windows by token count", () => {
    expect(nllSum([1, 2, 3], 1)).toBe(5);
    const p = corpusPerplexity([2 * Math.log(3), Math.log(3)], [2, 1]);
    expect(p.value).toBeCloseTo(3, 12);
    expect(p.tokens).toBe(3);
  });
});
