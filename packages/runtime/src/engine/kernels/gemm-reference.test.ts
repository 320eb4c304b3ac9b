import { seededRandom } from "@kvwalk/core/testing";
import { f32ToBf16, toBf16 } from "@kvwalk/graph-cache";
import { describe, expect, it } from "vitest";
import { compareGemm, gemmReference, gemmTolerance } from "./gemm-reference.js";

describe("gemmReference", () => {
  it("computes a hand-checkable 2x3x2 product", () => {
    // A [2, 2] = [[1, 2], [3, 4]], W [3, 2] = [[1, 0], [0, 1], [1, 1]] -> C = [[1, 2, 3], [3, 4, 7]]
    const r = gemmReference({ M: 2, N: 3, K: 2, a: toBf16([1, 2, 3, 4]), w: toBf16([1, 0, 0, 1, 1, 1]), c0: null });
    expect(Array.from(r.c)).toEqual([1, 2, 3, 3, 4, 7]);
    expect(Array.from(r.absSum)).toEqual([1, 2, 3, 3, 4, 7]);
  });

  it("accumulates into C0 and honours row strides, leaving padding", () => {
    // lda = 3, ldw = 2, ldc = 3 (one padding column).
    const a = toBf16([1, -2, 99, 0.5, 4, 99]);
    const w = toBf16([2, 1, -1, 3]);
    const c0 = Float32Array.from([10, 20, 7, -1, -2, 8]);
    const r = gemmReference({ M: 2, N: 2, K: 2, a, w, c0, lda: 3, ldw: 2, ldc: 3 });
    // row 0: [1*2 + -2*1, 1*-1 + -2*3] = [0, -7]; row 1: [0.5*2 + 4*1, 0.5*-1 + 4*3] = [5, 11.5]
    expect(Array.from(r.c)).toEqual([10, 13, 7, 4, 9.5, 8]);
    expect(r.absSum[1]).toBe(7);
  });

  it("uses the bf16 values, not the original floats", () => {
    const x = 1 + 2 ** -10; // rounds to 1 in bf16
    const r = gemmReference({ M: 1, N: 1, K: 1, a: Uint16Array.of(f32ToBf16(x)), w: toBf16([1]), c0: null });
    expect(r.c[0]).toBe(1);
  });

  it("computes only the requested rows", () => {
    const r = gemmReference({ M: 3, N: 1, K: 1, a: toBf16([1, 2, 3]), w: toBf16([2]), c0: null }, [0, 2]);
    expect(r.c[0]).toBe(2);
    expect(Number.isNaN(r.c[1])).toBe(true);
    expect(r.c[2]).toBe(6);
  });

  it("rejects bad shapes naming the parameter", () => {
    expect(() => gemmReference({ M: 0, N: 1, K: 1, a: new Uint16Array(0), w: new Uint16Array(1), c0: null })).toThrow(/for M/);
    expect(() => gemmReference({ M: 1, N: 1, K: 2, a: new Uint16Array(1), w: new Uint16Array(2), c0: null })).toThrow(/a of length/);
    expect(() => gemmReference({ M: 1, N: 1, K: 2, a: new Uint16Array(2), w: new Uint16Array(2), c0: null, ldw: 1 })).toThrow(/ldw/);
  });
});

describe("compareGemm", () => {
  const rnd = seededRandom(7);
  const M = 3;
  const N = 5;
  const K = 40;
  const input = {
    M,
    N,
    K,
    a: toBf16(Array.from({ length: M * K }, () => rnd() - 0.5)),
    w: toBf16(Array.from({ length: N * K }, () => rnd() - 0.5)),
    c0: null,
    ldc: N + 1,
  };
  const ref = gemmReference(input);

  it("accepts float32 rounding of the reference and NaN padding", () => {
    const actual = Float32Array.from(ref.c);
    expect(compareGemm(input, actual, ref).ok).toBe(true);
  });

  it("flags a dropped term, a NaN output and a written padding entry", () => {
    const dropped = Float32Array.from(ref.c);
    // Remove the product of k = K-1 from output [1, 2] (what a tail bug would do).
    const m = 1;
    const n = 2;
    const aw = (i: number, j: number) => new Float32Array(new Uint32Array([input.a[i] << 16]).buffer)[0] * new Float32Array(new Uint32Array([input.w[j] << 16]).buffer)[0];
    dropped[m * (N + 1) + n] -= aw(m * K + K - 1, n * K + K - 1);
    const r = compareGemm(input, dropped, ref);
    expect(r.ok).toBe(false);
    expect(r.firstBad).toMatch(/^\[1, 2\]/);

    const nan = Float32Array.from(ref.c);
    nan[0] = Number.NaN;
    expect(compareGemm(input, nan, ref).bad).toBe(1);

    const pad = Float32Array.from(ref.c);
    pad[N] = 0;
    expect(compareGemm(input, pad, ref).paddingChanged).toBe(1);
  });

  it("scales the tolerance with K and sum |a w|", () => {
    expect(gemmTolerance(16, 1, 0, 0)).toBeCloseTo(9 * 2 ** -23, 20);
    expect(gemmTolerance(4096, 2, 0, 0)).toBeCloseTo(2 * 264 * 2 ** -23, 20);
  });
});
