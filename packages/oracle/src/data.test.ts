import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { longbenchWindows, type TextEncoder, wikitextWindows } from "./data.js";

// One token per character, BOS = 1.
const tok: TextEncoder = {
  encode: (text, o = {}) => Int32Array.from([...(o.addBos === false ? [] : [1]), ...Array.from(text, (c) => c.charCodeAt(0))]),
};
const dir = mkdtempSync(join(tmpdir(), "kvwalk-data-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("wikitextWindows", () => {
  it("BOS + the whole text, non-overlapping windows, partial last window dropped", () => {
    const f = join(dir, "wiki.raw");
    writeFileSync(f, "abcdefghij"); // 11 tokens with BOS
    const ws = wikitextWindows(tok, 4, Number.POSITIVE_INFINITY, f);
    expect(ws.map((w) => Array.from(w.tokens))).toEqual([
      [1, 97, 98, 99],
      [100, 101, 102, 103],
    ]);
    expect(ws.map((w) => w.id)).toEqual(["wikitext:0", "wikitext:1"]);
    expect(wikitextWindows(tok, 4, 1, f)).toHaveLength(1);
  });
});

describe("longbenchWindows", () => {
  it("first windowLen tokens of each long-enough context, every task file in name order", () => {
    const lb = join(dir, "lb");
    mkdirSync(lb);
    writeFileSync(join(lb, "b_task.jsonl"), `${JSON.stringify({ context: "xyzxyz", _id: "b1" })}\n`);
    writeFileSync(join(lb, "a_task.jsonl"), [{ context: "ab", _id: "short" }, { context: "abcdef", _id: "a2" }].map((r) => JSON.stringify(r)).join("\n"));
    const ws = longbenchWindows(tok, 5, Number.POSITIVE_INFINITY, lb);
    expect(ws.map((w) => w.id)).toEqual(["a_task:a2", "b_task:b1"]);
    expect(Array.from(ws[0].tokens)).toEqual([1, 97, 98, 99, 100]);
  });

  it("rejects a malformed row with the file and line number", () => {
    const bad = join(dir, "bad");
    mkdirSync(bad);
    writeFileSync(join(bad, "t.jsonl"), `${JSON.stringify({ context: "abcdef" })}\n{"context": 3}\n`);
    expect(() => longbenchWindows(tok, 3, Number.POSITIVE_INFINITY, bad)).toThrow(/t\.jsonl: line 2/);
  });
});
