import { readFileSync } from "node:fs";
import { join } from "node:path";
import { optionalShared } from "@kvwalk/core";
import { assertClose } from "@kvwalk/core/testing";
import { describe, expect, it } from "vitest";
import { SafetensorsFile } from "./checkpoint/safetensors.js";
import { loadModel } from "./model.js";

/** The value, or a test failure naming what was missing. */
function must<T>(x: T | undefined): T {
  if (x === undefined) throw new Error("expected a value");
  return x;
}

/** The model card's tolerances against HF transformers (fp32 weights upcast from bf16, eager attention). */
const TOL = { logits: { atol: 1e-3, rtol: 0 }, nll: { atol: 1e-4, rtol: 0 }, probs: { atol: 1e-5, rtol: 0 } };

const dir = optionalShared("models/fixture-lm");
if (!dir) console.warn("skipping fixture-lm reference test: shared/models/fixture-lm not found (set KVWALK_SHARED)");

describe.skipIf(!dir)("fixture-lm against HF transformers' reference.safetensors", () => {
  it("matches logits, per-token NLL and attention probabilities of layers 0 and 7", async () => {
    const ref = new SafetensorsFile(join(dir!, "reference.safetensors"));
    const ids = ref.readInt32("input_ids", [512]);
    const positions = [...ref.readInt32("logits_positions", [4])];
    const model = await loadModel(dir!);
    try {
      const wiki = optionalShared("data/wikitext-2-raw/wiki.test.raw");
      if (wiki) {
        // input_ids are BOS + the first 511 tokens of the WikiText-2 test text
        const text = readFileSync(wiki, "utf8").slice(0, 8000);
        expect([...model.tokenizer.encode(text).subarray(0, 512)]).toEqual([...ids]);
      }
      const last = model.config.numLayers - 1;
      const r = await model.forward(ids, { positions, captureAttention: [0, last] });
      assertClose(r.logits, ref.readFloat32("logits", [4, 8192]), TOL.logits, "logits");
      assertClose(r.nll, ref.readFloat32("nll", [511]), TOL.nll, "nll");
      const T = 512;
      const Q = 128;
      for (const [name, layer] of [["attn_layer0", 0], ["attn_last", last]] as const) {
        const full = must(r.attention?.get(layer));
        const sub = new Float32Array(6 * Q * Q);
        for (let h = 0; h < 6; h++) for (let t = 0; t < Q; t++) sub.set(full.subarray((h * T + t) * T, (h * T + t) * T + Q), (h * Q + t) * Q);
        assertClose(sub, ref.readFloat32(name, [6, Q, Q]), TOL.probs, name);
      }
    } finally {
      ref.close();
      await model.dispose();
    }
  });
});
