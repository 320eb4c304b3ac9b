/**
 * Reference of the engine GEMM (native/src/engine_launchers.h, "GEMM"):
 *
 *   C[m, n] = (C0 ? C0[m, n] : 0) + sum_k A[m, k] * W[n, k]
 *
 * A bf16 bits [M, K] (row stride lda), W bf16 bits [N, K] (row stride ldw, the checkpoint's [out, in]
 * layout), C f32 [M, N] (row stride ldc). Products of bf16 values are exact in float64 and the sum is
 * float64, so the reference is exact up to one final rounding to float32 (plus float64 rounding,
 * ~2^-53 relative, negligible).
 *
 * Tolerance of a float32-accumulating kernel (GEMM_TOLERANCE): each output is a sum of K exact
 * products accumulated in float32. Tensor-core MMAs add 16 products per instruction into a float32
 * accumulator (one rounding, possibly truncating, error <= 2^-23 of the running magnitude), and the
 * split-K/cross-warp sums add a few more roundings. So |c - ref| <= (ceil(K/16) + 8) * 2^-23 *
 * S[m, n] + 2^-22 * (|C0[m, n]| + |ref|), where S[m, n] = sum_k |A[m, k] W[n, k]| (the scale of the
 * rounding errors, not of the result). This is a worst-case bound, tens of times above the typical
 * error; a fragment-mapping or tail bug produces errors of order S (or of one product, S/K, times the
 * number of misplaced terms), well above it except for a single dropped term at very large K, which
 * the odd-size cases catch.
 */
import { bf16ToF32 } from "@kvwalk/graph-cache";

export interface GemmInput {
  M: number;
  N: number;
  K: number;
  /** bf16 bits, length M * lda. */
  a: Uint16Array;
  /** bf16 bits, length N * ldw. */
  w: Uint16Array;
  /** Accumulate into this (length M * ldc), or null for C = A . W^T. */
  c0: Float32Array | null;
  /** Row strides in elements (default K, K, N). */
  lda?: number;
  ldw?: number;
  ldc?: number;
}

export interface GemmReference {
  /** f32 [M, ldc]; padding columns n in [N, ldc) copy C0 or are NaN when C0 is null. Rows not in `rows` are NaN. */
  c: Float32Array;
  /** sum_k |A[m,k] W[n,k]| per output, [M, ldc] (0 in padding and skipped rows). */
  absSum: Float64Array;
}

export const GEMM_TOLERANCE = {
  /** Error per MMA accumulation step, relative to S[m, n]. */
  perStep: 2 ** -23,
  /** Extra accumulation steps allowed for split-K and cross-warp sums. */
  extraSteps: 8,
  /** Final-rounding slack relative to |C0| + |ref|. */
  output: 2 ** -22,
} as const;

function strides(input: GemmInput): { lda: number; ldw: number; ldc: number } {
  return { lda: input.lda ?? input.K, ldw: input.ldw ?? input.K, ldc: input.ldc ?? input.N };
}

function check(input: GemmInput): void {
  const { M, N, K, a, w, c0 } = input;
  const { lda, ldw, ldc } = strides(input);
  for (const [name, v] of [
    ["M", M],
    ["N", N],
    ["K", K],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`Expected a positive integer for ${name} but received ${v}`);
  }
  if (!Number.isInteger(lda) || lda < K) throw new RangeError(`Expected an integer >= K (${K}) for lda but received ${lda}`);
  if (!Number.isInteger(ldw) || ldw < K) throw new RangeError(`Expected an integer >= K (${K}) for ldw but received ${ldw}`);
  if (!Number.isInteger(ldc) || ldc < N) throw new RangeError(`Expected an integer >= N (${N}) for ldc but received ${ldc}`);
  if (a.length !== M * lda) throw new RangeError(`Expected a of length M*lda = ${M * lda} but received length ${a.length}`);
  if (w.length !== N * ldw) throw new RangeError(`Expected w of length N*ldw = ${N * ldw} but received length ${w.length}`);
  if (c0 && c0.length !== M * ldc) throw new RangeError(`Expected c0 of length M*ldc = ${M * ldc} but received length ${c0.length}`);
}

/**
 * Reference GEMM. `rows` (optional) restricts the computation to these rows of C (for large M);
 * other rows come back NaN with absSum 0.
 */
export function gemmReference(input: GemmInput, rows?: ArrayLike<number>): GemmReference {
  check(input);
  const { M, N, K, a, w, c0 } = input;
  const { lda, ldw, ldc } = strides(input);
  const c = new Float32Array(M * ldc).fill(Number.NaN);
  const absSum = new Float64Array(M * ldc);
  if (c0) for (let m = 0; m < M; m++) for (let n = N; n < ldc; n++) c[m * ldc + n] = c0[m * ldc + n];
  const wf = new Float64Array(N * K);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) wf[n * K + k] = bf16ToF32(w[n * ldw + k]);
  const arow = new Float64Array(K);
  const rowList = rows ?? Array.from({ length: M }, (_, i) => i);
  for (let r = 0; r < rowList.length; r++) {
    const m = rowList[r];
    if (!Number.isInteger(m) || m < 0 || m >= M) throw new RangeError(`Expected row indices in [0, ${M}) but received ${m}`);
    for (let k = 0; k < K; k++) arow[k] = bf16ToF32(a[m * lda + k]);
    for (let n = 0; n < N; n++) {
      let s = 0;
      let sa = 0;
      const base = n * K;
      for (let k = 0; k < K; k++) {
        const p = arow[k] * wf[base + k];
        s += p;
        sa += Math.abs(p);
      }
      const i = m * ldc + n;
      c[i] = (c0 ? c0[i] : 0) + s;
      absSum[i] = sa;
    }
  }
  return { c, absSum };
}

/** Allowed |actual - ref| for one output (see GEMM_TOLERANCE). */
export function gemmTolerance(K: number, absSum: number, c0: number, ref: number): number {
  return (
    (Math.ceil(K / 16) + GEMM_TOLERANCE.extraSteps) * GEMM_TOLERANCE.perStep * absSum +
    GEMM_TOLERANCE.output * (Math.abs(c0) + Math.abs(ref)) +
    1e-30
  );
}

/** A kernel's outputs against a reference with per-output tolerances (the GEMM and GEMV checks). */
export interface KernelComparison {
  ok: boolean;
  /** Outputs checked. */
  checked: number;
  /** Outputs over tolerance (NaN where a number was expected counts). */
  bad: number;
  maxAbsError: number;
  /** max |actual - ref| / tolerance (<= 1 passes). */
  worstRatio: number;
  /** First failing output as "[m, n]: actual x, expected y, tol t", or "" when ok. */
  firstBad: string;
}

export interface GemmComparison extends KernelComparison {
  /** Padding entries (n in [N, ldc)) that changed (expected: none); also counted in `checked`. */
  paddingChanged: number;
}

/**
 * Compares a kernel's C [M, ldc] with the reference on `rows` (default all). `toleranceScale`
 * multiplies the bound (2 when comparing two kernels that each carry it). Padding columns must be
 * unchanged: equal to C0, or NaN when C0 is null (the binding's sentinel).
 */
export function compareGemm(
  input: GemmInput,
  actual: Float32Array,
  ref: GemmReference,
  rows?: ArrayLike<number>,
  toleranceScale = 1,
): GemmComparison {
  const { M, N, K, c0 } = input;
  const { ldc } = strides(input);
  if (actual.length !== M * ldc) throw new RangeError(`Expected actual of length M*ldc = ${M * ldc} but received length ${actual.length}`);
  const rowList = rows ?? Array.from({ length: M }, (_, i) => i);
  let checked = 0;
  let bad = 0;
  let maxAbsError = 0;
  let worstRatio = 0;
  let firstBad = "";
  let paddingChanged = 0;
  for (let r = 0; r < rowList.length; r++) {
    const m = rowList[r];
    for (let n = 0; n < ldc; n++) {
      const i = m * ldc + n;
      const got = actual[i];
      checked++;
      if (n >= N) {
        const want = c0 ? c0[i] : Number.NaN;
        const same = Number.isNaN(want) ? Number.isNaN(got) : Object.is(got, Math.fround(want));
        if (!same) paddingChanged++;
        continue;
      }
      const want = ref.c[i];
      const tol = toleranceScale * gemmTolerance(K, ref.absSum[i], c0 ? c0[i] : 0, want);
      const d = Math.abs(got - want);
      const ratio = d / tol;
      if (!(d <= tol)) {
        bad++;
        if (!firstBad) firstBad = `[${m}, ${n}]: actual ${got}, expected ${want}, tol ${tol.toExponential(2)}`;
      }
      if (Number.isFinite(d) && d > maxAbsError) maxAbsError = d;
      if (!(ratio <= worstRatio)) worstRatio = Number.isNaN(ratio) ? Number.POSITIVE_INFINITY : ratio;
    }
  }
  return { ok: bad === 0 && paddingChanged === 0, checked, bad, maxAbsError, worstRatio, firstBad, paddingChanged };
}
