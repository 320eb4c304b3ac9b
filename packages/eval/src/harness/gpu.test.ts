import { readFileSync } from "node:fs";
import { seededRandom } from "@kvwalk/core/testing";
import { engineStatus, tokenLogProb } from "@kvwalk/runtime/engine";
import { describe, expect, it } from "vitest";
import { charTokenizer, FAKE_EOS, type FakeEngineLog, fakeGpuEngine } from "../test-helpers.js";
import type { WindowRequest, WindowResult } from "./backend.js";
import { type EvalConfig, numericOptions, type PolicySpec, validateConfig } from "./config.js";
import { batchCheck } from "./batch-check.js";
import { batchEngineSpec, engineOptions, type GpuEngineSpec, gpuBackend, gpuEviction, openGpuBackend, runLockstep } from "./gpu.js";

const V = 40;
const newLog = (): FakeEngineLog => ({ created: 0, disposed: 0, prefills: 0, decodes: 0, logitSteps: 0, maxBatch: 0 });

/** The gpu backend over fake engines; `specs` records what each engine was created with. */
function fakeBackend(log = newLog()) {
  const specs: GpuEngineSpec[] = [];
  const be = gpuBackend({
    model: "fake",
    vocabSize: V,
    maxPositions: 256,
    eosId: FAKE_EOS,
    tokenizer: charTokenizer(),
    createEngine: async (spec: GpuEngineSpec) => {
      specs.push(spec);
      return fakeGpuEngine(spec, V, log);
    },
  });
  return { be, log, specs };
}

function windows(n: number, T: number, seed: number): Int32Array[] {
  const rand = seededRandom(seed);
  return Array.from({ length: n }, () => {
    const t = Int32Array.from({ length: T }, () => 3 + Math.floor(rand() * (V - 3)));
    t[0] = 1;
    return t;
  });
}

/** The obvious single-sequence driver: prefill BOS, one decode step per later token, logits every step. */
async function reference(req: WindowRequest): Promise<WindowResult> {
  const spec = batchEngineSpec(req, 1, 256);
  const e = fakeGpuEngine(spec, V, newLog());
  const T = req.tokens.length;
  const rows: Float32Array[] = [];
  const p = await e.native.prefill(Int32Array.of(0), req.tokens.subarray(0, 1), Int32Array.of(0, 1), false);
  rows.push(p.last);
  let next = 0;
  const last = req.generate ? T - 1 : T - 2;
  for (let t = 1; t <= last; t++) {
    const d = await e.native.decode(req.tokens.subarray(t, t + 1), Float32Array.of(0), Float32Array.of(1), 0, true);
    rows.push(d.logits!);
    next = d.next[0];
  }
  const nll = new Float32Array(T - 1).fill(Number.NaN);
  for (let t = 0; t < T - 1; t++) if (!req.nllPositions || req.nllPositions.includes(t)) nll[t] = -tokenLogProb(rows[t], req.tokens[t + 1]);
  const res: WindowResult = { nll };
  if (req.logitPositions) {
    res.logits = new Float32Array(req.logitPositions.length * V);
    req.logitPositions.forEach((q, i) => {
      res.logits!.set(rows[q], i * V);
    });
  }
  if (req.generate) {
    const ids: number[] = [];
    let stopped = false;
    for (;;) {
      if (next === FAKE_EOS) {
        stopped = true;
        break;
      }
      ids.push(next);
      if (ids.length >= req.generate.maxNewTokens) break;
      next = (await e.native.decode(Int32Array.of(next), Float32Array.of(0), Float32Array.of(1), 0, false)).next[0];
    }
    res.generated = { ids: Int32Array.from(ids), stopped };
  }
  return res;
}

const POLICIES: [PolicySpec, number][] = [
  [{ name: "full" }, 1],
  [{ name: "streaming", options: { window: 6 } }, 0.3],
  [{ name: "h2o", options: { window: 6, sinks: 2 } }, 0.3],
  [{ name: "tova", options: { window: 6 } }, 0.4],
  [{ name: "pagerank-walker", options: { window: 6 } }, 0.3],
];

describe("gpu backend", () => {
  it("maps study policies and options to engine eviction (budget - 1 slots kept before each append)", () => {
    expect(gpuEviction("full", 100)).toBeUndefined();
    expect(gpuEviction("pagerank-walker", 819, { window: 64, refreshEvery: 16, decay: 0.9 })).toMatchObject({
      policy: "walker",
      budget: 818,
      recent: 64,
      refresh: 16,
      scoreDecay: 0.9,
      sinks: 4,
    });
    expect(gpuEviction("streaming", 819, { compactionSlack: 64 })).toMatchObject({ policy: "streaming", budget: 755 });
    expect(gpuEviction("pagerank-top4", 128, { refreshEvery: 8 })).toMatchObject({ policy: "pagerank-top4", budget: 127, refresh: 8, startWindow: 64 });
    expect(() => gpuEviction("h2o", 819, { compactionSlack: 0 })).toThrow(/Expected an integer in \[1, 818\] .* for policy.options.compactionSlack but received 0/);
    expect(() => gpuEviction("h2o", 100, { compactionSlack: 2.5 })).toThrow(/policy.options.compactionSlack but received 2.5/);
    expect(() => gpuEviction("pagerank-dense", 10)).toThrow(/Expected one that the GPU engine implements .* for policy but received "pagerank-dense"/);
  });
  it("sizes a batch's engine: full holds the window (plus generation), the others floor(budget x T) slots", () => {
    const tokens = new Int32Array(100);
    expect(batchEngineSpec({ tokens, policy: { name: "full" }, budget: 1 }, 8, 4096)).toEqual({ capacity: 100, maxBatch: 8, eviction: undefined });
    expect(batchEngineSpec({ tokens, policy: { name: "full" }, budget: 1, generate: { maxNewTokens: 30, stopIds: [] } }, 2, 4096).capacity).toBe(130);
    const s = batchEngineSpec({ tokens, policy: { name: "h2o" }, budget: 0.25 }, 4, 4096);
    expect(s.capacity).toBe(25);
    expect(s.eviction).toMatchObject({ policy: "h2o", budget: 24 });
    expect(() => batchEngineSpec({ tokens, policy: { name: "full" }, budget: 1, generate: { maxNewTokens: 30, stopIds: [] } }, 1, 120)).toThrow(/at most 120 positions/);
  });
  it.skipIf(engineStatus().backend === "cuda")("fails at once without a CUDA device, saying why", async () => {
    await expect(openGpuBackend("/nonexistent")).rejects.toMatchObject({ code: "KVWALK_BACKEND_UNAVAILABLE" });
  });
});

describe("gpu backend batches (fake engine)", () => {
  it("a batch in lockstep gives each window exactly what it gets alone, and what the obvious driver gets", async () => {
    for (const [policy, budget] of POLICIES) {
      const toks = windows(5, 48, 7);
      const reqs = toks.map((tokens) => ({ tokens, policy, budget }));
      const { be, log } = fakeBackend();
      const batch = await be.runMany!(reqs);
      expect(log.maxBatch).toBe(5);
      for (let b = 0; b < reqs.length; b++) {
        const alone = await be.run(reqs[b]);
        const ref = await reference(reqs[b]);
        expect(Array.from(batch[b].nll), `${policy.name} window ${b} batch vs alone`).toEqual(Array.from(alone.nll));
        expect(Array.from(batch[b].nll), `${policy.name} window ${b} vs reference`).toEqual(Array.from(ref.nll));
        expect(batch[b].nll.every(Number.isFinite)).toBe(true);
      }
      // The windows differ, so the rows really are per sequence.
      expect(Array.from(batch[0].nll)).not.toEqual(Array.from(batch[1].nll));
      await be.dispose();
      expect(log.disposed).toBe(log.created);
    }
  });

  it("gives h2o and walker batches a fresh engine (scores survive prefill) and reuses full/streaming/tova engines", async () => {
    const toks = windows(4, 40, 3);
    for (const [policy, budget] of POLICIES) {
      const reqs = toks.map((tokens) => ({ tokens, policy, budget }));
      const { be, log } = fakeBackend();
      const a = await be.runMany!(reqs.slice(0, 2));
      await be.runMany!(reqs.slice(2));
      const again = await be.runMany!(reqs.slice(0, 2));
      expect(again.map((r) => Array.from(r.nll))).toEqual(a.map((r) => Array.from(r.nll)));
      expect(log.created).toBe(policy.name === "h2o" || policy.name === "pagerank-walker" ? 3 : 1);
      await be.dispose();
    }
    // Why: on one engine, a second h2o prompt in the same region sees the first one's scores.
    const spec = batchEngineSpec({ tokens: toks[0], policy: POLICIES[2][0], budget: 0.3 }, 1, 256);
    const e = fakeGpuEngine(spec, V, newLog());
    const req = (tokens: Int32Array) => ({ tokens, policy: POLICIES[2][0], budget: 0.3 });
    const fresh = await runLockstep(fakeGpuEngine(spec, V, newLog()).native, [req(toks[1])], V);
    await runLockstep(e.native, [req(toks[0])], V);
    const reused = await runLockstep(e.native, [req(toks[1])], V);
    expect(Array.from(reused[0].nll)).not.toEqual(Array.from(fresh[0].nll));
  });

  it("copies logits only at the steps asked for and leaves the other NLL entries NaN", async () => {
    const toks = windows(3, 40, 11);
    const policy = { name: "h2o", options: { window: 6 } };
    const full = await fakeBackend().be.runMany!(toks.map((tokens) => ({ tokens, policy, budget: 0.3, logitPositions: [20, 30, 31] })));
    const { be, log } = fakeBackend();
    const reqs = toks.map((tokens, b) => ({ tokens, policy, budget: 0.3, logitPositions: [20 + b, 30], nllPositions: [20 + b, 30] }));
    const sparse = await be.runMany!(reqs);
    // Steps 20, 21, 22 and 30 need logits for some sequence; position 0 comes from the prefill.
    expect(log.logitSteps).toBe(4);
    sparse.forEach((r, b) => {
      const finite = [...r.nll.keys()].filter((i) => !Number.isNaN(r.nll[i]));
      expect(finite).toEqual([20 + b, 30]);
      expect(r.nll[20 + b]).toBe(full[b].nll[20 + b]);
      expect(r.nll[30]).toBe(full[b].nll[30]);
      expect(Array.from(r.logits!.subarray(V, 2 * V))).toEqual(Array.from(full[b].logits!.subarray(V, 2 * V)));
    });
    expect(Array.from(sparse[0].logits!.subarray(0, V))).toEqual(Array.from(full[0].logits!.subarray(0, V)));
  });

  it("generates greedily in lockstep: each sequence stops at EOS on its own, as alone", async () => {
    const toks = windows(6, 30, 5);
    const outcomes = new Set<boolean>();
    for (const [policy, budget] of POLICIES) {
      const reqs = toks.map((tokens) => ({ tokens, policy, budget, nllPositions: [], generate: { maxNewTokens: 6, stopIds: [FAKE_EOS] } }));
      const { be, log } = fakeBackend();
      const batch = await be.runMany!(reqs);
      const lens = batch.map((r) => r.generated!.ids.length);
      for (let b = 0; b < reqs.length; b++) {
        const ref = await reference(reqs[b]);
        expect(Array.from(batch[b].generated!.ids), `${policy.name} sequence ${b}`).toEqual(Array.from(ref.generated!.ids));
        expect(batch[b].generated!.stopped).toBe(ref.generated!.stopped);
        expect(batch[b].generated!.ids.includes(FAKE_EOS)).toBe(false);
        expect(batch[b].nll.every(Number.isNaN)).toBe(true);
      }
      for (const r of batch) outcomes.add(r.generated!.stopped);
      // Steps: 29 teacher-forced (the last prompt token included; its argmax is the first answer token), then
      // until the last sequence is done: one per further token, and one more to see a stop token.
      expect(log.decodes).toBe(29 + Math.max(...batch.map((r, b) => (r.generated!.stopped ? lens[b] : lens[b] - 1))));
      expect(log.logitSteps).toBe(0);
    }
    // Some stopped at EOS, some ran to the cap (the fake emits EOS after tokens = 3 mod 7).
    expect([...outcomes].sort()).toEqual([false, true]);
  });

  it("refuses a mixed batch, and frees the engine when a step fails", async () => {
    const toks = windows(2, 20, 1);
    const { be, log } = fakeBackend();
    await expect(
      be.runMany!([
        { tokens: toks[0], policy: { name: "h2o" }, budget: 0.3 },
        { tokens: toks[1], policy: { name: "h2o" }, budget: 0.4 },
      ]),
    ).rejects.toThrow(/reqs\[1\]/);
    await expect(be.runMany!([{ tokens: toks[0].subarray(0, 10), policy: { name: "h2o" }, budget: 0.3 }, { tokens: toks[1], policy: { name: "h2o" }, budget: 0.3 }])).rejects.toThrow(
      /reqs\[1\]/,
    );
    const bad = toks[0].slice();
    bad[12] = V + 5;
    await expect(be.runMany!([{ tokens: bad, policy: { name: "tova" }, budget: 0.5 }])).rejects.toThrow(/outside the vocabulary/);
    expect(log.disposed).toBe(log.created);
    // The next batch gets a fresh engine and works.
    const ok = await be.run({ tokens: toks[0], policy: { name: "tova" }, budget: 0.5 });
    expect(ok.nll.every(Number.isFinite)).toBe(true);
  });
});

describe("batch-check (fake engine)", () => {
  it("compares the last positions of a batch with windows alone and reports rows as they come", async () => {
    const { be } = fakeBackend();
    const seen: string[] = [];
    const rows = await batchCheck({
      backend: be,
      windows: windows(4, 40, 9),
      policies: [{ name: "h2o", options: { window: 6 } }, { name: "full" }],
      budget: 0.3,
      alone: 2,
      scored: 10,
      onRow: (r) => seen.push(r.policy),
    });
    expect(seen).toEqual(["h2o", "full"]);
    for (const r of rows) {
      expect(r).toMatchObject({ batch: 4, alone: 2, scored: 10, identical: 2, maxAbsDiff: 0, length: 40 });
      expect(r.pplBatch).toBe(r.pplAlone);
      expect(r.msPerStepBatch).toBeGreaterThan(0);
    }
    expect(rows[1].budget).toBe(1);
  });
});

describe("graphHeads: the walker's attention graphs per KV head or per query head", () => {
  const tokens = new Int32Array(100);
  const walker = (graphHeads?: unknown): PolicySpec => ({ name: "pagerank-walker", options: graphHeads === undefined ? { window: 6 } : { window: 6, graphHeads: graphHeads as "kv" } });

  it("goes from the policy's options to the engine spec and createEngine's options; absent, the engine's default applies", () => {
    for (const g of ["kv", "query"] as const) {
      const spec = batchEngineSpec({ tokens, policy: walker(g), budget: 0.2 }, 4, 4096);
      expect(spec).toMatchObject({ capacity: 20, maxBatch: 4, graphHeads: g, eviction: { policy: "walker", budget: 19, recent: 6 } });
      expect(spec.eviction).not.toHaveProperty("graphHeads");
      expect(engineOptions("/m", spec)).toMatchObject({ model: "/m", capacity: 20, maxBatch: 4, graphHeads: g, eviction: spec.eviction, gemvRows: 0 });
    }
    const plain = batchEngineSpec({ tokens, policy: walker(), budget: 0.2 }, 4, 4096);
    expect(plain).not.toHaveProperty("graphHeads");
    expect(engineOptions("/m", plain)).not.toHaveProperty("graphHeads");
    // the other numeric options still reach the eviction options
    expect(gpuEviction("pagerank-walker", 50, { graphHeads: "query", walkers: 256, decay: 0.25 })).toMatchObject({ walkers: 256, scoreDecay: 0.25 });
  });

  it("names policy.options.graphHeads when the value is bad or the policy has no graphs", () => {
    expect(() => batchEngineSpec({ tokens, policy: walker("value"), budget: 0.2 }, 1, 4096)).toThrow(
      /Expected one of "kv", "query" for policy\.options\.graphHeads but received "value"/,
    );
    expect(() => batchEngineSpec({ tokens, policy: walker(2), budget: 0.2 }, 1, 4096)).toThrow(/policy\.options\.graphHeads but received 2/);
    for (const name of ["h2o", "streaming", "full"]) {
      expect(() => batchEngineSpec({ tokens, policy: { name, options: { graphHeads: "kv" } }, budget: name === "full" ? 1 : 0.2 }, 1, 4096)).toThrow(
        new RegExp(`no graphHeads on policy "${name}" .* for policy\\.options\\.graphHeads but received "kv"`),
      );
    }
    expect(() => gpuEviction("pagerank-walker", 50, { walkers: "many" as unknown as number })).toThrow(/policy\.options\.walkers but received "many"/);
  });

  it("gives walker batches with different graphHeads their own engines, created with that option (fake engine)", async () => {
    const { be, log, specs } = fakeBackend();
    const toks = windows(3, 40, 13);
    const run = (policy: PolicySpec) => be.runMany!(toks.map((t) => ({ tokens: t, policy, budget: 0.3 })));
    const q = await run({ ...walker("query"), label: "walker-query-heads" });
    const k = await run({ ...walker("kv"), label: "walker-kv-heads" });
    const d = await run(walker());
    await run({ name: "h2o", options: { window: 6 } });
    expect(specs.map((s) => s.graphHeads)).toEqual(["query", "kv", undefined, undefined]);
    expect(specs.map((s) => s.eviction?.policy)).toEqual(["walker", "walker", "walker", "h2o"]);
    // the fake engine ignores graphHeads: the same numbers, so nothing else about the runs differs
    expect(q.map((r) => Array.from(r.nll))).toEqual(k.map((r) => Array.from(r.nll)));
    expect(d.map((r) => Array.from(r.nll))).toEqual(k.map((r) => Array.from(r.nll)));
    await be.dispose();
    expect(log.disposed).toBe(log.created);
  });

  it("is checked by validateConfig: a known value, pagerank-walker only, and \"query\" on the gpu backend only", () => {
    const cfg = (backend: "gpu" | "cpu-sim", policies: PolicySpec[]): EvalConfig => ({ model: "m", backend, policies, budgets: [0.2], windowTokens: 64 });
    expect(validateConfig(cfg("gpu", [walker("query"), { ...walker("kv"), label: "w2" }])).policies).toHaveLength(2);
    expect(validateConfig(cfg("cpu-sim", [walker("kv")])).policies).toHaveLength(1);
    expect(() => validateConfig(cfg("cpu-sim", [walker("query")]))).toThrow(/"kv" or none with backend "cpu-sim" .* for config\.policies\[0\]\.options\.graphHeads but received "query"/);
    expect(() => validateConfig(cfg("gpu", [{ name: "h2o" }, walker("both")]))).toThrow(/for config\.policies\[1\]\.options\.graphHeads but received "both"/);
    expect(() => validateConfig(cfg("gpu", [{ name: "h2o", options: { graphHeads: "query" } }]))).toThrow(/no graphHeads on policy "h2o"/);
    expect(() => validateConfig(cfg("gpu", [{ name: "h2o", options: { window: "50" as unknown as number } }]))).toThrow(/config\.policies\[0\]\.options\.window but received "50"/);
    // the CPU simulation's policies get the numeric options only
    expect(numericOptions({ window: 6, graphHeads: "kv", walkers: 128 })).toEqual({ window: 6, walkers: 128 });
  });

  it("configs/gpu-gqa-graph-heads*.json: the pooled checkpoints, walker per query head vs per KV head, compared", () => {
    for (const [file, model] of [
      ["gpu-gqa-graph-heads.json", "models/fixture-lm-gqa3"],
      ["gpu-gqa-graph-heads-kv2.json", "models/fixture-lm-gqa2"],
    ]) {
      const c = validateConfig(JSON.parse(readFileSync(new URL(`../../configs/${file}`, import.meta.url), "utf8")) as EvalConfig);
      expect(c).toMatchObject({ model, backend: "gpu", budgets: [0.1, 0.2], windowTokens: 4096, wikitext2: { split: "test" }, compare: [["walker-kv-heads", "walker-query-heads"]] });
      expect(c.policies.map((p) => p.label ?? p.name)).toEqual(["full", "streaming", "h2o", "walker-query-heads", "walker-kv-heads"]);
      const graphs = c.policies.map((p) => batchEngineSpec({ tokens: new Int32Array(4096), policy: p, budget: p.name === "full" ? 1 : 0.1 }, 47, 4096).graphHeads);
      expect(graphs).toEqual([undefined, undefined, undefined, "query", "kv"]);
    }
  });
});
