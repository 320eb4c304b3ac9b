import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError } from "@kvwalk/core";
import { assertClose, seededRandom } from "@kvwalk/core/testing";
import { afterAll, describe, expect, it } from "vitest";
import { loadModel } from "./model.js";
import { perplexity } from "./perplexity.js";
import { referenceForward } from "./reference-forward.js";
import { type TinyCheckpointOptions, writeTinyCheckpoint, writeTinyTokenizer } from "./tiny-checkpoint.js";

/** The value, or a test failure naming what was missing. */
function must<T>(x: T | undefined): T {
  if (x === undefined) throw new Error("expected a value");
  return x;
}

/** Tolerances of the ONNX path against the float64 TypeScript reference on tiny random models. */
const TOL = {
  logits: { atol: 1e-4, rtol: 1e-4 },
  nll: { atol: 1e-4, rtol: 1e-5 },
  probs: { atol: 1e-5, rtol: 0 },
  qkv: { atol: 1e-5, rtol: 1e-5 },
};

const root = mkdtempSync(join(tmpdir(), "kvwalk-model-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function randomTokens(n: number, vocab: number, seed: number): Int32Array {
  const r = seededRandom(seed);
  const t = new Int32Array(n);
  t[0] = 1;
  for (let i = 1; i < n; i++) t[i] = 3 + Math.floor(r() * (vocab - 3));
  return t;
}

/** Random eviction times with evict[h*T+j] in (j, T + 2]. */
function randomEvict(kvHeads: number, T: number, seed: number): Int32Array {
  const r = seededRandom(seed);
  const e = new Int32Array(kvHeads * T);
  for (let h = 0; h < kvHeads; h++) for (let j = 0; j < T; j++) e[h * T + j] = j + 1 + Math.floor(r() * (T - j + 2));
  return e;
}

const CASES: [string, TinyCheckpointOptions][] = [
  ["MHA, untied, top-level rope_theta, F32, single file", { seed: 11, dtype: "F32" }],
  ["GQA 4/2, tied, rope_parameters, BF16, sharded", { seed: 12, numKvHeads: 2, tie: true, ropeForm: "rope_parameters", dtype: "BF16", sharded: true, ropeTheta: 500000 }],
  ["MQA 4/1, head_dim 16 != hidden/heads, F16, single file", { seed: 13, numKvHeads: 1, headDim: 16, dtype: "F16" }],
  ["Mistral GQA with sliding window 5, F32, sharded", { seed: 14, modelType: "mistral", numKvHeads: 2, slidingWindow: 5, sharded: true, numLayers: 3 }],
];

describe.each(CASES)("tiny checkpoint: %s", (name, opts) => {
  const dir = join(root, name.replace(/[^a-z0-9]+/gi, "-"));
  const { config, weights } = writeTinyCheckpoint(dir, opts);
  const T = 24;
  const tokens = randomTokens(T, config.vocabSize, opts.seed ?? 1);
  const ref = referenceForward(config, weights, tokens);

  it("forward matches the TypeScript reference (logits, NLL, attention of every layer)", async () => {
    const model = await loadModel(dir, { threads: 1 });
    try {
      expect(model.config).toEqual(config);
      const all = Array.from({ length: config.numLayers }, (_, l) => l);
      const r = await model.forward(tokens, { captureAttention: all });
      assertClose(r.logits, ref.logits, TOL.logits, "logits");
      assertClose(r.nll, ref.nll, TOL.nll, "nll");
      for (const l of all) assertClose(must(r.attention?.get(l)), ref.layers[l].probs, TOL.probs, `attention layer ${l}`);
      const some = await model.forward(tokens, { positions: [T - 1, 0] });
      const V = config.vocabSize;
      assertClose(some.logits.subarray(0, V), ref.logits.subarray((T - 1) * V, T * V), TOL.logits, "logits at T-1");
      assertClose(some.logits.subarray(V), ref.logits.subarray(0, V), TOL.logits, "logits at 0");
    } finally {
      await model.dispose();
    }
  });

  it("stepper with random eviction vectors matches the reference with the same visibility", async () => {
    const model = await loadModel(dir, { threads: 1 });
    try {
      const evicts = Array.from({ length: config.numLayers }, (_, l) => randomEvict(config.numKvHeads, T, 100 + l));
      const refEv = referenceForward(config, weights, tokens, { evict: (l) => evicts[l] });
      const st = await model.stepper(tokens);
      expect(st.length).toBe(T);
      const { numHeads: Hq, numKvHeads: Hkv, headDim: d } = config;
      for (let l = 0; l < config.numLayers; l++) {
        expect(st.layer).toBe(l);
        const { q, k, v } = await st.qkv();
        assertClose(q, refEv.layers[l].q, TOL.qkv, `q layer ${l}`);
        assertClose(k, refEv.layers[l].k, TOL.qkv, `k layer ${l}`);
        assertClose(v, refEv.layers[l].v, TOL.qkv, `v layer ${l}`);
        const head = l % Hq;
        const lg = await st.logits(head);
        const kh = Math.floor(head / (Hq / Hkv));
        const expected = new Float32Array(T * T);
        for (let t = 0; t < T; t++)
          for (let j = 0; j < T; j++) {
            let s = 0;
            for (let i = 0; i < d; i++) s += refEv.layers[l].q[(head * T + t) * d + i] * refEv.layers[l].k[(kh * T + j) * d + i];
            expected[t * T + j] = j > t ? -Infinity : s / Math.sqrt(d);
          }
        assertClose(lg, expected, { atol: 1e-5, rtol: 1e-5 }, `logits(${head}) layer ${l}`);
        const { probs } = await st.attend(evicts[l], { captureHeads: [head, Hq - 1] });
        assertClose(must(probs?.get(head)), refEv.layers[l].probs.subarray(head * T * T, (head + 1) * T * T), TOL.probs, `probs head ${head}`);
        assertClose(must(probs?.get(Hq - 1)), refEv.layers[l].probs.subarray((Hq - 1) * T * T), TOL.probs, `probs head ${Hq - 1}`);
      }
      expect(st.layer).toBe(config.numLayers);
      const { nll, logits } = await st.finish({ positions: [3] });
      assertClose(nll, refEv.nll, TOL.nll, "nll with eviction");
      assertClose(logits!, refEv.logits.subarray(3 * config.vocabSize, 4 * config.vocabSize), TOL.logits, "logits with eviction");
    } finally {
      await model.dispose();
    }
  });
});

describe("stepper", () => {
  const dir = join(root, "stepper");
  const { config } = writeTinyCheckpoint(dir, { seed: 21, numKvHeads: 2 });
  const T = 20;
  const tokens = randomTokens(T, config.vocabSize, 5);
  writeTinyCheckpoint(join(root, "scores-64"), { seed: 22, numKvHeads: 2, hiddenSize: 256 });
  writeTinyCheckpoint(join(root, "scores-8"), { seed: 21, numKvHeads: 2 });

  it("with every eviction time = T reproduces forward exactly, and omitted evict is the full cache", async () => {
    const model = await loadModel(dir, { threads: 1 });
    try {
      const f = await model.forward(tokens, { captureAttention: [1] });
      const full = new Int32Array(config.numKvHeads * T).fill(T);
      for (const ev of [full, undefined]) {
        const st = await model.stepper(tokens);
        await st.attend(ev);
        const { probs } = await st.attend(ev, { captureHeads: [0, 3] });
        const { nll, logits } = await st.finish({ positions: Array.from({ length: T }, (_, i) => i) });
        expect([...nll]).toEqual([...f.nll]);
        expect([...logits!]).toEqual([...f.logits]);
        expect([...must(probs?.get(3))]).toEqual([...must(f.attention?.get(1)).subarray(3 * T * T)]);
      }
    } finally {
      await model.dispose();
    }
  });

  it("agrees with the reference under eviction on both attention graphs (dense for T < 8, blocked above)", async () => {
    const model = await loadModel(dir, { threads: 1 });
    try {
      const weights = writeTinyCheckpoint(join(root, "stepper-copy"), { seed: 21, numKvHeads: 2 }).weights;
      for (const n of [6, 8, 13]) {
        const toks = tokens.subarray(0, n);
        const evicts = [randomEvict(config.numKvHeads, n, 7 * n), randomEvict(config.numKvHeads, n, 7 * n + 1)];
        const ref = referenceForward(config, weights, toks, { evict: (l) => evicts[l] });
        const st = await model.stepper(toks);
        for (let l = 0; l < config.numLayers; l++) {
          const { probs } = await st.attend(evicts[l], { captureHeads: [1] });
          assertClose(must(probs?.get(1)), ref.layers[l].probs.subarray(n * n, 2 * n * n), TOL.probs, `T=${n} layer ${l} probs`);
        }
        assertClose((await st.finish()).nll, ref.nll, TOL.nll, `T=${n} nll`);
      }
    } finally {
      await model.dispose();
    }
  });

  // scores() runs the blocked attention's own score MatMuls, so attend() reusing them is bit-identical
  // by construction. Against the dense logits() graph the values can differ in the last bit on tiny
  // shapes (a different MLAS kernel for a few rows); on the fixture model they are bit-identical at
  // every length (checked in @kvwalk/oracle's fixture test).
  it.each([
    ["head_dim 64", 64],
    ["head_dim 8", 8],
  ] as const)("scores() matches logits() on j <= t (%s), and attend() reusing them is bit-identical", async (_n, d) => {
    const sub = join(root, `scores-${d}`);
    const model = await loadModel(sub, { threads: 1 });
    try {
      for (const n of [6, 8, 20]) {
        const toks = tokens.subarray(0, n);
        const evicts = [randomEvict(config.numKvHeads, n, 3 * n), randomEvict(config.numKvHeads, n, 3 * n + 1)];
        const plain = await model.stepper(toks);
        const fast = await model.stepper(toks);
        for (let l = 0; l < config.numLayers; l++) {
          for (let h = 0; h < config.numHeads; h++) {
            const lg = await plain.logits(h);
            const { bounds, blocks } = await must(fast.scores).call(fast, h);
            expect(bounds[0]).toBe(0);
            expect(bounds[bounds.length - 1]).toBe(n);
            for (let i = 0; i + 1 < bounds.length; i++) {
              const e = bounds[i + 1];
              expect(blocks[i].length).toBe((e - bounds[i]) * e);
              for (let t = bounds[i]; t < e; t++) {
                for (let j = 0; j <= t; j++) {
                  const a = blocks[i][(t - bounds[i]) * e + j];
                  const b = lg[t * n + j];
                  expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(b)));
                }
              }
            }
          }
          await plain.attend(evicts[l]);
          await fast.attend(evicts[l]);
        }
        expect([...(await fast.finish()).nll]).toEqual([...(await plain.finish()).nll]);
      }
      const st = await model.stepper(tokens);
      await expect(st.scores!(config.numHeads)).rejects.toThrow(/for head but received 4/);
    } finally {
      await model.dispose();
    }
  });

  it("rejects bad eviction vectors, heads, sequences and call order with the parameter named", async () => {
    const model = await loadModel(dir, { threads: 1 });
    try {
      await expect(model.forward(new Int32Array(config.maxPositions + 1))).rejects.toThrow(
        /Expected a sequence of 1 to 64 tokens \(max_position_embeddings\) for tokens but received "65 tokens"/,
      );
      await expect(model.forward(new Int32Array([1, 2, config.vocabSize]))).rejects.toThrow(/for tokens\[2\] but received 40/);
      await expect(model.forward(tokens, { positions: [T] })).rejects.toThrow(/positions\[0\]/);
      const st = await model.stepper(tokens);
      const bad = new Int32Array(config.numKvHeads * T).fill(T);
      bad[T + 7] = 7;
      await expect(st.attend(bad)).rejects.toThrow(InvalidArgumentError);
      await expect(st.attend(bad)).rejects.toThrow(/evict\[27\] \(kv head 1, key 7\).*received 7/);
      await expect(st.attend(new Int32Array(5))).rejects.toThrow(/length numKvHeads\*T = 2\*20 = 40/);
      await expect(st.logits(config.numHeads)).rejects.toThrow(/for head but received 4/);
      await expect(st.finish()).rejects.toThrow(/finish\(\): expected all 2 layers attended but the stepper is at layer 0/);
      await st.attend();
      await st.attend();
      await expect(st.attend()).rejects.toThrow(/attend\(\): all 2 layers were attended/);
      const one = await model.forward(new Int32Array([1]));
      expect(one.nll.length).toBe(0);
      expect(one.logits.length).toBe(config.vocabSize);
    } finally {
      await model.dispose();
    }
  });
});

describe("loadModel errors and tokenizer", () => {
  it("tokenizes with BOS from tokenizer_config and decodes back", async () => {
    const dir = join(root, "tok");
    writeTinyCheckpoint(dir, {});
    const model = await loadModel(dir, { threads: 1 });
    const ids = model.tokenizer.encode("hi there.");
    expect([...ids]).toEqual([1, 3 + 8, 3 + 9, 3, 3 + 20, 3 + 8, 3 + 5, 3 + 18, 3 + 5, 3 + 27]);
    expect([...model.tokenizer.encode("hi", { addBos: false })]).toEqual([11, 12]);
    expect(model.tokenizer.decode(ids.subarray(1))).toBe("hi there.");
    expect(model.tokenizer.bosId).toBe(1);
    await model.dispose();
  });

  it("names the file, field or tensor for each bad checkpoint", async () => {
    const dir = join(root, "bad");
    writeTinyCheckpoint(dir, { tie: true });
    const cfgPath = join(dir, "config.json");
    const good = JSON.parse(readFileSync(cfgPath, "utf8"));
    const withConfig = (patch: Record<string, unknown>) => writeFileSync(cfgPath, JSON.stringify({ ...good, ...patch }));

    withConfig({ model_type: "falcon" });
    await expect(loadModel(dir)).rejects.toThrow(/config\.json: field "model_type": expected one of "llama", "mistral" but received "falcon"/);
    withConfig({ tie_word_embeddings: false });
    await expect(loadModel(dir)).rejects.toThrow(/model\.safetensors: missing tensor "lm_head\.weight"/);
    withConfig({ intermediate_size: 50 });
    await expect(loadModel(dir)).rejects.toThrow(/model\.safetensors: tensor "model\.layers\.0\.mlp\.gate_proj\.weight": expected shape \[50, 32\] but received \[48, 32\]/);
    withConfig({});
    writeTinyTokenizer(dir, 20);
    await expect(loadModel(dir)).rejects.toThrow(/tokenizer\.json: tokenizer vocabulary: expected at most 40 tokens \(config\.json vocab_size\) but received 51/);
  });
});

describe("perplexity", () => {
  it("scores non-overlapping windows, each window's first token as context only", async () => {
    const dir = join(root, "ppl");
    writeTinyCheckpoint(dir, { seed: 3 });
    const model = await loadModel(dir, { threads: 1 });
    try {
      const tokens = randomTokens(50, 40, 9);
      const r = await perplexity(model, tokens, { window: 16 });
      expect(r.windows).toBe(4);
      expect(r.predictedTokens).toBe(15 * 3 + 1);
      let sum = 0;
      for (let w = 0; w < 4; w++) for (const x of (await model.forward(tokens.subarray(w * 16, w * 16 + 16), { positions: [] })).nll) sum += x;
      expect(r.meanNll).toBeCloseTo(sum / 46, 6);
      expect((await perplexity(model, tokens, { window: 16, maxWindows: 2 })).predictedTokens).toBe(30);
      await expect(perplexity(model, tokens, { window: 65 })).rejects.toThrow(/for window but received 65/);
    } finally {
      await model.dispose();
    }
  });
});
