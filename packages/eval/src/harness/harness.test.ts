import { appendFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { mergeResults, readResults } from "../results.js";
import { writeReport } from "../report/report.js";
import { charTokenizer, FAKE_EOS, type FakeEngineLog, fakeGpuEngine } from "../test-helpers.js";
import type { EvalBackend, WindowRequest } from "./backend.js";
import { type EvalConfig, parseShard, validateConfig } from "./config.js";
import { budgetSlots, runSweep } from "./runner.js";
import { gpuBackend } from "./gpu.js";
import { buildItems, expandUnits, planBatches, planSteps, shardUnits } from "./sweep.js";

const newEngineLog = (): FakeEngineLog => ({ created: 0, disposed: 0, prefills: 0, decodes: 0, logitSteps: 0, maxBatch: 0 });

const tok = charTokenizer();
const VOCAB = 200;

/** A deterministic fake backend: NLL depends on token, policy and budget; "streaming" never finds needles. */
function fakeBackend(): EvalBackend & { calls: WindowRequest[] } {
  const calls: WindowRequest[] = [];
  return {
    name: "fake",
    model: "char",
    vocabSize: VOCAB,
    tokenizer: tok,
    calls,
    async run(req) {
      calls.push(req);
      const T = req.tokens.length;
      const nll = new Float32Array(T - 1);
      const penalty = req.policy.name === "full" ? 0 : (1 - req.budget) * (req.policy.name === "streaming" ? 1 : 0.5);
      for (let i = 0; i < T - 1; i++) nll[i] = 1 + (req.tokens[i + 1] % 5) / 10 + (i >= budgetSlots(req.budget, T) ? penalty : 0);
      let logits: Float32Array | undefined;
      if (req.logitPositions) {
        logits = new Float32Array(req.logitPositions.length * VOCAB);
        req.logitPositions.forEach((p, r) => {
          const target = req.policy.name === "streaming" ? 0 : req.tokens[p + 1];
          logits![r * VOCAB + target] = 5;
        });
      }
      return { nll, logits };
    },
    async dispose() {},
  };
}

function fixtures(): { dir: string; config: EvalConfig; sources: { wikitextFile: string; haystackFile: string; longbenchFile: (t: string) => string } } {
  const dir = mkdtempSync(join(tmpdir(), "eval-h-"));
  const words = "the quick brown fox jumps over the lazy dog and keeps running far away ";
  writeFileSync(join(dir, "wiki.test.raw"), words.repeat(12));
  writeFileSync(join(dir, "wiki.valid.raw"), words.repeat(40));
  const row = (id: string, ctx: string) =>
    JSON.stringify({ input: "", context: ctx, answers: ["a short summary"], length: 5, dataset: "multi_news", language: "en", all_classes: null, _id: id });
  writeFileSync(join(dir, "multi_news.jsonl"), `${row("a", words.repeat(3))}\n${row("b", "too short")}\n${row("c", words.repeat(2))}\n`);
  const config: EvalConfig = {
    model: "fake",
    backend: "cpu-sim",
    policies: [{ name: "full" }, { name: "streaming" }, { name: "h2o" }, { name: "pagerank-walker", label: "walker", options: { walkers: 8 } }],
    budgets: [0.25, 0.5],
    windowTokens: 100,
    wikitext2: { split: "test", maxWindows: 3 },
    longbench: { tasks: ["multi_news"], contextSamples: 5, answerSamples: 1 },
    needle: { kinds: ["passkey"], lengths: [200], depths: [0, 1], samples: 2, seed: 5 },
  };
  return {
    dir,
    config,
    sources: { wikitextFile: join(dir, "wiki.test.raw"), haystackFile: join(dir, "wiki.valid.raw"), longbenchFile: (t) => join(dir, `${t}.jsonl`) },
  };
}

const quiet = () =>
  new Writable({
    write(_c, _e, cb) {
      cb();
    },
  });

describe("config", () => {
  it("validates and names the bad field", () => {
    const { config } = fixtures();
    expect(validateConfig(config)).toBe(config);
    expect(() => validateConfig({ ...config, budgets: [0.2, 1.5] })).toThrow(/config\.budgets\[1\]/);
    expect(() => validateConfig({ ...config, policies: [{ name: "h2o" }, { name: "h2o" }] })).toThrow(/config\.policies\[1\]\.label/);
    expect(() => validateConfig({ ...config, longbench: { tasks: ["nope"], contextSamples: 1, answerSamples: 0 } })).toThrow(/config\.longbench\.tasks\[0\]/);
    expect(() => validateConfig({ ...config, backend: "tpu" as "gpu" })).toThrow(/config\.backend/);
  });
  it("parses --shard", () => {
    expect(parseShard("1/4")).toEqual({ index: 1, count: 4 });
    expect(() => parseShard("4/4")).toThrow(/--shard/);
    expect(() => parseShard("x")).toThrow(/--shard/);
  });
});

describe("sweep", () => {
  it("builds items in a fixed order and runs full once", () => {
    const { config, sources } = fixtures();
    const items = buildItems(config, tok, sources);
    const ds = items.map((i) => i.dataset);
    // 852 characters + BOS -> 8 full windows, 3 kept; contexts: rows a and c are long enough; 1 answer; 2 depths x 2 samples.
    expect(ds.filter((d) => d === "wikitext2").length).toBe(3);
    expect(items.filter((i) => i.dataset === "longbench-context").map((i) => i.id)).toEqual(["multi_news/a", "multi_news/c"]);
    expect(ds.filter((d) => d === "longbench-answer").length).toBe(1);
    expect(ds.filter((d) => d === "needle").length).toBe(4);
    const units = expandUnits(config, items);
    // per item: full x1 + 3 policies x 2 budgets = 7
    expect(units.length).toBe(items.length * 7);
    expect(new Set(units.map((u) => u.key)).size).toBe(units.length);
    expect(units.filter((u) => u.policy.name === "full").every((u) => u.budget === 1)).toBe(true);
    // Shards partition the units.
    const parts = [0, 1, 2].map((i) => shardUnits(units, { index: i, count: 3 }));
    expect(parts.flat().map((u) => u.key).sort()).toEqual(units.map((u) => u.key).sort());
  });

  it("runs, resumes without redoing units, and reports", async () => {
    const { dir, config, sources } = fixtures();
    const out = join(dir, "run");
    const units = expandUnits(config, buildItems(config, tok, sources));
    const be = fakeBackend();
    const first = await runSweep({ config, backend: be, units, outDir: out, limit: 5, progressStream: quiet() });
    expect(first.done).toBe(5);
    // An interrupted append leaves half a line: it is dropped and recomputed.
    appendFileSync(join(out, "results.jsonl"), '{"v":1,"key":"trunc');
    const second = await runSweep({ config, backend: be, units, outDir: out, progressStream: quiet() });
    expect(second.skipped).toBe(5);
    expect(second.done).toBe(units.length - 5);
    expect(be.calls.length).toBe(units.length);
    const recs = readResults(join(out, "results.jsonl"));
    expect(recs.length).toBe(units.length);
    // Needle scoring: streaming misses every answer, the others find it.
    const needles = recs.filter((r) => r.dataset === "needle");
    expect(needles.filter((r) => r.policy === "streaming").every((r) => !r.needle!.correct)).toBe(true);
    expect(needles.filter((r) => r.policy !== "streaming").every((r) => r.needle!.correct)).toBe(true);
    // Filled token counts follow the budget: T - 1 - floor(b T).
    const w = recs.find((r) => r.dataset === "wikitext2" && r.policy === "h2o" && r.budget === 0.25)!;
    expect(w.filledTokens).toBe(99 - 25);
    expect(w.filled["0.5000"].tokens).toBe(99 - 50);
    const md = writeReport(out, { records: recs, comparisons: [["h2o", "streaming"]] });
    expect(md).toContain("## WikiText-2 perplexity");
    expect(md).toContain("## Needle tests");
    expect(md).toContain("### Paired comparisons");
    expect(existsSync(join(out, "plots", "needle-passkey-L200-b0.25-heatmap.png"))).toBe(true);
    expect(existsSync(join(out, "plots", "wikitext2-ppl.svg"))).toBe(true);
  });

  it("shards merge into the same records as one run", async () => {
    const { dir, config, sources } = fixtures();
    const units = expandUnits(config, buildItems(config, tok, sources));
    const one = join(dir, "one");
    const many = join(dir, "many");
    await runSweep({ config, backend: fakeBackend(), units, outDir: one, progressStream: quiet(), concurrency: 3 });
    for (const i of [2, 0, 1]) await runSweep({ config, backend: fakeBackend(), units, outDir: many, shard: { index: i, count: 3 }, progressStream: quiet() });
    expect(readFileSync(join(many, "results.shard-0-of-3.jsonl"), "utf8").length).toBeGreaterThan(0);
    const strip = (rs: ReturnType<typeof mergeResults>["records"]) => rs.map(({ ms: _ms, ...r }) => r);
    const a = mergeResults(one);
    const b = mergeResults(many);
    expect(b.files.length).toBe(3);
    expect(b.duplicates).toBe(0);
    expect(strip(b.records)).toEqual(strip(a.records));
  });
});

describe("batched sweeps (gpu backend over a fake engine)", () => {
  const V2 = 200;
  function gpuFixtures() {
    const f = fixtures();
    const config: EvalConfig = {
      ...f.config,
      backend: "gpu",
      policies: [{ name: "full" }, { name: "streaming", options: { window: 8 } }, { name: "h2o", options: { window: 8 } }, { name: "pagerank-walker", label: "walker", options: { window: 8 } }],
      longbench: { tasks: ["multi_news"], contextSamples: 5, answerSamples: 1, generateSamples: 3, maxNewTokens: 8 },
      batch: 2,
    };
    return { ...f, config };
  }
  const backend = (log = newEngineLog()) =>
    gpuBackend({ model: "fake", vocabSize: V2, maxPositions: 512, eosId: FAKE_EOS, tokenizer: tok, createEngine: async (spec) => fakeGpuEngine(spec, V2, log) });
  const strip = (rs: ReturnType<typeof mergeResults>["records"]) => rs.map(({ ms: _ms, batch: _b, ...r }) => r);

  it("plans near-equal batches per policy, budget and length", () => {
    const { config, sources } = gpuFixtures();
    const units = expandUnits(config, buildItems(config, tok, sources));
    const batches = planBatches(units, 2);
    expect(batches.flat().map((u) => u.key).sort()).toEqual(units.map((u) => u.key).sort());
    for (const b of batches) {
      expect(b.length).toBeLessThanOrEqual(2);
      expect(new Set(b.map((u) => `${u.policy.name}|${u.budget}|${u.item.tokens.length}`)).size).toBe(1);
    }
    // Round-robin over groups: the first batches are one of each (policy, budget, length) group.
    const groupOf = (b: (typeof batches)[number]) => `${b[0].policy.name}|${b[0].budget}|${b[0].item.tokens.length}`;
    const groups = new Set(batches.map(groupOf)).size;
    expect(new Set(batches.slice(0, groups).map(groupOf)).size).toBe(groups);
    // Within a group, units are dealt: batch j holds units j, j + k, ...
    const w = planBatches(units.filter((u) => u.item.dataset === "wikitext2" && u.policy.name === "full"), 2);
    expect(w.map((b) => b.map((u) => u.item.id))).toEqual([
      ["wikitext2-test#0", "wikitext2-test#2"],
      ["wikitext2-test#1"],
    ]);
    const sizes = (n: number, m: number) => planBatches(Array.from({ length: n }, () => units[0]), m).map((b) => b.length);
    expect(sizes(10, 4)).toEqual([4, 3, 3]);
    expect(sizes(93, 47)).toEqual([47, 46]);
    expect(sizes(3, 50)).toEqual([3]);
    expect(planSteps(planBatches(units.filter((u) => u.item.dataset === "wikitext2"), 2))).toMatchObject({ decodeSteps: expect.any(Number) });
  });

  it("batched, unbatched and sharded runs give the same records; generation and needles are scored", async () => {
    const { dir, config, sources } = gpuFixtures();
    const units = expandUnits(config, buildItems(config, tok, sources));
    const one = join(dir, "batched");
    const log = newEngineLog();
    const be = backend(log);
    const r = await runSweep({ config, backend: be, units, outDir: one, progressStream: quiet(), concurrency: 2 });
    expect(r.done).toBe(units.length);
    expect(r.batches).toBe(planBatches(units, 2).length);
    expect(log.maxBatch).toBe(2);
    const single = join(dir, "single");
    const { runMany: _omit, ...plain } = backend();
    await runSweep({ config, backend: plain, units, outDir: single, progressStream: quiet() });
    const many = join(dir, "sharded");
    for (const i of [1, 0, 2]) await runSweep({ config, backend: backend(), units, outDir: many, shard: { index: i, count: 3 }, progressStream: quiet() });
    const a = mergeResults(one);
    expect(strip(mergeResults(single).records)).toEqual(strip(a.records));
    expect(strip(mergeResults(many).records)).toEqual(strip(a.records));
    const gens = a.records.filter((x) => x.dataset === "longbench-gen");
    expect(gens.length).toBe(3 * 7);
    for (const g of gens) {
      expect(g.generation!.metric).toBe("rouge_l");
      expect(g.generation!.newTokens).toBeLessThanOrEqual(8);
      expect(g.generation!.score).toBeGreaterThanOrEqual(0);
      expect(g.tokens).toBe(0);
    }
    const nd = a.records.filter((x) => x.dataset === "needle");
    expect(nd.every((x) => x.scored === "answer" && x.tokens === x.needle!.hits.length)).toBe(true);
    expect(a.records.filter((x) => x.dataset === "wikitext2").every((x) => x.scored === undefined && x.tokens === 99)).toBe(true);
    expect(a.records.every((x) => x.batch !== undefined)).toBe(true);
    const md = writeReport(one, { records: a.records, comparisons: [["h2o", "walker"]] });
    expect(md).toContain("## LongBench: generated answers");
    expect(md).toContain("## Needle tests");
  });

  it("resumes by rerunning a batch whole and appending only its missing units", async () => {
    const { dir, config, sources } = gpuFixtures();
    const units = expandUnits(config, buildItems(config, tok, sources)).filter((u) => u.item.dataset === "wikitext2");
    const out = join(dir, "resume");
    // --limit 1 cuts the first batch (2 windows) to its first window.
    const first = await runSweep({ config, backend: backend(), units, outDir: out, limit: 1, progressStream: quiet() });
    expect(first.done).toBe(1);
    const log = newEngineLog();
    const second = await runSweep({ config, backend: backend(log), units, outDir: out, progressStream: quiet() });
    expect(second.skipped).toBe(1);
    expect(second.done).toBe(units.length - 1);
    const recs = readResults(join(out, "results.jsonl"));
    expect(recs.length).toBe(units.length);
    expect(new Set(recs.map((x) => x.key)).size).toBe(units.length);
    // The cut batch (1 of 2 windows done) ran again whole: every batch of the plan ran once in the second run.
    expect(log.prefills).toBe(planBatches(units, 2).length);
    const again = join(dir, "fresh");
    await runSweep({ config, backend: backend(), units, outDir: again, progressStream: quiet() });
    expect(strip(mergeResults(out).records)).toEqual(strip(mergeResults(again).records));
  });

  it("refuses generation on a backend that cannot generate, naming the option", async () => {
    const { dir, config, sources } = gpuFixtures();
    expect(() => validateConfig({ ...config, backend: "cpu-sim" })).toThrow(/config\.longbench\.generateSamples/);
    const units = expandUnits(config, buildItems(config, tok, sources));
    await expect(runSweep({ config, backend: fakeBackend(), units, outDir: join(dir, "x"), progressStream: quiet() })).rejects.toMatchObject({
      code: "KVWALK_BACKEND_UNAVAILABLE",
      message: expect.stringMatching(/config\.longbench\.generateSamples/),
    });
  });
});
