import { seededRandom } from "@kvwalk/core/testing";
import { describe, expect, it } from "vitest";
import {
  bf16ToF32,
  bf16UlpDistance,
  embedReference,
  f32ToBf16,
  fillConstBf16Reference,
  fillUniformBf16Reference,
  fromBf16,
  prefillAttentionReference,
  residualRmsnormReference,
  rmsnormReference,
  ropeAppendReference,
  sampleReference,
  sampleRowReference,
  sampleUniform,
  swigluReference,
  toBf16,
  topPThreshold,
} from "./reference.js";

describe("bf16 helpers", () => {
  it("round to nearest even and back", () => {
    expect(f32ToBf16(1)).toBe(0x3f80);
    expect(f32ToBf16(-2)).toBe(0xc000);
    expect(f32ToBf16(1 + 2 ** -8)).toBe(0x3f80); // tie -> even
    expect(f32ToBf16(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie -> even (up)
    expect(f32ToBf16(1 + 2 ** -8 + 2 ** -12)).toBe(0x3f81);
    expect(Number.isNaN(bf16ToF32(f32ToBf16(Number.NaN)))).toBe(true);
    expect(bf16ToF32(0x3fc0)).toBe(1.5);
    expect(Array.from(fromBf16(toBf16([0.5, -3, 0])))).toEqual([0.5, -3, 0]);
    expect(bf16UlpDistance(0x3f80, 0x3f81)).toBe(1);
    expect(bf16UlpDistance(0x0001, 0x8001)).toBe(2);
  });
});

describe("embedReference", () => {
  it("copies rows and flags bad tokens with a zero row", () => {
    const table = toBf16([1, 2, 3, 4, 5, 6]); // vocab 3, hidden 2
    const { x, errorFlag } = embedReference(Int32Array.from([2, 0]), table, 3, 2);
    expect(Array.from(x)).toEqual([5, 6, 1, 2]);
    expect(errorFlag).toBe(0);
    const bad = embedReference(Int32Array.from([1, 3, -1]), table, 3, 2);
    expect(Array.from(bad.x)).toEqual([3, 4, 0, 0, 0, 0]);
    expect(bad.errorFlag).toBe(1);
  });
});

describe("rmsnormReference", () => {
  it("normalizes [3, 4] by its rms sqrt(12.5)", () => {
    const out = fromBf16(rmsnormReference(Float32Array.from([3, 4]), toBf16([1, 2]), 1, 2, 0));
    const r = 1 / Math.sqrt(12.5);
    expect(out[0]).toBeCloseTo(3 * r, 2); // 0.8485 -> bf16 0.84765625
    expect(out[1]).toBeCloseTo(2 * 4 * r, 2);
    expect(out[0]).toBe(bf16ToF32(f32ToBf16(3 * r)));
  });
  it("eps keeps a zero row finite", () => {
    expect(Array.from(fromBf16(rmsnormReference(new Float32Array(4), toBf16([1, 1, 1, 1]), 1, 4, 1e-6)))).toEqual([0, 0, 0, 0]);
  });
});

describe("ropeAppendReference", () => {
  const T = 2;
  const H = 2;
  const KVH = 1;
  const D = 4;
  const capacity = 3;
  const rnd = seededRandom(3);
  const qkv = Float32Array.from({ length: T * (H + 2 * KVH) * D }, () => rnd() * 2 - 1);
  const invFreq = Float32Array.from([1, 0.01]);
  const run = (positions: number[]) =>
    ropeAppendReference({
      qkv,
      T,
      H,
      KVH,
      D,
      invFreq,
      positions: Int32Array.from(positions),
      region: Int32Array.from([0, 1]),
      slot: Int32Array.from([2, 0]),
      capacity,
      kCache: new Uint16Array(2 * KVH * capacity * D).fill(0x7fc0),
      vCache: new Uint16Array(2 * KVH * capacity * D).fill(0x7fc0),
    });
  it("is the identity at position 0 and appends k/v at (region, slot)", () => {
    const { q, kCache, vCache } = run([0, 0]);
    for (let t = 0; t < T; t++) for (let i = 0; i < H * D; i++) expect(q[t * H * D + i]).toBe(qkv[t * 16 + i]);
    // token 0 -> region 0, slot 2; token 1 -> region 1, slot 0
    expect(Array.from(kCache.subarray(2 * D, 3 * D))).toEqual(Array.from(toBf16(qkv.subarray(H * D, (H + 1) * D))));
    expect(Array.from(vCache.subarray(capacity * D, capacity * D + D))).toEqual(Array.from(toBf16(qkv.subarray(16 + 3 * D, 16 + 4 * D))));
    expect(kCache[0]).toBe(0x7fc0); // untouched slot
  });
  it("rotates pairs (i, i + D/2) by inv_freq[i] * position", () => {
    const { q } = run([1, 5]);
    const x = qkv.subarray(0, D);
    const c = Math.cos(1);
    const s = Math.sin(1);
    expect(q[0]).toBeCloseTo(x[0] * c - x[2] * s, 6);
    expect(q[2]).toBeCloseTo(x[2] * c + x[0] * s, 6);
    const c2 = Math.cos(Math.fround(0.01));
    expect(q[1]).toBeCloseTo(x[1] * c2 - x[3] * Math.sin(Math.fround(0.01)), 6);
    // rotation keeps the norm of each pair
    const y = q.subarray(16 - 16 + 0, 4);
    expect(Math.hypot(y[0], y[2])).toBeCloseTo(Math.hypot(x[0], x[2]), 5);
  });
});

describe("prefillAttentionReference", () => {
  const D = 4;
  it("one key returns its value", () => {
    const v = toBf16([0.5, -1, 2, 3]);
    const out = prefillAttentionReference({ q: Float32Array.from([1, 2, 3, 4]), k: toBf16([1, 1, 1, 1]), v, T: 1, H: 1, KVH: 1, D, capacity: 1, window: 0, scale: 0.5 });
    expect(Array.from(out)).toEqual([0.5, -1, 2, 3]);
  });
  it("equal scores average the visible values; the window masks old keys; GQA shares a KV head", () => {
    const T = 3;
    const k = new Uint16Array(T * D); // zero keys: equal scores
    const v = toBf16([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]);
    const q = new Float32Array(T * 2 * D).fill(1); // H = 2 heads share KV head 0
    const full = prefillAttentionReference({ q, k, v, T, H: 2, KVH: 1, D, capacity: T, window: 0, scale: 0.5 });
    // token 2, head 1: mean of v0, v1, v2
    expect(Array.from(full.subarray(2 * 8 + 4, 2 * 8 + 8)).map((x) => Number(x.toFixed(6)))).toEqual([0.333333, 0.333333, 0.333333, 0]);
    // token 1, head 0: mean of v0, v1 (causal)
    expect(Array.from(full.subarray(8, 12))).toEqual([0.5, 0.5, 0, 0]);
    const win = prefillAttentionReference({ q, k, v, T, H: 2, KVH: 1, D, capacity: T, window: 2, scale: 0.5 });
    // token 2 sees keys 1, 2 only
    expect(Array.from(win.subarray(16, 20))).toEqual([0, 0.5, 0.5, 0]);
    const one = prefillAttentionReference({ q, k, v, T, H: 2, KVH: 1, D, capacity: T, window: 1, scale: 0.5 });
    expect(Array.from(one.subarray(16, 20))).toEqual([0, 0, 1, 0]);
  });
});

describe("swigluReference", () => {
  it("silu(g) * u", () => {
    const act = fromBf16(swigluReference(Float32Array.from([0, 2, 3, -1]), 1, 2)); // g = [0, 2], u = [3, -1]
    expect(act[0]).toBe(0);
    expect(act[1]).toBe(bf16ToF32(f32ToBf16((2 / (1 + Math.exp(-2))) * -1)));
  });
});

describe("sampling", () => {
  it("greedy: argmax, ties -> lowest index, NaN ignored", () => {
    const r = sampleRowReference(Float32Array.from([1, 5, Number.NaN, 5, 2]), 0, 1, 0.5);
    expect(r.token).toBe(1);
    const lse = Math.log(Math.exp(1 - 5) + 1 + 1 + Math.exp(2 - 5));
    expect(r.logprob).toBeCloseTo(-lse, 6);
    expect(sampleRowReference(Float32Array.from([-Infinity, -Infinity]), 0, 1, 0).token).toBe(0);
  });
  it("top-p keeps the smallest prefix reaching top_p, ties together", () => {
    // e = [0.5, 0.3, 0.2] * const: mass of {>= 0.3} = 0.8
    expect(topPThreshold([0.2, 0.5, 0.3], 0.7)).toBe(0.3);
    expect(topPThreshold([0.2, 0.5, 0.3], 0.5)).toBe(0.5);
    expect(topPThreshold([0.2, 0.5, 0.3], 0.81)).toBe(0.2);
    expect(topPThreshold([0.4, 0.2, 0.4], 0.3)).toBe(0.4); // tie kept together
    expect(topPThreshold([0.4, 0.2, 0.4], 0)).toBe(0.4);
    expect(topPThreshold([0.4, 0.2, 0.4], 1)).toBe(0);
  });
  it("inverse CDF in index order among kept tokens", () => {
    const logits = Float32Array.from([Math.log(0.2), Math.log(0.5), Math.log(0.3)]);
    // top_p 0.7 keeps tokens 1 and 2 (e = 1, 0.6; M = 1.6): u < 1/1.6 -> token 1, else token 2
    expect(sampleRowReference(logits, 1, 0.7, 0.6).token).toBe(1);
    expect(sampleRowReference(logits, 1, 0.7, 0.63).token).toBe(2);
    expect(sampleRowReference(logits, 1, 0.7, 0.999).token).toBe(2);
    // no top-p: e = [0.4, 1, 0.6], M = 2: u < 0.2 -> 0
    expect(sampleRowReference(logits, 1, 1, 0.19).token).toBe(0);
    expect(sampleRowReference(logits, 1, 1, 0.21).token).toBe(1);
  });
  it("sampled frequencies follow the probabilities (fixed seed)", () => {
    const probs = [0.1, 0.4, 0.05, 0.25, 0.2];
    const V = probs.length;
    const logits = Float32Array.from(probs, (p) => Math.log(p) * 0.8); // temperature 0.8 undoes the 0.8
    const counts = new Array(V).fill(0);
    const N = 4000;
    for (let step = 0; step < N; step++) {
      const { tokens } = sampleReference({ logits, B: 1, V, temperature: Float32Array.of(0.8), topP: Float32Array.of(1), seed: 11, step });
      counts[tokens[0]]++;
    }
    for (let i = 0; i < V; i++) {
      const sd = Math.sqrt((probs[i] * (1 - probs[i])) / N);
      expect(Math.abs(counts[i] / N - probs[i])).toBeLessThan(4 * sd);
    }
  });
  it("uniforms differ per row and step and lie in [0, 1)", () => {
    const us = [sampleUniform(1, 0, 0), sampleUniform(1, 1, 0), sampleUniform(1, 0, 1), sampleUniform(2, 0, 0)];
    expect(new Set(us).size).toBe(4);
    for (const u of us) expect(u >= 0 && u < 1).toBe(true);
  });
});

describe("fills", () => {
  it("uniform fill lies in [-a, a] with mean near 0 and is deterministic", () => {
    const a = fillUniformBf16Reference(4003, 5, 0.02);
    expect(a).toEqual(fillUniformBf16Reference(4003, 5, 0.02));
    const f = fromBf16(a);
    let mean = 0;
    for (const x of f) {
      expect(Math.abs(x)).toBeLessThanOrEqual(0.02 * (1 + 2 ** -8));
      mean += x / f.length;
    }
    expect(Math.abs(mean)).toBeLessThan(0.002);
    expect(fillUniformBf16Reference(4003, 6, 0.02)).not.toEqual(a);
  });
  it("const fill", () => {
    expect(Array.from(fillConstBf16Reference(3, 1.5))).toEqual([0x3fc0, 0x3fc0, 0x3fc0]);
  });
});

describe("residualRmsnormReference (split-K epilogue twin)", () => {
  it("adds the slices in order with f32 rounding, then normalizes like rmsnormReference", () => {
    const T = 2;
    const hidden = 8;
    const x = Float32Array.from({ length: T * hidden }, (_, i) => (i % 5) - 2.5);
    // 1 + 2^-24 and then -1: in f32 the order matters (x + 1e-8 + ... rounds at each step)
    const parts = new Float32Array(3 * T * hidden);
    for (let i = 0; i < T * hidden; i++) {
      parts[i] = 1;
      parts[T * hidden + i] = 2 ** -25;
      parts[2 * T * hidden + i] = -1;
    }
    const w = toBf16(Float32Array.from({ length: hidden }, (_, i) => 1 + i / 8));
    const r = residualRmsnormReference(x, parts, 3, w, T, hidden, 1e-5);
    for (let i = 0; i < T * hidden; i++) {
      expect(r.x[i]).toBe(Math.fround(Math.fround(Math.fround(x[i] + 1) + 2 ** -25) - 1));
    }
    expect(r.out).toEqual(rmsnormReference(r.x, w, T, hidden, 1e-5));
    expect(x[0]).toBe(-2.5); // the input is not modified
  });

  it("returns only the sum without a norm weight, and checks the parts length", () => {
    const x = Float32Array.of(1, 2);
    const r = residualRmsnormReference(x, Float32Array.of(0.5, 0.25), 1, null, 1, 2, 1e-5);
    expect(Array.from(r.x)).toEqual([1.5, 2.25]);
    expect(r.out).toBeNull();
    expect(() => residualRmsnormReference(x, new Float32Array(3), 1, null, 1, 2, 1e-5)).toThrow(/parts of length 2/);
  });
});
