import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { seededRandom } from "@kvwalk/core/testing";
import { type LayerStepper, type LoadedModel, loadModel, writeTinyCheckpoint } from "@kvwalk/model";
import { type CacheState, createPolicy, POLICY_NAMES, queryHeadsOf, type RowSource, runPolicy } from "@kvwalk/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { causalPass } from "./passes.js";
import type { SimPool } from "./sim-pool.js";

// The worker pool needs the compiled worker (dist/); without a build only the in-process path runs.
const builtPool = fileURLToPath(new URL("../dist/sim-pool.js", import.meta.url));
async function makePool(): Promise<SimPool | null> {
  if (!existsSync(builtPool)) return null;
  const m = (await import(builtPool)) as typeof import("./sim-pool.js");
  return m.SimPool.create(2);
}

/**
 * The causal pass as it was before the blocked-scores fast path, kept verbatim as the reference:
 * dense [T, T] logits per query head (LayerStepper.logits), the original float64 row source, and
 * attend() recomputing the scores itself.
 */
function referenceRowSource(logits: Float32Array[], length: number): RowSource {
  let tmp = new Float64Array(0);
  return (t: number, cache: CacheState, out: Float64Array) => {
    const n = cache.size;
    const tokens = cache.tokens;
    if (tmp.length < n) tmp = new Float64Array(Math.max(n, 2 * tmp.length));
    out.fill(0, 0, n);
    const base = t * length;
    for (const l of logits) {
      let m = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        const v = l[base + tokens[i]];
        tmp[i] = v;
        if (v > m) m = v;
      }
      if (m === Number.NEGATIVE_INFINITY) continue;
      let s = 0;
      for (let i = 0; i < n; i++) {
        const e = Math.exp(tmp[i] - m);
        tmp[i] = e;
        s += e;
      }
      const inv = 1 / s;
      for (let i = 0; i < n; i++) out[i] += tmp[i] * inv;
    }
  };
}

async function referenceCausalPass(model: LoadedModel, tokens: Int32Array, policy: string, budget: number, shared: object): Promise<Float32Array> {
  const cfg = model.config;
  const T = tokens.length;
  const st: LayerStepper = await model.stepper(tokens);
  for (let l = 0; l < cfg.numLayers; l++) {
    if (policy === "full") {
      await st.attend();
      continue;
    }
    const evict = new Int32Array(cfg.numKvHeads * T);
    for (let kvh = 0; kvh < cfg.numKvHeads; kvh++) {
      const logits: Float32Array[] = [];
      for (const h of queryHeadsOf(kvh, cfg.numHeads, cfg.numKvHeads)) logits.push(await st.logits(h));
      const r = runPolicy(createPolicy(policy, { ...shared, budget }), T, referenceRowSource(logits, T), l * cfg.numKvHeads + kvh);
      evict.set(r.evict, kvh * T);
    }
    await st.attend(evict);
  }
  return (await st.finish()).nll;
}

function randomTokens(n: number, vocab: number, seed: number): Int32Array {
  const r = seededRandom(seed);
  const t = new Int32Array(n);
  t[0] = 1;
  for (let i = 1; i < n; i++) t[i] = 3 + Math.floor(r() * (vocab - 3));
  return t;
}

const root = mkdtempSync(join(tmpdir(), "kvwalk-oracle-exact-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// The fast causal pass (blocked scores shared by the policy and attend, blocked row source, worker
// pool when built) must reproduce the original implementation: per-token NLL within 1e-6 relative
// (in practice bit for bit), for every policy, on tiny random Llama models through the real ORT stepper.
describe.each([
  ["MHA 4 heads", { seed: 31, numLayers: 3 }],
  ["GQA 4/2", { seed: 32, numLayers: 2, numKvHeads: 2 }],
] as const)("fast causal pass equals the reference pass (%s)", (_name, ckpt) => {
  let model: LoadedModel;
  const T = 160;
  let tokens: Int32Array;
  const shared = { sinks: 2, window: 8, refreshEvery: 4, walkers: 64, steps: 8, startWindow: 16 };
  beforeAll(async () => {
    const dir = join(root, `m${ckpt.seed}`);
    writeTinyCheckpoint(dir, { ...ckpt, dtype: "F32", maxPositions: 256 });
    model = await loadModel(dir, { threads: 2 });
    tokens = randomTokens(T, model.config.vocabSize, ckpt.seed);
  });
  afterAll(async () => {
    await model?.dispose();
  });

  it.each(POLICY_NAMES.map((p) => [p]))("%s at budgets 0.2 and 0.5", async (policy) => {
    const pool = await makePool();
    try {
      for (const budget of [0.2, 0.5]) {
        const ref = await referenceCausalPass(model, tokens, policy, budget, shared);
        for (const p of [null, pool]) {
          const fast = await causalPass(model, tokens, policy, budget, shared, p);
          expect(fast.nll.length).toBe(ref.length);
          let worst = 0;
          for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(fast.nll[i] - ref[i]) / Math.max(Math.abs(ref[i]), 1e-30));
          expect(worst, `${policy} @ ${budget} (${p ? "pool" : "in-process"})`).toBeLessThanOrEqual(1e-6);
        }
      }
    } finally {
      await pool?.close();
    }
  });
});
