/**
 * Reference of the fused small-batch GEMV (native/src/engine_launchers.h "fused small-batch GEMV",
 * kernels/gemv.cuh): the composition of the reference kernels it replaces,
 *
 *   staged A' = rmsnormReference(x) | bf16(x) | a          (bf16 [M, K], what the kernel stages)
 *   output  f32:    C = (C0 ?? 0) + A' . W^T                (gemmReference, float64 sums)
 *           swiglu: act[m, j] = bf16(silu(g) * u), g = (A' . W^T)[m, j], u = (A' . W^T)[m, N/2 + j]
 *
 * Tolerance (gemvTolerance): the GEMM bound of gemm-reference.ts on each product (the kernel's f32
 * chain per lane plus a 5-level shuffle sum is far inside it) plus, for RMSNorm input, the effect of
 * the staged value flipping by one bf16 ulp: the kernel sums x^2 in f32 (tree order), the twin in f64,
 * so r may differ by an f32 ulp and a staged h_k sitting next to a bf16 tie may round the other way;
 * each flip moves the product by |w_nk| ulp(h_k) <= 2^-8 |w_nk h_k|. Two flips per output are allowed
 * (2 * 2^-8 * max_k |w_nk h_k|); flips are rare (~2^-15 per element). SwiGLU propagates the product
 * errors eg, eu through silu(g) u (|silu'| < 1.1) and adds its own bf16 rounding (2^-8 |act|, one ulp).
 */
import { bf16ToF32, f32ToBf16 } from "@kvwalk/graph-cache";
import { gemmReference, gemmTolerance, type KernelComparison } from "./gemm-reference.js";
import { rmsnormReference } from "./reference.js";

export type GemvInputKind = "bf16" | "f32" | "rmsnorm";
export type GemvOutputKind = "f32" | "swiglu";
export const GEMV_INPUT_CODE = { bf16: 0, f32: 1, rmsnorm: 2 } as const;
export const GEMV_OUTPUT_CODE = { f32: 0, swiglu: 1 } as const;

export interface GemvCaseInput {
  input: GemvInputKind;
  output: GemvOutputKind;
  M: number;
  N: number;
  K: number;
  /** bf16 bits [M, K] for input "bf16", else f32 [M, K]. */
  a: Uint16Array | Float32Array;
  /** RMSNorm weight, bf16 bits [K] (input "rmsnorm"). */
  normW?: Uint16Array;
  eps?: number;
  /** bf16 bits [N, K]. */
  w: Uint16Array;
  /** Output "f32": accumulate into this [M, N]. */
  c0?: Float32Array | null;
}

export interface GemvReference {
  /** The bf16 rows the kernel multiplies, [M, K]. */
  staged: Uint16Array;
  /** The f64 product (plus C0) rounded to f32, [M, N]. */
  product: Float32Array;
  /** Allowed |kernel - product| per output, [M, N]. */
  productTol: Float64Array;
  /** Output "swiglu": the reference act [M, N/2] (f64 silu(g) u) and its tolerance. */
  act?: Float64Array;
  actTol?: Float64Array;
}

export const GEMV_TOLERANCE = {
  /** Staged bf16 flips allowed per output (RMSNorm input only). */
  flips: 2,
  /** One bf16 ulp, relative. */
  bf16Ulp: 2 ** -8,
  /** Bound on |silu'(g)|. */
  siluSlope: 1.1,
} as const;

function validate(x: GemvCaseInput): void {
  const { M, N, K } = x;
  if (!Number.isInteger(M) || M < 1 || M > 8) throw new RangeError(`Expected M an integer in [1, 8] but received ${M}`);
  if (!Number.isInteger(N) || N < 1) throw new RangeError(`Expected N a positive integer but received ${N}`);
  if (!Number.isInteger(K) || K < 8 || K % 8 !== 0) throw new RangeError(`Expected K a positive multiple of 8 but received ${K}`);
  if (x.output === "swiglu" && N % 2 !== 0) throw new RangeError(`Expected an even N for output "swiglu" but received ${N}`);
  if (x.a.length !== M * K) throw new RangeError(`Expected a of length M*K = ${M * K} but received ${x.a.length}`);
  if (x.w.length !== N * K) throw new RangeError(`Expected w of length N*K = ${N * K} but received ${x.w.length}`);
  if (x.input === "bf16" !== x.a instanceof Uint16Array) throw new TypeError(`Expected a as ${x.input === "bf16" ? "Uint16Array" : "Float32Array"}`);
  if (x.input === "rmsnorm" && (!x.normW || x.normW.length !== K)) throw new RangeError(`Expected normW of length K = ${K}`);
  if (x.c0 && x.c0.length !== M * N) throw new RangeError(`Expected c0 of length M*N = ${M * N} but received ${x.c0.length}`);
}

/** The bf16 rows [M, K] the kernel stages in shared memory. */
export function gemvStage(x: GemvCaseInput): Uint16Array {
  validate(x);
  if (x.input === "bf16") return Uint16Array.from(x.a as Uint16Array);
  const a = x.a as Float32Array;
  if (x.input === "f32") return Uint16Array.from(a, (v) => f32ToBf16(v));
  return rmsnormReference(a, x.normW as Uint16Array, x.M, x.K, x.eps ?? 1e-5);
}

export function gemvReference(x: GemvCaseInput): GemvReference {
  const { M, N, K } = x;
  const staged = gemvStage(x);
  const g = gemmReference({ M, N, K, a: staged, w: x.w, c0: x.output === "f32" ? (x.c0 ?? null) : null });
  const productTol = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      const i = m * N + n;
      let tol = gemmTolerance(K, g.absSum[i], x.c0 && x.output === "f32" ? x.c0[i] : 0, g.c[i]);
      if (x.input === "rmsnorm") {
        let maxTerm = 0;
        for (let k = 0; k < K; k++) maxTerm = Math.max(maxTerm, Math.abs(bf16ToF32(x.w[n * K + k]) * bf16ToF32(staged[m * K + k])));
        tol += GEMV_TOLERANCE.flips * GEMV_TOLERANCE.bf16Ulp * maxTerm;
      }
      productTol[i] = tol;
    }
  }
  const ref: GemvReference = { staged, product: g.c, productTol };
  if (x.output === "swiglu") {
    const half = N / 2;
    const act = new Float64Array(M * half);
    const actTol = new Float64Array(M * half);
    for (let m = 0; m < M; m++) {
      for (let j = 0; j < half; j++) {
        const gv = g.c[m * N + j];
        const uv = g.c[m * N + half + j];
        const eg = productTol[m * N + j];
        const eu = productTol[m * N + half + j];
        const s = gv / (1 + Math.exp(-gv));
        const v = s * uv;
        act[m * half + j] = v;
        actTol[m * half + j] =
          GEMV_TOLERANCE.siluSlope * eg * (Math.abs(uv) + eu) + Math.abs(s) * eu + GEMV_TOLERANCE.bf16Ulp * Math.abs(v) + 1e-30;
      }
    }
    ref.act = act;
    ref.actTol = actTol;
  }
  return ref;
}

export type GemvComparison = KernelComparison;

/** Compares a kernel result ({ c } or { act }) with the reference. NaN anywhere fails. */
export function compareGemv(x: GemvCaseInput, out: { c?: Float32Array; act?: Uint16Array }, ref: GemvReference): GemvComparison {
  const swiglu = x.output === "swiglu";
  const expected = swiglu ? (ref.act as Float64Array) : ref.product;
  const tol = swiglu ? (ref.actTol as Float64Array) : ref.productTol;
  const got = swiglu ? out.act : out.c;
  if (!got || got.length !== expected.length) {
    return { ok: false, checked: 0, bad: expected.length, maxAbsError: Number.NaN, worstRatio: Number.POSITIVE_INFINITY, firstBad: `output length ${got?.length} != ${expected.length}` };
  }
  let bad = 0;
  let maxAbsError = 0;
  let worstRatio = 0;
  let firstBad = "";
  for (let i = 0; i < expected.length; i++) {
    const v = swiglu ? bf16ToF32((got as Uint16Array)[i]) : (got as Float32Array)[i];
    const err = Math.abs(v - expected[i]);
    const ratio = Number.isNaN(err) ? Number.POSITIVE_INFINITY : err / tol[i];
    if (!(err <= tol[i])) {
      bad++;
      if (!firstBad) firstBad = `[${i}]: got ${v}, expected ${expected[i]}, tol ${tol[i].toExponential(2)}`;
    }
    if (!Number.isNaN(err)) maxAbsError = Math.max(maxAbsError, err);
    worstRatio = Math.max(worstRatio, ratio);
  }
  return { ok: bad === 0, checked: expected.length, bad, maxAbsError, worstRatio, firstBad };
}
