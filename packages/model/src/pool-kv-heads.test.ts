import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileFormatError, InvalidArgumentError, optionalShared } from "@kvwalk/core";
import { assertClose } from "@kvwalk/core/testing";
import { afterAll, describe, expect, it } from "vitest";
import { Checkpoint, INDEX_FILE } from "./checkpoint/checkpoint.js";
import { SafetensorsFile } from "./checkpoint/safetensors.js";
import { floatToBf16, floatToHalf } from "./checkpoint/safetensors-writer.js";
import { loadConfig } from "./config.js";
import { poolKvHeads } from "./pool-kv-heads.js";
import { referenceForward } from "./reference-forward.js";
import { type TinyCheckpointOptions, writeTinyCheckpoint } from "./tiny-checkpoint.js";
import { layerTensorNames, loadWeights, type ModelWeights } from "./weights.js";

const root = mkdtempSync(join(tmpdir(), "kvwalk-pool-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string) => join(root, `${name}-${n++}`);

/** What a stored value of `dtype` reads back as after rounding x (an f64 mean) to f32 and then to the dtype. */
function stored(x: number, dtype: "F32" | "F16" | "BF16"): number {
  const f = Math.fround(x);
  if (dtype === "F32") return f;
  if (dtype === "BF16") return new Float32Array(new Uint32Array([floatToBf16(f) << 16]).buffer)[0];
  const h = floatToHalf(f);
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  return (h & 0x8000 ? -1 : 1) * (e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15));
}

/** Files of a folder, by name, as bytes. */
const filesOf = (dir: string) => Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f))]));

const CASES: [string, TinyCheckpointOptions, number][] = [
  ["MHA 4 -> 2, BF16, sharded, tied", { seed: 21, dtype: "BF16", sharded: true, tie: true }, 2],
  ["MHA 4 -> 1 (MQA), F16, single file", { seed: 22, dtype: "F16" }, 1],
  ["GQA 8/4 -> 2, head_dim 8 != hidden/heads, F32, sharded", { seed: 23, numHeads: 8, numKvHeads: 4, headDim: 8, sharded: true, numLayers: 3 }, 2],
];

describe.each(CASES)("poolKvHeads: %s", (_name, opts, to) => {
  const src = fresh("src");
  const { config, weights } = writeTinyCheckpoint(src, opts);
  const out = fresh("out");
  const r = poolKvHeads(src, out, to);
  const dtype = opts.dtype ?? "F32";
  const from = config.numKvHeads;
  const P = from / to;
  const rowLen = config.headDim * config.hiddenSize;

  it("writes each output KV head's k_proj / v_proj rows as the mean of its group of consecutive input heads", () => {
    expect(r).toMatchObject({ fromKvHeads: from, pooled: P, copiedFiles: ["tokenizer.json", "tokenizer_config.json"], skippedFiles: [] });
    expect(r.pooledTensors).toHaveLength(2 * config.numLayers);
    const ckpt = new Checkpoint(out);
    try {
      for (let l = 0; l < config.numLayers; l++) {
        const names = layerTensorNames(l);
        for (const [key, name] of [["wk", names.wk], ["wv", names.wv]] as const) {
          expect(ckpt.info(name).dtype).toBe(dtype);
          const got = ckpt.readFloat32(name, [to * config.headDim, config.hiddenSize]);
          const w = weights.layers[l][key];
          const want = new Float32Array(to * rowLen);
          for (let g = 0; g < to; g++) {
            for (let i = 0; i < rowLen; i++) {
              let s = 0;
              for (let p = 0; p < P; p++) s += w[(g * P + p) * rowLen + i];
              want[g * rowLen + i] = stored(s / P, dtype);
            }
          }
          expect(Array.from(got), `${name}`).toEqual(Array.from(want));
          // and it is the plain mean up to the storage rounding
          const mean = Float32Array.from(want.keys(), (j) => {
            const g = Math.floor(j / rowLen);
            const i = j % rowLen;
            return Array.from({ length: P }, (_, p) => w[(g * P + p) * rowLen + i]).reduce((a, b) => a + b) / P;
          });
          assertClose(got, mean, { atol: 0, rtol: dtype === "F32" ? 1e-6 : 1e-2 }, name);
        }
      }
    } finally {
      ckpt.close();
    }
  });

  it("copies every other tensor byte for byte, in the same shard files, and updates only num_key_value_heads", () => {
    const a = new Checkpoint(src);
    const b = new Checkpoint(out);
    try {
      expect([...b.weightMap]).toEqual([...a.weightMap]);
      const pooled = new Set(r.pooledTensors);
      for (const [name, file] of a.weightMap) {
        const fa = new SafetensorsFile(join(src, file));
        const fb = new SafetensorsFile(join(out, file));
        expect(fb.metadata).toEqual(fa.metadata);
        if (!pooled.has(name)) {
          expect(fb.info(name).shape).toEqual(fa.info(name).shape);
          expect(Buffer.from(fb.readBytes(name)).equals(Buffer.from(fa.readBytes(name))), name).toBe(true);
        }
        fa.close();
        fb.close();
      }
    } finally {
      a.close();
      b.close();
    }
    const rawA = JSON.parse(readFileSync(join(src, "config.json"), "utf8"));
    const rawB = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
    expect(Object.keys(rawB)).toEqual(Object.keys(rawA));
    expect(rawB).toEqual({ ...rawA, num_key_value_heads: to });
    expect(loadConfig(out)).toEqual({ ...config, numKvHeads: to });
    expect(r.config).toEqual({ ...config, numKvHeads: to });
    for (const f of ["tokenizer.json", "tokenizer_config.json"]) expect(readFileSync(join(out, f))).toEqual(readFileSync(join(src, f)));
    expect(readFileSync(join(out, "README.md"), "utf8")).toMatch(new RegExp(`mean-pooled ${from} -> ${to}`));
    if (opts.sharded) {
      const index = JSON.parse(readFileSync(join(out, INDEX_FILE), "utf8"));
      const c = new Checkpoint(out);
      const total = [...c.weightMap.keys()].reduce((s, name) => s + c.info(name).byteLength, 0);
      c.close();
      expect(index.weight_map).toEqual(JSON.parse(readFileSync(join(src, INDEX_FILE), "utf8")).weight_map);
      expect(index.metadata.total_size ?? total).toBe(total);
    }
    // nothing else in the output folder, and no temporary folder left beside it
    expect(readdirSync(out).sort()).toEqual([...readdirSync(src).filter((f) => f !== "README.md"), "README.md"].sort());
    expect(readdirSync(root).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("gives every query head its group's pooled KV head, as transformers' GQA does (same forward as the expanded MHA model)", () => {
    const c = loadConfig(out);
    const ckpt = new Checkpoint(out);
    const pooled = loadWeights(ckpt, c);
    ckpt.close();
    // Expanded: one KV head per query head, query head h's copy of pooled KV head floor(h / (heads / to)).
    const G = c.numHeads / to;
    const expand = (w: Float32Array) => {
      const e = new Float32Array(c.numHeads * rowLen);
      for (let h = 0; h < c.numHeads; h++) e.set(w.subarray(Math.floor(h / G) * rowLen, (Math.floor(h / G) + 1) * rowLen), h * rowLen);
      return e;
    };
    const mha: ModelWeights = { ...pooled, layers: pooled.layers.map((lw) => ({ ...lw, wk: expand(lw.wk), wv: expand(lw.wv) })) };
    const tokens = [1, 5, 9, 3, 12, 7, 20, 4, 11, 6, 15, 8];
    const a = referenceForward(c, pooled, tokens);
    const b = referenceForward({ ...c, numKvHeads: c.numHeads }, mha, tokens);
    assertClose(a.logits, b.logits, { atol: 1e-5, rtol: 1e-5 }, "logits");
    assertClose(a.nll, b.nll, { atol: 1e-5, rtol: 1e-5 }, "nll");
  });
});

describe("poolKvHeads: edge cases and bad arguments", () => {
  it("pooling to the input's own KV head count is the identity: every weight file byte for byte", () => {
    for (const opts of [{ seed: 31, dtype: "BF16", sharded: true }, { seed: 32, dtype: "F16", numKvHeads: 2 }] as TinyCheckpointOptions[]) {
      const src = fresh("id-src");
      const { config } = writeTinyCheckpoint(src, opts);
      const out = fresh("id-out");
      const r = poolKvHeads(src, out, config.numKvHeads);
      expect(r.pooled).toBe(1);
      const a = filesOf(src);
      const b = filesOf(out);
      for (const f of Object.keys(a).filter((f) => f.endsWith(".safetensors"))) expect(b[f].equals(a[f]), f).toBe(true);
      expect(JSON.parse(b["config.json"].toString())).toEqual(JSON.parse(a["config.json"].toString()));
    }
  });

  it("writes into an existing empty folder, and leaves out the source's model card, other weight formats and non-weight safetensors", () => {
    const src = fresh("extras");
    writeTinyCheckpoint(src, { seed: 33 });
    writeFileSync(join(src, "README.md"), "# source card\n");
    writeFileSync(join(src, "reference.safetensors"), "not weights");
    writeFileSync(join(src, "pytorch_model.bin"), "old weights");
    writeFileSync(join(src, "generation_config.json"), "{}");
    mkdirSync(join(src, "original"));
    const out = fresh("empty");
    mkdirSync(out);
    const r = poolKvHeads(src, out, 2);
    expect(r.copiedFiles).toEqual(["generation_config.json", "tokenizer.json", "tokenizer_config.json"]);
    expect(r.skippedFiles).toEqual(["README.md", "original", "pytorch_model.bin", "reference.safetensors"]);
    expect(readFileSync(join(out, "README.md"), "utf8")).toMatch(/without uptraining/);
    expect(existsSync(join(out, "reference.safetensors"))).toBe(false);
  });

  it("rejects bad arguments naming the parameter, before writing anything", () => {
    const src = fresh("bad");
    writeTinyCheckpoint(src, { seed: 34 }); // 4 KV heads
    const out = fresh("bad-out");
    const named = (f: () => unknown, param: string, re: RegExp) => {
      try {
        f();
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidArgumentError);
        expect((err as InvalidArgumentError).parameter).toBe(param);
        expect((err as Error).message).toMatch(re);
        return;
      }
      throw new Error(`expected an error naming ${param}`);
    };
    named(() => poolKvHeads(src, out, 3), "numKvHeads", /a divisor of the input's num_key_value_heads \(4\): one of 1, 2, 4 for numKvHeads but received 3/);
    named(() => poolKvHeads(src, out, 0), "numKvHeads", /integer/);
    named(() => poolKvHeads(src, out, 1.5), "numKvHeads", /integer/);
    named(() => poolKvHeads(src, out, 8), "numKvHeads", /integer .*4/);
    named(() => poolKvHeads(src, src, 2), "outDir", /a folder that does not exist or is empty/);
    writeFileSync(out, "a file");
    named(() => poolKvHeads(src, out, 2), "outDir", /a folder that does not exist or is empty/);
    rmSync(out);
    named(() => poolKvHeads("", out, 2), "inDir", /a checkpoint directory/);
    expect(() => poolKvHeads(join(root, "nowhere"), out, 2)).toThrow(FileFormatError);
    expect(() => poolKvHeads(join(root, "nowhere"), out, 2)).toThrow(/config\.json/);
    expect(existsSync(out)).toBe(false);
  });

  it("leaves nothing behind when it fails half-way (the output is renamed into place only at the end)", () => {
    const src = fresh("fail");
    writeTinyCheckpoint(src, { seed: 35, sharded: true });
    const parent = fresh("fail-parent");
    mkdirSync(parent);
    const out = join(parent, "pooled");
    expect(() =>
      poolKvHeads(src, out, 2, {
        onTensor: (done) => {
          if (done === 12) throw new Error("disk full (simulated)");
        },
      }),
    ).toThrow(/disk full/);
    expect(readdirSync(parent)).toEqual([]);
    // an empty output folder given by the caller stays as it was
    mkdirSync(out);
    expect(() =>
      poolKvHeads(src, out, 2, {
        onTensor: () => {
          throw new Error("stop");
        },
      }),
    ).toThrow(/stop/);
    expect(readdirSync(parent)).toEqual(["pooled"]);
    expect(readdirSync(out)).toEqual([]);
  });
});

const fixture = optionalShared("models/fixture-lm");
if (!fixture) console.warn("skipping fixture-lm KV-head pooling test: shared/models/fixture-lm not found (set KVWALK_SHARED)");

describe.skipIf(!fixture)("fixture-lm mean-pooled to 3 and 2 KV heads (no uptraining)", () => {
  it("runs, with a finite perplexity on the 512 reference tokens (printed: what pooling costs)", async () => {
    const { loadModel } = await import("./model.js");
    const ref = new SafetensorsFile(join(fixture!, "reference.safetensors"));
    const ids = ref.readInt32("input_ids", [512]);
    const refNll = ref.readFloat32("nll", [511]);
    ref.close();
    const ppl = (nll: Float32Array) => Math.exp(nll.reduce((a, b) => a + b, 0) / nll.length);
    const rows = [`MHA 6 KV heads (HF reference): ${ppl(refNll).toFixed(2)}`];
    for (const kv of [6, 3, 2]) {
      const out = fresh(`fixture-kv${kv}`);
      const r = poolKvHeads(fixture!, out, kv);
      expect(r.skippedFiles).toContain("reference.safetensors");
      const model = await loadModel(out, { threads: 2 });
      try {
        expect(model.config.numKvHeads).toBe(kv);
        const { nll } = await model.forward(ids, { positions: [] });
        expect(nll.every(Number.isFinite)).toBe(true);
        const p = ppl(nll);
        expect(Number.isFinite(p)).toBe(true);
        // pooling to 6 copies the checkpoint: the reference NLL within the model card's tolerance
        if (kv === 6) assertClose(nll, refNll, { atol: 1e-4, rtol: 0 }, "nll of the 6-KV-head copy");
        else rows.push(`${kv} KV heads (groups of ${6 / kv}): ${p.toFixed(2)}`);
      } finally {
        await model.dispose();
        rmSync(out, { recursive: true, force: true });
      }
    }
    console.warn(`fixture-lm perplexity on BOS + the first 511 WikiText-2 test tokens, full cache: ${rows.join("; ")}`);
  });
});
