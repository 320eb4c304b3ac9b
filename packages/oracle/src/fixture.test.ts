import { optionalShared } from "@kvwalk/core";
import { type LoadedModel, loadModel } from "@kvwalk/model";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { wikitextWindows } from "./data.js";
import { causalPass, retrospectivePass, retrospectiveScoring } from "./passes.js";

const modelDir = optionalShared("models/fixture-lm");
const wiki = optionalShared("data/wikitext-2-raw/wiki.test.raw");
if (!modelDir || !wiki) console.warn("oracle fixture tests skipped: shared models/fixture-lm or data/wikitext-2-raw not found (set KVWALK_SHARED)");

// The real fixture model on one short WikiText window (T = 256), end to end through the model's stepper.
describe.skipIf(!modelDir || !wiki)("oracle on the fixture model", () => {
  let model: LoadedModel;
  let tokens: Int32Array;
  const shared = { sinks: 4, window: 16, refreshEvery: 8 };
  beforeAll(async () => {
    model = await loadModel(modelDir!, { threads: 2 });
    tokens = wikitextWindows(model.tokenizer, 256, 1, wiki!)[0].tokens;
  });
  afterAll(async () => {
    await model?.dispose();
  });

  it("full pass equals the model's own forward; budget = window reproduces it for every policy", async () => {
    const ref = await model.forward(tokens);
    const full = await causalPass(model, tokens, "full", 1, shared);
    expect(Array.from(full.nll)).toEqual(Array.from(ref.nll));
    for (const p of ["h2o", "pagerank-dense", "pagerank-walker"]) {
      const r = await causalPass(model, tokens, p, 1, shared);
      expect(Array.from(r.nll), p).toEqual(Array.from(full.nll));
    }
  });

  it("eviction at 25% costs perplexity; retrospective oracle plans stay within budget", async () => {
    const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
    const full = mean((await causalPass(model, tokens, "full", 1, shared)).nll);
    const h2o = await causalPass(model, tokens, "h2o", 0.25, shared);
    expect(h2o.timing.evictions).toBe(8 * 6 * (256 - 64));
    expect(mean(h2o.nll)).toBeGreaterThan(full);
    const { plan } = await retrospectiveScoring(model, tokens, ["h2o", "pagerank-dense"], [0.25], shared);
    const decided = plan.get("pagerank-dense")?.get(0.25);
    expect(decided?.layers).toHaveLength(8);
    const r = await retrospectivePass(model, tokens, decided!.layers);
    expect(r.nll.length).toBe(255);
  });

  it("blocked scores are bit-identical to the dense logits the simulation used before (2 layers, every head)", async () => {
    const T = tokens.length;
    const st = await model.stepper(tokens);
    for (let l = 0; l < 2; l++) {
      for (let h = 0; h < model.config.numHeads; h++) {
        const lg = await st.logits(h);
        const { bounds, blocks } = await st.scores!(h);
        let mismatches = 0;
        for (let i = 0; i + 1 < bounds.length; i++) {
          const e = bounds[i + 1];
          for (let t = bounds[i]; t < e; t++) for (let j = 0; j <= t; j++) if (blocks[i][(t - bounds[i]) * e + j] !== lg[t * T + j]) mismatches++;
        }
        expect(mismatches, `layer ${l} head ${h}`).toBe(0);
      }
      await st.attend();
    }
  });
});
