/**
 * GPU check cases of the fused small-batch GEMV (launch_gemv through kernel_tests.cc kernelGemv) against
 * its TypeScript twin (../kernels/gemv-reference.ts: rmsnorm / bf16 staging, float64 product, SwiGLU),
 * with the tolerance argued there. Inputs are seeded normal values (activations scaled like a residual
 * stream, weights ~0.05 like a trained projection) so sums cancel and mapping errors show.
 *
 * Shapes: the fixture model's four decode products and LM head at M in {1, 2, 3, 4, 8} for every input
 * and output kind used by the engine, odd N and K (K = 8, 24, 392; N = 1, 2, 7, 4098) and the largest
 * shared-memory case (M = 8, K = 11008). Batch invariance: rows computed at M = 5 equal the same rows
 * computed one at a time, bit for bit (the engine's batch == single guarantee). Bad arguments: K not a
 * multiple of 8, odd N with SwiGLU, M = 9 are refused with the parameter named.
 */
import { seededRandom } from "@kvwalk/core/testing";
import { f32ToBf16 } from "@kvwalk/graph-cache";
import {
  compareGemv,
  GEMV_INPUT_CODE,
  GEMV_OUTPUT_CODE,
  type GemvCaseInput,
  type GemvInputKind,
  type GemvOutputKind,
  gemvReference,
} from "../kernels/gemv-reference.js";
import { gaussian, type GpuCase, guarded } from "./case-frame.js";

export interface GemvAddon {
  /** launch_gemv; input / output as GEMV_INPUT_CODE / GEMV_OUTPUT_CODE numbers. */
  kernelGemv(args: Omit<GemvCaseInput, "input" | "output"> & { input: number; output: number }): { c?: Float32Array; act?: Uint16Array };
  gemvBench(args: { input: number; output: number; M: number; N: number; K: number; eps?: number; iters: number; pdl?: boolean }): {
    medianUs: number;
    minUs: number;
    wCopies: number;
    launchesPerSample: number;
  };
}

interface Spec {
  input: GemvInputKind;
  output: GemvOutputKind;
  M: number;
  N: number;
  K: number;
  accumulate?: boolean;
  seed: number;
}

export function randomGemvInput(spec: Spec): GemvCaseInput {
  const g = gaussian(seededRandom(spec.seed));
  const { M, N, K } = spec;
  const a =
    spec.input === "bf16"
      ? Uint16Array.from({ length: M * K }, () => f32ToBf16(g()))
      : Float32Array.from({ length: M * K }, () => Math.fround(3 * g()));
  const normW = spec.input === "rmsnorm" ? Uint16Array.from({ length: K }, () => f32ToBf16(1 + 0.2 * g())) : undefined;
  const w = Uint16Array.from({ length: N * K }, () => f32ToBf16(0.05 * g()));
  const c0 = spec.accumulate ? Float32Array.from({ length: M * N }, () => Math.fround(2 * g())) : null;
  return { input: spec.input, output: spec.output, M, N, K, a, normW, eps: 1e-5, w, c0 };
}

function call(addon: GemvAddon, x: GemvCaseInput) {
  return addon.kernelGemv({
    input: GEMV_INPUT_CODE[x.input],
    output: GEMV_OUTPUT_CODE[x.output],
    M: x.M,
    N: x.N,
    K: x.K,
    a: x.a,
    normW: x.normW,
    eps: x.eps,
    w: x.w,
    c0: x.c0,
  });
}

function label(s: Spec): string {
  return `gemv ${s.input}->${s.output}${s.accumulate ? " accumulate" : ""} M=${s.M} N=${s.N} K=${s.K}`;
}

function twinCase(addon: GemvAddon, spec: Spec): GpuCase {
  return guarded(label(spec), () => {
    const x = randomGemvInput(spec);
    const ref = gemvReference(x);
    const r = compareGemv(x, call(addon, x), ref);
    const detail = r.ok
      ? `max |err| ${r.maxAbsError.toExponential(2)}, worst err/tol ${r.worstRatio.toFixed(3)} over ${r.checked} outputs`
      : `${r.bad}/${r.checked} outputs over tolerance; first ${r.firstBad}`;
    return { ok: r.ok, detail, maxAbsError: r.maxAbsError, worstRatio: r.worstRatio };
  });
}

/** Rows of an M = 5 call equal the same rows run alone, bit for bit. */
function batchInvarianceCase(addon: GemvAddon, input: GemvInputKind, output: GemvOutputKind, seed: number): GpuCase {
  const spec: Spec = { input, output, M: 5, N: 2048, K: 384, accumulate: output === "f32", seed };
  return guarded(`gemv batch invariance ${input}->${output} M=5 vs M=1`, () => {
    const x = randomGemvInput(spec);
    const all = call(addon, x);
    const K = x.K;
    const outW = output === "swiglu" ? x.N / 2 : x.N;
    let differing = 0;
    for (let m = 0; m < x.M; m++) {
      const one: GemvCaseInput = {
        ...x,
        M: 1,
        a: x.a.subarray(m * K, (m + 1) * K) as Uint16Array | Float32Array,
        c0: x.c0 ? x.c0.subarray(m * x.N, (m + 1) * x.N) : null,
      };
      const single = call(addon, one);
      const a = (output === "swiglu" ? all.act : all.c) as Uint16Array | Float32Array;
      const b = (output === "swiglu" ? single.act : single.c) as Uint16Array | Float32Array;
      for (let j = 0; j < outW; j++) if (!Object.is(a[m * outW + j], b[j])) differing++;
    }
    return { ok: differing === 0, detail: differing === 0 ? `${x.M * outW} outputs identical` : `${differing} outputs differ` };
  });
}

function rejectCase(addon: GemvAddon, what: string, args: Parameters<GemvAddon["kernelGemv"]>[0], parameter: string): GpuCase {
  return guarded(`gemv rejects ${what}`, () => {
    try {
      addon.kernelGemv(args);
      return { ok: false, detail: "accepted" };
    } catch (err) {
      const e = err as Error & { parameter?: string };
      const named = e.parameter === parameter || e.message.includes(parameter);
      return { ok: named, detail: e.message };
    }
  });
}

/** The fixture model's decode products: (input, output, N, K). */
const FIXTURE_PRODUCTS: readonly [GemvInputKind, GemvOutputKind, number, number, boolean][] = [
  ["rmsnorm", "f32", 1152, 384, false], // qkv
  ["f32", "f32", 384, 384, true], // o-proj + residual
  ["rmsnorm", "swiglu", 2048, 384, false], // gate/up + SwiGLU
  ["bf16", "f32", 384, 1024, true], // down + residual
  ["rmsnorm", "f32", 8192, 384, false], // final norm + LM head
];

export function gemvCases(addon: GemvAddon, quick: boolean): GpuCase[] {
  const cases: GpuCase[] = [];
  let seed = 900;
  const ms = quick ? [1, 3, 8] : [1, 2, 3, 4, 8];
  for (const M of ms)
    for (const [input, output, N, K, accumulate] of FIXTURE_PRODUCTS) cases.push(twinCase(addon, { input, output, M, N, K, accumulate, seed: seed++ }));
  const odd: Spec[] = [
    { input: "bf16", output: "f32", M: 1, N: 1, K: 8, seed: seed++ },
    { input: "f32", output: "f32", M: 2, N: 7, K: 24, accumulate: true, seed: seed++ },
    { input: "rmsnorm", output: "swiglu", M: 3, N: 2, K: 392, seed: seed++ },
    { input: "rmsnorm", output: "f32", M: 4, N: 4098, K: 392, seed: seed++ },
    { input: "bf16", output: "swiglu", M: 6, N: 1030, K: 136, seed: seed++ },
  ];
  for (const s of odd) cases.push(twinCase(addon, s));
  if (!quick) {
    cases.push(twinCase(addon, { input: "bf16", output: "f32", M: 8, N: 512, K: 11008, accumulate: true, seed: seed++ }));
    cases.push(twinCase(addon, { input: "rmsnorm", output: "swiglu", M: 1, N: 22016, K: 4096, seed: seed++ }));
  }
  cases.push(batchInvarianceCase(addon, "rmsnorm", "f32", seed++));
  cases.push(batchInvarianceCase(addon, "rmsnorm", "swiglu", seed++));
  cases.push(batchInvarianceCase(addon, "f32", "f32", seed++));
  const w = new Uint16Array(16 * 12);
  cases.push(rejectCase(addon, "K % 8 != 0", { input: 0, output: 0, M: 1, N: 16, K: 12, a: new Uint16Array(12), w }, "K"));
  cases.push(rejectCase(addon, "odd N with swiglu", { input: 0, output: 1, M: 1, N: 3, K: 8, a: new Uint16Array(8), w: new Uint16Array(24) }, "N"));
  cases.push(rejectCase(addon, "M = 9", { input: 0, output: 0, M: 9, N: 2, K: 8, a: new Uint16Array(72), w: new Uint16Array(16) }, "M"));
  return cases;
}
