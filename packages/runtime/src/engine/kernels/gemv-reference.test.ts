import { seededRandom } from "@kvwalk/core/testing";
import { bf16ToF32, f32ToBf16 } from "@kvwalk/graph-cache";
import { describe, expect, it } from "vitest";
import { gaussian } from "../gpu/case-frame.js";
import { randomGemvInput } from "../gpu/gemv-cases.js";
import { gemmReference } from "./gemm-reference.js";
import { compareGemv, type GemvCaseInput, gemvReference, gemvStage } from "./gemv-reference.js";
import { rmsnormReference } from "./reference.js";

/**
 * The kernel's arithmetic in f32, lane by lane (kernels/gemv.cuh): lane l sums chunks l, l + 32, ...
 * (8 k each, in order) with fused multiply-adds, then a butterfly sum over the 32 lanes. bf16 x bf16
 * products are exact in f32, so fround(p + acc) is the FMA's single rounding.
 */
function emulateKernel(x: GemvCaseInput): { c?: Float32Array; act?: Uint16Array } {
  const { M, N, K } = x;
  const a = gemvStage(x);
  const dot = (m: number, n: number): number => {
    const lanes = new Float32Array(32);
    for (let c = 0; c < K / 8; c++) {
      const l = c % 32;
      let acc = lanes[l];
      for (let k = 8 * c; k < 8 * c + 8; k++) acc = Math.fround(bf16ToF32(x.w[n * K + k]) * bf16ToF32(a[m * K + k]) + acc);
      lanes[l] = acc;
    }
    for (let o = 16; o > 0; o >>= 1) {
      const next = new Float32Array(32);
      for (let l = 0; l < 32; l++) next[l] = Math.fround(lanes[l] + lanes[l ^ o]);
      lanes.set(next);
    }
    return lanes[0];
  };
  if (x.output === "f32") {
    const c = new Float32Array(M * N);
    for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) c[m * N + n] = Math.fround((x.c0 ? x.c0[m * N + n] : 0) + dot(m, n));
    return { c };
  }
  const half = N / 2;
  const act = new Uint16Array(M * half);
  for (let m = 0; m < M; m++) {
    for (let j = 0; j < half; j++) {
      const g = dot(m, j);
      const u = dot(m, half + j);
      act[m * half + j] = f32ToBf16(Math.fround(Math.fround(g / Math.fround(1 + Math.fround(Math.exp(-g)))) * u));
    }
  }
  return { act };
}

describe("gemv reference", () => {
  it("stages RMSNorm rows exactly as rmsnormReference and f32 rows as bf16(x)", () => {
    const x = randomGemvInput({ input: "rmsnorm", output: "f32", M: 3, N: 4, K: 64, seed: 1 });
    expect(gemvStage(x)).toEqual(rmsnormReference(x.a as Float32Array, x.normW as Uint16Array, 3, 64, 1e-5));
    const y = randomGemvInput({ input: "f32", output: "f32", M: 2, N: 4, K: 16, seed: 2 });
    expect(Array.from(gemvStage(y))).toEqual(Array.from(y.a as Float32Array, (v) => f32ToBf16(v)));
  });

  it("is the GEMM reference for bf16 input and f32 output, C0 included", () => {
    const x = randomGemvInput({ input: "bf16", output: "f32", M: 2, N: 5, K: 24, accumulate: true, seed: 3 });
    const g = gemmReference({ M: 2, N: 5, K: 24, a: x.a as Uint16Array, w: x.w, c0: x.c0 ?? null });
    expect(gemvReference(x).product).toEqual(g.c);
  });

  it("computes SwiGLU from the gate and up halves (hand-checked case)", () => {
    // M = 1, K = 8, N = 2: gate row = e0, up row = 2 e1; a = (1, 3, 0, ...): g = 1, u = 6.
    const w = new Uint16Array(16);
    w[0] = f32ToBf16(1);
    w[8 + 1] = f32ToBf16(2);
    const a = new Uint16Array(8);
    a[0] = f32ToBf16(1);
    a[1] = f32ToBf16(3);
    const ref = gemvReference({ input: "bf16", output: "swiglu", M: 1, N: 2, K: 8, a, w });
    expect(ref.act?.[0]).toBeCloseTo((1 / (1 + Math.exp(-1))) * 6, 12);
  });

  it.each([
    ["rmsnorm", "f32", 4, 96, 392],
    ["f32", "f32", 3, 40, 256],
    ["rmsnorm", "swiglu", 2, 64, 1024],
    ["bf16", "swiglu", 1, 30, 136],
  ] as const)("accepts the kernel's f32 lane order (%s -> %s, M=%i N=%i K=%i)", (input, output, M, N, K) => {
    const x = randomGemvInput({ input, output, M, N, K, accumulate: output === "f32", seed: M * 1000 + N });
    const r = compareGemv(x, emulateKernel(x), gemvReference(x));
    expect(r.ok, r.firstBad).toBe(true);
    // f32 outputs sit far inside the bound; a SwiGLU output carries its own bf16 rounding (up to half of
    // the one-ulp allowance).
    expect(r.worstRatio).toBeLessThan(output === "f32" ? 0.25 : 0.8);
  });

  it("rejects a misplaced output and a wrong row pairing", () => {
    const x = randomGemvInput({ input: "rmsnorm", output: "f32", M: 2, N: 32, K: 64, seed: 5 });
    const ref = gemvReference(x);
    const c = Float32Array.from(ref.product);
    [c[3], c[4]] = [c[4], c[3]];
    expect(compareGemv(x, { c }, ref).ok).toBe(false);
    const s = randomGemvInput({ input: "bf16", output: "swiglu", M: 1, N: 64, K: 64, seed: 6 });
    const sref = gemvReference(s);
    const swapped: GemvCaseInput = { ...s, w: Uint16Array.from({ length: s.w.length }, (_, i) => s.w[(i + 32 * 64) % s.w.length]) };
    expect(compareGemv(s, emulateKernel(swapped), sref).ok).toBe(false);
  });

  it("names the parameter on bad shapes", () => {
    const g = gaussian(seededRandom(7));
    const a = Float32Array.from({ length: 12 }, g);
    expect(() => gemvReference({ input: "f32", output: "f32", M: 1, N: 1, K: 12, a, w: new Uint16Array(12) })).toThrow(/K a positive multiple of 8/);
    expect(() => gemvReference({ input: "f32", output: "swiglu", M: 1, N: 3, K: 8, a: a.subarray(0, 8), w: new Uint16Array(24) })).toThrow(/even N/);
    expect(() => gemvReference({ input: "bf16", output: "f32", M: 9, N: 1, K: 8, a: new Uint16Array(72), w: new Uint16Array(8) })).toThrow(/M an integer/);
  });
});
