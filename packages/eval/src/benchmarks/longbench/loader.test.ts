import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileFormatError, InvalidArgumentError, optionalShared } from "@kvwalk/core";
import { describe, expect, it } from "vitest";
import { charTokenizer } from "../../test-helpers.js";
import { longBenchAnswerInput, longBenchContextWindows, longBenchInput, loadLongBench, parseLongBench, truncateMiddle } from "./loader.js";
import { buildPrompt, LONGBENCH_TASKS, longBenchTask } from "./tasks.js";

const row = (over: Record<string, unknown> = {}) =>
  JSON.stringify({ input: "", context: "ctx", answers: ["ans"], length: 1, dataset: "multi_news", language: "en", all_classes: null, _id: "a", ...over });

function expectFormatError(fn: () => unknown, pattern: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(FileFormatError);
  expect((caught as Error).message).toMatch(pattern);
}

describe("parseLongBench", () => {
  it("parses valid rows with line numbers, allowing a final newline", () => {
    const rows = parseLongBench(`${row()}\n${row({ _id: "b", all_classes: ["x"] })}\n`, "t.jsonl");
    expect(rows.map((r) => [r._id, r.line])).toEqual([
      ["a", 1],
      ["b", 2],
    ]);
  });
  it("rejects invalid JSON with file and line", () => {
    expectFormatError(() => parseLongBench(`${row()}\n{"input": \n`, "bad.jsonl"), /^bad\.jsonl: line 2: invalid JSON/);
  });
  it("rejects a missing or mistyped field naming it", () => {
    const { context: _drop, ...noContext } = JSON.parse(row());
    expectFormatError(() => parseLongBench(JSON.stringify(noContext), "f.jsonl"), /f\.jsonl: line 1: field "context" must be a string, got nothing/);
    expectFormatError(() => parseLongBench(row({ answers: "ans" }), "f.jsonl"), /line 1: field "answers" must be a non-empty array of strings/);
    expectFormatError(() => parseLongBench(row({ answers: [] }), "f.jsonl"), /line 1: field "answers"/);
    expectFormatError(() => parseLongBench(row({ length: 2.5 }), "f.jsonl"), /line 1: field "length" must be a non-negative integer/);
    expectFormatError(() => parseLongBench(row({ all_classes: "x" }), "f.jsonl"), /line 1: field "all_classes"/);
    expectFormatError(() => parseLongBench("[1,2]", "f.jsonl"), /line 1: expected a JSON object/);
  });
  it("rejects empty lines in the middle, duplicate ids and empty files", () => {
    expectFormatError(() => parseLongBench(`${row()}\n\n${row({ _id: "b" })}`, "f.jsonl"), /line 2: empty line/);
    expectFormatError(() => parseLongBench(`${row()}\n${row()}`, "f.jsonl"), /line 2: duplicate _id "a"/);
    expectFormatError(() => parseLongBench("", "f.jsonl"), /no rows/);
  });
  it("loadLongBench checks the task name and each row's dataset", () => {
    const dir = mkdtempSync(join(tmpdir(), "lb-"));
    const f = join(dir, "multi_news.jsonl");
    writeFileSync(f, `${row()}\n${row({ _id: "b", dataset: "qmsum" })}\n`);
    expectFormatError(() => loadLongBench(f), /multi_news\.jsonl: line 2: dataset "qmsum" does not match task "multi_news"/);
    const g = join(dir, "nosuchtask.jsonl");
    writeFileSync(g, `${row()}\n`);
    expect(() => loadLongBench(g)).toThrow(InvalidArgumentError);
  });
});

describe("prompts and truncation", () => {
  it("has the 16 English tasks with their generation lengths", () => {
    expect(LONGBENCH_TASKS.length).toBe(16);
    expect(longBenchTask("multi_news")!.maxGen).toBe(512);
    expect(longBenchTask("hotpotqa")!.maxGen).toBe(32);
    expect(longBenchTask("samsum")!.metric).toBe("rouge_l");
  });
  it("fills {context} and {input} once, leaving $ patterns alone", () => {
    const t = longBenchTask("repobench-p")!;
    expect(buildPrompt(t, { context: "A$& {input}", input: "B" })).toBe("Please complete the code given below. \nA$& {input}BNext line of code:\n");
  });
  it("truncateMiddle keeps floor(max/2) from each end", () => {
    const ids = Int32Array.from({ length: 10 }, (_, i) => i);
    expect([...truncateMiddle(ids, 4)]).toEqual([0, 1, 8, 9]);
    expect([...truncateMiddle(ids, 5)]).toEqual([0, 1, 8, 9]);
    expect(truncateMiddle(ids, 10)).toBe(ids);
  });
  it("longBenchInput puts BOS first and fits the budget", () => {
    const tok = charTokenizer();
    const t = longBenchTask("multi_news")!;
    const r = { input: "", context: "x".repeat(1000), answers: ["summary text"], length: 1, dataset: "multi_news", language: "en", all_classes: null, _id: "a", line: 1 };
    const ids = longBenchInput(tok, t, r, 101);
    expect(ids.length).toBe(101);
    expect(ids[0]).toBe(1);
    expect(tok.decode(ids.subarray(1, 51))).toBe(buildPrompt(t, r).slice(0, 50));
    expect(tok.decode(ids.subarray(51))).toBe(buildPrompt(t, r).slice(-50));
    const a = longBenchAnswerInput(tok, t, r, 101);
    expect(a.tokens.length).toBeLessThanOrEqual(101);
    expect(tok.decode(a.tokens.subarray(a.answerStart))).toBe(" summary text");
  });
  it("context windows keep BOS + the first T-1 context tokens of long-enough rows", () => {
    const tok = charTokenizer();
    const mk = (id: string, n: number) => ({ input: "", context: "ab".repeat(n), answers: ["x"], length: 1, dataset: "d", language: "en", all_classes: null, _id: id, line: 1 });
    const w = longBenchContextWindows(tok, [mk("short", 2), mk("long", 10)], { windowTokens: 8 });
    expect(w.map((x) => x.id)).toEqual(["long"]);
    expect(w[0].tokens.length).toBe(8);
    expect(tok.decode(w[0].tokens)).toBe("abababa");
  });
});

const shared = optionalShared("data/longbench/multi_news.jsonl");
if (!shared) console.warn("skipping the multi_news file check: shared/data/longbench/multi_news.jsonl not found (set KVWALK_SHARED)");
describe.skipIf(!shared)("multi_news.jsonl (shared data)", () => {
  it("loads all 200 rows", () => {
    const { task, rows } = loadLongBench(shared!);
    expect(task.name).toBe("multi_news");
    expect(rows.length).toBe(200);
    expect(rows.every((r) => r.language === "en")).toBe(true);
  });
});
