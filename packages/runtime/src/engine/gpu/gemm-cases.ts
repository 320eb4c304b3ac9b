/**
 * GPU check cases of the engine GEMM (run by dist/gpu/check.js on a CUDA host). Each case builds
 * random bf16 inputs from a seed (normal values, so sums cancel and relative errors are visible),
 * runs the kernel through the binding and compares with the float64 reference; nothing throws.
 *
 * Tolerance (GEMM_TOLERANCE in ../kernels/gemm-reference.ts): per output
 *   |c - ref| <= (ceil(K/16) + 8) * 2^-23 * sum_k |a_k w_k| + 2^-22 * (|C0| + |ref|),
 * the worst-case float32 accumulation bound of a 16-wide MMA chain; cuBLAS is compared with the
 * built-in kernel at twice that (each side carries the bound). Padding columns (ldc > N) must come
 * back unchanged, and with no C0 the device buffer starts as NaN, so a kernel that reads C when it
 * should not, or writes outside the matrix, fails.
 *
 * Shapes: the fixture model's GEMMs (M in {1, 3, 8, 33, 512} x (N, K) in {(1152, 384) qkv, (384, 384)
 * o-proj, (2048, 384) gate+up, (384, 1024) down, (8192, 384) lm head}), odd sizes (1x1x1, 5x7x13,
 * 17x33x65) that exercise the generic kernel and every tail, forced decode/prefill/generic paths
 * with M/N/K tails, strided and accumulating variants, and one 7B decode shape.
 */
import { seededRandom } from "@kvwalk/core/testing";
import { f32ToBf16 } from "@kvwalk/graph-cache";
import { compareGemm, type GemmInput, gemmReference } from "../kernels/gemm-reference.js";
import { gaussian, type GpuCase, guarded as guard } from "./case-frame.js";
import type { GemmAddon, GemmBackendName, GemmPathName } from "./gemm-addon-types.js";

export type { CaseReport } from "./case-frame.js";
export type GemmCase = GpuCase;

interface Shape {
  M: number;
  N: number;
  K: number;
}

interface CaseSpec extends Shape {
  seed: number;
  accumulate?: boolean;
  path?: GemmPathName;
  /** Extra elements per row (lda = K + padA, ...). */
  padA?: number;
  padW?: number;
  padC?: number;
}


export function randomGemmInput(spec: CaseSpec): GemmInput {
  const rnd = seededRandom(spec.seed);
  const g = gaussian(rnd);
  const lda = spec.K + (spec.padA ?? 0);
  const ldw = spec.K + (spec.padW ?? 0);
  const ldc = spec.N + (spec.padC ?? 0);
  const a = new Uint16Array(spec.M * lda);
  for (let i = 0; i < a.length; i++) a[i] = f32ToBf16(g());
  const w = new Uint16Array(spec.N * ldw);
  for (let i = 0; i < w.length; i++) w[i] = f32ToBf16(g());
  const c0 = spec.accumulate ? Float32Array.from({ length: spec.M * ldc }, () => 4 * g()) : null;
  return { M: spec.M, N: spec.N, K: spec.K, a, w, c0, lda, ldw, ldc };
}

/** All rows for small M; for large M every 7th row plus the last (the reference is O(M N K) in JS). */
function checkedRows(M: number): number[] {
  if (M <= 64) return Array.from({ length: M }, (_, i) => i);
  const rows: number[] = [];
  for (let m = 0; m < M; m += 7) rows.push(m);
  if (rows[rows.length - 1] !== M - 1) rows.push(M - 1);
  return rows;
}

function label(spec: CaseSpec): string {
  const parts = [`M=${spec.M} N=${spec.N} K=${spec.K}`];
  if (spec.path && spec.path !== "auto") parts.push(`path=${spec.path}`);
  if (spec.accumulate) parts.push("accumulate");
  if (spec.padA || spec.padW || spec.padC) parts.push(`pad=${spec.padA ?? 0}/${spec.padW ?? 0}/${spec.padC ?? 0}`);
  return parts.join(" ");
}


/** Built-in kernel vs the float64 reference. */
function builtinCase(addon: GemmAddon, spec: CaseSpec): GemmCase {
  return guard(`gemm builtin ${label(spec)}`, () => {
    const input = randomGemmInput(spec);
    const rows = checkedRows(spec.M);
    const ref = gemmReference(input, rows);
    const out = addon.gemmTest(spec.M, spec.N, spec.K, input.a, input.w, input.c0, "builtin", {
      path: spec.path ?? "auto",
      lda: input.lda,
      ldw: input.ldw,
      ldc: input.ldc,
    });
    const r = compareGemm(input, out, ref, rows);
    const detail = r.ok
      ? `max |err| ${r.maxAbsError.toExponential(2)}, worst err/tol ${r.worstRatio.toFixed(3)} over ${r.checked} outputs (path ${out.path})`
      : `${r.bad} outputs over tolerance, ${r.paddingChanged} padding entries changed; first: ${r.firstBad}; worst err/tol ${r.worstRatio.toExponential(2)} (path ${out.path})`;
    return { ok: r.ok, detail, path: out.path, maxAbsError: r.maxAbsError, worstRatio: r.worstRatio, checked: r.checked, M: spec.M, N: spec.N, K: spec.K };
  });
}

/** cuBLAS (or auto) vs the built-in kernel on the same inputs, at twice the tolerance. */
function backendCase(addon: GemmAddon, spec: CaseSpec, backend: GemmBackendName): GemmCase {
  return guard(`gemm ${backend} vs builtin ${label(spec)}`, () => {
    const input = randomGemmInput(spec);
    const opts = { lda: input.lda, ldw: input.ldw, ldc: input.ldc };
    const ours = addon.gemmTest(spec.M, spec.N, spec.K, input.a, input.w, input.c0, "builtin", opts);
    const theirs = addon.gemmTest(spec.M, spec.N, spec.K, input.a, input.w, input.c0, backend, opts);
    // Tolerances need sum|a w| per output: take them from the reference on the checked rows.
    const rows = checkedRows(spec.M);
    const ref = gemmReference(input, rows);
    const asRef = { c: ours, absSum: ref.absSum };
    const r = compareGemm(input, theirs, asRef, rows, 2);
    const detail = r.ok
      ? `max |diff| ${r.maxAbsError.toExponential(2)}, worst diff/tol ${r.worstRatio.toFixed(3)} over ${r.checked} outputs`
      : `${r.bad} outputs differ beyond 2x tolerance, ${r.paddingChanged} padding entries changed; first: ${r.firstBad}`;
    return { ok: r.ok, detail, maxAbsError: r.maxAbsError, worstRatio: r.worstRatio, M: spec.M, N: spec.N, K: spec.K };
  });
}

/** Split-K through `backend` (slices summed by the engine's epilogue kernel) vs the float64 reference. */
function splitKCase(addon: GemmAddon, spec: CaseSpec, backend: GemmBackendName, splitK: number): GemmCase {
  return guard(`gemm split-K ${splitK} ${backend} ${label(spec)}`, () => {
    const input = randomGemmInput(spec);
    const rows = checkedRows(spec.M);
    const ref = gemmReference(input, rows);
    const out = addon.gemmTest(spec.M, spec.N, spec.K, input.a, input.w, input.c0, backend, { splitK });
    const r = compareGemm(input, out, ref, rows);
    const detail = r.ok
      ? `max |err| ${r.maxAbsError.toExponential(2)}, worst err/tol ${r.worstRatio.toFixed(3)} over ${r.checked} outputs (${out.path})`
      : `${r.bad} outputs over tolerance; first: ${r.firstBad}; worst err/tol ${r.worstRatio.toExponential(2)} (${out.path})`;
    return { ok: r.ok, detail, path: out.path, maxAbsError: r.maxAbsError, worstRatio: r.worstRatio, checked: r.checked, M: spec.M, N: spec.N, K: spec.K };
  });
}

/** The fixture model's (N, K) pairs: qkv, o-proj, gate+up, down, lm head. */
export const FIXTURE_NK: readonly [number, number][] = [
  [1152, 384],
  [384, 384],
  [2048, 384],
  [384, 1024],
  [8192, 384],
];
export const FIXTURE_M: readonly number[] = [1, 3, 8, 33, 512];

/**
 * GEMM check cases. quick: the fixture shapes at M in {1, 8, 33} plus odd sizes and one of each
 * path/stride/accumulate variant; full adds M = 3 and 512, more tails and a 7B decode shape.
 */
export function gemmCases(addon: GemmAddon, quick: boolean): GemmCase[] {
  const cases: GemmCase[] = [];
  let seed = 100;
  const ms = quick ? [1, 8, 33] : FIXTURE_M;
  for (const M of ms) for (const [N, K] of FIXTURE_NK) cases.push(builtinCase(addon, { M, N, K, seed: seed++ }));
  if (quick) cases.push(builtinCase(addon, { M: 512, N: 1152, K: 384, seed: seed++ }));

  const odd: Shape[] = [
    { M: 1, N: 1, K: 1 },
    { M: 5, N: 7, K: 13 },
    { M: 17, N: 33, K: 65 },
  ];
  for (const s of odd) {
    cases.push(builtinCase(addon, { ...s, seed: seed++ }));
    cases.push(builtinCase(addon, { ...s, seed: seed++, accumulate: true, padA: 3, padW: 1, padC: 2 }));
  }
  // Every path on shapes with M, N and K tails (K % 32 = 8, so the last k tile is partial).
  const tails: Shape[] = quick
    ? [{ M: 130, N: 200, K: 136 }]
    : [
        { M: 130, N: 200, K: 136 },
        { M: 300, N: 257, K: 264 },
        { M: 64, N: 100, K: 40 },
        { M: 9, N: 4100, K: 8 },
      ];
  for (const s of tails) {
    for (const path of ["decode", "prefill", "generic"] as const) cases.push(builtinCase(addon, { ...s, path, seed: seed++ }));
    cases.push(builtinCase(addon, { ...s, seed: seed++, accumulate: true, padA: 8, padW: 16, padC: 3 }));
  }
  // M in (16, 32] with N wide enough for the 4-tile decode variant (N / 64 >= SM count), and narrow.
  cases.push(builtinCase(addon, { M: 24, N: 8448, K: 256, seed: seed++ }));
  cases.push(builtinCase(addon, { M: 32, N: 8960, K: 392, seed: seed++, accumulate: true }));
  cases.push(builtinCase(addon, { M: 20, N: 1000, K: 264, seed: seed++ }));
  // Odd strides force the generic kernel even at a fast shape.
  cases.push(builtinCase(addon, { M: 8, N: 384, K: 384, seed: seed++, padA: 1 }));
  if (!quick) {
    cases.push(builtinCase(addon, { M: 32, N: 4096, K: 4096, seed: seed++ }));
    cases.push(builtinCase(addon, { M: 1, N: 4096, K: 11008, seed: seed++, accumulate: true }));
    cases.push(builtinCase(addon, { M: 512, N: 8192, K: 384, seed: seed++, path: "prefill", accumulate: true, padC: 4 }));
  }

  // cuBLAS when it loads (otherwise one case that records why it was skipped, and passes).
  const info = addon.gemmBackend("cublas");
  if (info.ok) {
    const cub: CaseSpec[] = [
      { M: 1, N: 1152, K: 384, seed: seed++ },
      { M: 33, N: 2048, K: 384, seed: seed++, accumulate: true },
      { M: 512, N: 384, K: 1024, seed: seed++ },
      { M: 5, N: 7, K: 13, seed: seed++ },
      { M: 17, N: 33, K: 64, seed: seed++, accumulate: true, padA: 8, padW: 16, padC: 3 },
    ];
    for (const s of quick ? cub.slice(0, 3) : cub) cases.push(backendCase(addon, s, "cublas"));
  } else {
    cases.push({
      name: "gemm cublas vs builtin (skipped)",
      run: async () => ({ name: "gemm cublas vs builtin (skipped)", ok: true, skipped: true, detail: `cuBLAS not loadable: ${info.error}` }),
    });
  }
  // Split-K (the engine's O / down projections at decode batches) vs the float64 reference.
  const splits: (CaseSpec & { splitK: number; backend: GemmBackendName })[] = [
    { M: 32, N: 384, K: 1024, seed: seed++, accumulate: true, splitK: 4, backend: "builtin" },
    { M: 5, N: 384, K: 384, seed: seed++, splitK: 2, backend: "builtin" },
  ];
  if (info.ok) {
    splits.push({ M: 32, N: 384, K: 1024, seed: seed++, accumulate: true, splitK: 4, backend: "cublas" });
    splits.push({ M: 17, N: 200, K: 384, seed: seed++, splitK: 8, backend: "cublas" });
    if (!quick) splits.push({ M: 32, N: 4096, K: 11008, seed: seed++, accumulate: true, splitK: 4, backend: "cublas" });
  }
  for (const s of splits) cases.push(splitKCase(addon, s, s.backend, s.splitK));
  cases.push(
    guard("gemm auto backend", () => {
      const auto = addon.gemmBackend("auto");
      if (!auto.ok) return { ok: false, detail: `auto backend failed: ${auto.error}` };
      const expected = info.ok ? "cublas" : "builtin";
      return { ok: auto.backend === expected, detail: `auto chose ${auto.name} (expected ${expected})`, backendName: auto.name };
    }),
  );
  return cases;
}
