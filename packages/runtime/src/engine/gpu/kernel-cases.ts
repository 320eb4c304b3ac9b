/**
 * CUDA-vs-twin checks of the engine's element-wise, attention, sampling and fill kernels
 * (kernel_tests.cc against src/engine/kernels/reference.ts). Each case builds seeded inputs, runs both
 * sides and returns a report; nothing throws (a binding error becomes ok: false with the message).
 *
 * Shapes: the fixture model (hidden 384, H = KVH = 6, D = 64, I = 1024, V = 8192) at T in {1, 7, 64, 300},
 * GQA H = 8 / KVH = 2 with D = 128, a sliding window of 16, and odd sizes. TOLERANCES says why each bound.
 */
import { seededRandom } from "@kvwalk/core/testing";
import {
  bf16ToF32,
  bf16UlpDistance,
  embedReference,
  fillConstBf16Reference,
  fillUniformBf16Reference,
  prefillAttentionReference,
  residualRmsnormReference,
  rmsnormReference,
  ropeAppendReference,
  sampleReference,
  softmaxLogprob,
  swigluReference,
  toBf16,
} from "../kernels/reference.js";
import { type CaseBody, type CaseReport, gaussian, guarded } from "./case-frame.js";
import type { KernelTestAddon } from "./kernel-addon-types.js";

export type { CaseReport } from "./case-frame.js";


export const KERNEL_TOLERANCES = {
  /** embed, f32 -> bf16, fills: both sides are exact programs (bit copies, RNE, Philox + exact f32 ops). */
  exact: 0,
  /**
   * rmsnorm / swiglu / rope's bf16 K: at most 1 bf16 ulp. The twin differs from the kernel only by a few
   * f32 ulps (f32 tree sum vs f64 sum of squares; expf / sincosf within 2 ulp of the correctly rounded
   * value), which can only flip the final bf16 rounding when the f32 value sits next to a bf16 tie.
   */
  bf16Ulps: 1,
  /**
   * rope's f32 q: |cuda - twin| <= 2^-20 (|x_i| + |x_{i +- D/2}|). Same operations on both sides; cos and
   * sin may differ by 2 f32 ulps (<= 2^-23 absolute for values <= 1), then two products and a sum round.
   */
  ropeQRel: 2 ** -20,
  /**
   * Attention: |cuda - ref| <= atol + rtol |ref| with the exact f64 reference. The kernel rounds q and the
   * softmax weights P to bf16 (relative 2^-9 each) for its tensor-core products and stores bf16 (2^-9
   * relative); with q, k, v ~ N(0, 1) and scale 1/sqrt(D) the logits are O(1), so the logit error is
   * ~2^-9 * |s| and the output error stays below ~1e-2 (measured max ~0.01 on an H200 over T <= 2048).
   * A kernel with a wrong mask, head mapping or softmax is off by O(0.1 - 1).
   */
  attention: { atol: 2e-2, rtol: 1e-2 },
  /** logprob: same f32 difference x - m0; log-sum-exp differs only by expf vs exp (a few f32 ulps). */
  logprob: { atol: 2e-5, rtol: 1e-6 },
  /**
   * Sampled tokens must equal the twin's for the same Philox uniform, except when the twin's inverse-CDF
   * target r lies within this relative distance of a CDF boundary (expf and summation order differ by
   * ~1e-7 relative); such cases are counted separately, never silently.
   */
  sampleBoundary: 1e-5,
} as const;


function countDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) n++;
  return n;
}

function ulpReport(cuda: Uint16Array, ref: Uint16Array, maxUlps: number, shape: string): CaseBody {
  if (cuda.length !== ref.length) return { ok: false, detail: `length ${cuda.length}, expected ${ref.length}` };
  let worst = 0;
  let worstAt = -1;
  let differing = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = bf16UlpDistance(cuda[i], ref[i]);
    if (d > 0) differing++;
    if (d > worst) {
      worst = d;
      worstAt = i;
    }
  }
  const ok = worst <= maxUlps;
  const at = worstAt >= 0 ? ` (worst at ${worstAt}: cuda ${bf16ToF32(cuda[worstAt])} vs ref ${bf16ToF32(ref[worstAt])})` : "";
  return {
    ok,
    detail: `${shape}: max ${worst} bf16 ulp, ${differing}/${ref.length} differ, tolerance ${maxUlps} ulp${at}`,
    maxUlps: worst,
    differing,
    tolerance: maxUlps,
  };
}

function embedCase(addon: KernelTestAddon, T: number, withBad: boolean) {
  const vocab = 8192;
  const hidden = 384;
  return guarded(`embed T=${T} hidden=${hidden} vocab=${vocab}${withBad ? " bad-token" : ""}`, () => {
    const rnd = seededRandom(100 + T);
    const g = gaussian(rnd);
    const table = toBf16(Float32Array.from({ length: vocab * hidden }, g));
    const tokens = Int32Array.from({ length: T }, () => Math.floor(rnd() * vocab));
    if (withBad) {
      tokens[0] = vocab;
      if (T > 1) tokens[T - 1] = -3;
    }
    const cuda = addon.kernelEmbed({ tokens, table, vocab, hidden });
    const ref = embedReference(tokens, table, vocab, hidden);
    const diff = countDiff(cuda.x, ref.x);
    const ok = diff === 0 && cuda.errorFlag === ref.errorFlag;
    return { ok, detail: `${diff} differing values (exact expected), errorFlag cuda ${cuda.errorFlag} ref ${ref.errorFlag}`, differing: diff };
  });
}

function rmsnormCase(addon: KernelTestAddon, T: number, hidden: number) {
  return guarded(`rmsnorm T=${T} hidden=${hidden}`, () => {
    const rnd = seededRandom(200 + T * 7 + hidden);
    const g = gaussian(rnd);
    const x = Float32Array.from({ length: T * hidden }, () => g() * 3);
    const w = toBf16(Float32Array.from({ length: hidden }, () => 1 + 0.3 * g()));
    const eps = 1e-5;
    return ulpReport(addon.kernelRmsnorm({ x, w, T, hidden, eps }), rmsnormReference(x, w, T, hidden, eps), KERNEL_TOLERANCES.bf16Ulps, `[${T}, ${hidden}]`);
  });
}

/** Split-K epilogue: the residual sum bit-exact, the fused RMSNorm within the rmsnorm case's ulps. */
function residualRmsnormCase(addon: KernelTestAddon, T: number, hidden: number, numParts: number, norm: boolean) {
  return guarded(`residual rmsnorm T=${T} hidden=${hidden} parts=${numParts}${norm ? "" : " (sum only)"}`, () => {
    const rnd = seededRandom(300 + T * 7 + hidden + numParts);
    const g = gaussian(rnd);
    const x = Float32Array.from({ length: T * hidden }, () => g() * 3);
    const parts = Float32Array.from({ length: numParts * T * hidden }, () => g());
    const w = norm ? toBf16(Float32Array.from({ length: hidden }, () => 1 + 0.3 * g())) : undefined;
    const eps = 1e-5;
    const cuda = addon.kernelResidualRmsnorm({ x, parts, numParts, w, T, hidden, eps });
    const ref = residualRmsnormReference(x, parts, numParts, w ?? null, T, hidden, eps);
    const diff = countDiff(cuda.x, ref.x);
    if (diff !== 0 || !norm) return { ok: diff === 0, detail: `residual: ${diff} differing values (exact expected)`, differing: diff };
    if (!cuda.out || !ref.out) return { ok: false, detail: "the normalized output is missing" };
    const r = ulpReport(cuda.out, ref.out, KERNEL_TOLERANCES.bf16Ulps, `[${T}, ${hidden}]`);
    return { ...r, detail: `residual exact; ${r.detail}` };
  });
}

function ropeCase(addon: KernelTestAddon, T: number, H: number, KVH: number, D: number) {
  return guarded(`rope_append T=${T} H=${H} KVH=${KVH} D=${D}`, () => {
    const rnd = seededRandom(300 + T + H * 13 + D);
    const g = gaussian(rnd);
    const regions = 2;
    const capacity = 2 * T + 5;
    const qkv = Float32Array.from({ length: T * (H + 2 * KVH) * D }, g);
    const invFreq = Float32Array.from({ length: D / 2 }, (_, i) => Math.fround(1 / Math.fround(10000 ** Math.fround((2 * i) / D))));
    const positions = Int32Array.from({ length: T }, (_, t) => (t % 3 === 0 ? Math.floor(rnd() * 32768) : t));
    const region = Int32Array.from({ length: T }, () => Math.floor(rnd() * regions));
    // distinct (region, slot) per token (2t + t%2 is injective), with gaps between the used slots
    const slot = Int32Array.from({ length: T }, (_, t) => 2 * t + (t % 2));
    const cacheN = regions * KVH * capacity * D;
    const kCache = new Uint16Array(cacheN).fill(0x7fc1);
    const vCache = new Uint16Array(cacheN).fill(0x7fc1);
    const input = { qkv, T, H, KVH, D, invFreq, positions, region, slot, capacity, kCache, vCache };
    const cuda = addon.kernelRopeAppend({ ...input, regions });
    const ref = ropeAppendReference(input);
    let worstQ = 0;
    let qBad = 0;
    const half = D / 2;
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < H; h++) {
        for (let d = 0; d < D; d++) {
          const x = qkv[(t * (H + 2 * KVH) + h) * D + d];
          const xp = qkv[(t * (H + 2 * KVH) + h) * D + (d < half ? d + half : d - half)];
          const i = (t * H + h) * D + d;
          const err = Math.abs(cuda.q[i] - ref.q[i]);
          const tol = KERNEL_TOLERANCES.ropeQRel * (Math.abs(x) + Math.abs(xp));
          worstQ = Math.max(worstQ, err / (tol || 1e-30));
          if (!(err <= tol)) qBad++;
        }
      }
    }
    const k = ulpReport(cuda.kCache, ref.kCache, KERNEL_TOLERANCES.bf16Ulps, "k cache");
    const vDiff = countDiff(cuda.vCache, ref.vCache);
    const ok = qBad === 0 && k.ok && vDiff === 0;
    return {
      ok,
      detail: `q: ${qBad} outside 2^-20 (|x_i|+|x_pair|) (worst ${worstQ.toFixed(3)} of tolerance); ${k.detail}; v cache: ${vDiff} differing (exact expected, untouched slots included)`,
      qWorstOfTolerance: worstQ,
    };
  });
}

function attentionCase(addon: KernelTestAddon, T: number, H: number, KVH: number, D: number, window: number, extraCapacity: number) {
  return guarded(`prefill_attention T=${T} H=${H} KVH=${KVH} D=${D} window=${window} capacity=${T + extraCapacity}`, () => {
    const rnd = seededRandom(400 + T * 3 + H + D + window);
    const g = gaussian(rnd);
    const capacity = T + extraCapacity;
    const q = Float32Array.from({ length: T * H * D }, g);
    const k = toBf16(Float32Array.from({ length: KVH * capacity * D }, g));
    const v = toBf16(Float32Array.from({ length: KVH * capacity * D }, g));
    // poison the slots beyond T: the kernel must not read them into any output
    for (let h = 0; h < KVH; h++) for (let j = T; j < capacity; j++) for (let d = 0; d < D; d++) v[(h * capacity + j) * D + d] = 0x7fc0;
    const input = { q, k, v, T, H, KVH, D, capacity, window, scale: 1 / Math.sqrt(D) };
    const cuda = addon.kernelPrefillAttention(input);
    const ref = prefillAttentionReference(input);
    const { atol, rtol } = KERNEL_TOLERANCES.attention;
    let maxAbs = 0;
    let bad = 0;
    let worstAt = -1;
    let worstRatio = 0;
    for (let i = 0; i < ref.length; i++) {
      const c = bf16ToF32(cuda[i]);
      const err = Math.abs(c - ref[i]);
      const tol = atol + rtol * Math.abs(ref[i]);
      if (!(err <= tol)) bad++;
      const ratio = Number.isNaN(err) ? Number.POSITIVE_INFINITY : err / tol;
      if (ratio > worstRatio) {
        worstRatio = ratio;
        worstAt = i;
      }
      if (err > maxAbs || Number.isNaN(err)) maxAbs = Number.isNaN(err) ? Number.NaN : err;
    }
    const where =
      worstAt >= 0
        ? ` worst at t=${Math.floor(worstAt / (H * D))} h=${Math.floor((worstAt % (H * D)) / D)} d=${worstAt % D}: cuda ${bf16ToF32(cuda[worstAt])} ref ${ref[worstAt]}`
        : "";
    return {
      ok: bad === 0 && cuda.length === ref.length,
      detail: `[${T}, ${H}*${D}]: max |err| ${maxAbs.toExponential(3)}, ${bad} outside atol ${atol} + rtol ${rtol}|ref|;${where}`,
      maxAbsError: maxAbs,
      outside: bad,
    };
  });
}

function swigluCase(addon: KernelTestAddon, T: number, I: number) {
  return guarded(`swiglu T=${T} I=${I}`, () => {
    const g = gaussian(seededRandom(500 + T + I));
    const gu = Float32Array.from({ length: T * 2 * I }, () => g() * 4);
    if (gu.length > 2) {
      gu[0] = -100; // exp overflow -> silu = -0
      gu[1] = 90;
    }
    return ulpReport(addon.kernelSwiglu({ gu, T, I }), swigluReference(gu, T, I), KERNEL_TOLERANCES.bf16Ulps, `[${T}, ${I}]`);
  });
}

function f32ToBf16Case(addon: KernelTestAddon, n: number) {
  return guarded(`f32_to_bf16 n=${n} (ties, denormals, inf, NaN)`, () => {
    const rnd = seededRandom(600 + n);
    const g = gaussian(rnd);
    const values = Float32Array.from({ length: n }, (_, i) => {
      switch (i % 8) {
        case 0:
          return 1 + 2 ** -8; // tie -> even
        case 1:
          return 2 ** -130 * (1 + rnd()); // denormal
        case 2:
          return i % 16 === 2 ? Number.POSITIVE_INFINITY : 3.4e38;
        case 3:
          return i % 16 === 3 ? Number.NaN : -0;
        default:
          return g() * 10 ** Math.floor(rnd() * 6 - 3);
      }
    });
    const cuda = addon.kernelF32ToBf16({ values });
    const ref = toBf16(values);
    const diff = countDiff(cuda, ref);
    return { ok: diff === 0, detail: `${diff}/${n} differing bit patterns (exact expected)`, differing: diff };
  });
}

function sampleCase(addon: KernelTestAddon, B: number, V: number, steps: number) {
  return guarded(`sample B=${B} V=${V} steps=${steps}`, () => {
    const rnd = seededRandom(700 + B + V);
    const g = gaussian(rnd);
    const logits = Float32Array.from({ length: B * V }, () => g() * 3);
    const temperature = new Float32Array(B);
    const topP = new Float32Array(B);
    for (let b = 0; b < B; b++) {
      temperature[b] = b % 4 === 0 ? 0 : [0.5, 0.8, 1.3][b % 3];
      topP[b] = [1, 0.9, 0.3, 0][b % 4];
      // row b % 5 == 1: a tie for the maximum (greedy must take the lower index)
      if (b % 5 === 1 && V > 3) {
        logits[b * V + 1] = 20;
        logits[b * V + 3] = 20;
      }
    }
    const seed = 12345;
    let mismatches = 0;
    let nearBoundary = 0;
    let greedyWrong = 0;
    let lpBad = 0;
    let worstLp = 0;
    const notes: string[] = [];
    for (let step = 0; step < steps; step++) {
      const cuda = addon.kernelSample({ logits, B, V, temperature, topP, seed, step });
      const ref = sampleReference({ logits, B, V, temperature, topP, seed, step });
      for (let b = 0; b < B; b++) {
        const row = ref.rows[b];
        if (cuda.tokens[b] !== ref.tokens[b]) {
          if (!(temperature[b] > 0)) greedyWrong++;
          else if ((row.boundaryMargin ?? 0) < KERNEL_TOLERANCES.sampleBoundary) nearBoundary++;
          else mismatches++;
          if (notes.length < 4) notes.push(`step ${step} row ${b}: cuda ${cuda.tokens[b]} twin ${ref.tokens[b]} (T=${temperature[b]}, p=${topP[b]}, margin ${row.boundaryMargin})`);
        }
        const { atol, rtol } = KERNEL_TOLERANCES.logprob;
        // logprob of the token CUDA chose, under the plain softmax
        const lpRef = softmaxLogprob(logits.subarray(b * V, (b + 1) * V), cuda.tokens[b]);
        const err = Math.abs(cuda.logprob[b] - lpRef);
        worstLp = Math.max(worstLp, err);
        if (!(err <= atol + rtol * Math.abs(lpRef))) lpBad++;
      }
    }
    const ok = mismatches === 0 && greedyWrong === 0 && lpBad === 0;
    return {
      ok,
      detail: `${B * steps} draws: ${mismatches} token mismatches away from a CDF boundary, ${nearBoundary} within ${KERNEL_TOLERANCES.sampleBoundary} of one (allowed), ${greedyWrong} greedy mismatches; logprob max |err| ${worstLp.toExponential(2)} (${lpBad} outside tolerance)${notes.length ? `; ${notes.join("; ")}` : ""}`,
      mismatches,
      nearBoundary,
      greedyWrong,
      logprobMaxError: worstLp,
    };
  });
}

function fillCase(addon: KernelTestAddon, n: number) {
  return guarded(`fill_uniform/const bf16 n=${n}`, () => {
    const u = addon.kernelFillUniformBf16({ n, seed: 77, amplitude: 0.02 });
    const du = countDiff(u, fillUniformBf16Reference(n, 77, 0.02));
    const c = addon.kernelFillConstBf16({ n, value: -1.25 });
    const dc = countDiff(c, fillConstBf16Reference(n, -1.25));
    return { ok: du === 0 && dc === 0, detail: `uniform: ${du}/${n} differ, const: ${dc}/${n} differ (exact expected)` };
  });
}

/** All kernel cases; `quick` keeps one shape per kernel family plus GQA and the window. */
export function kernelCases(addon: KernelTestAddon, quick: boolean): { name: string; run(): Promise<CaseReport> }[] {
  const Ts = quick ? [7, 64] : [1, 7, 64, 300];
  const cases: { name: string; run(): Promise<CaseReport> }[] = [];
  for (const T of Ts) cases.push(embedCase(addon, T, T === 7));
  for (const T of Ts) cases.push(rmsnormCase(addon, T, 384));
  cases.push(rmsnormCase(addon, 3, 4096), rmsnormCase(addon, 5, 37));
  cases.push(
    residualRmsnormCase(addon, 32, 4096, 4, true),
    residualRmsnormCase(addon, 7, 384, 2, true),
    residualRmsnormCase(addon, 5, 37, 3, true),
    residualRmsnormCase(addon, 9, 384, 8, false),
  );
  for (const T of Ts) cases.push(ropeCase(addon, T, 6, 6, 64));
  cases.push(ropeCase(addon, 33, 8, 2, 128), ropeCase(addon, 3, 2, 1, 6));
  for (const T of Ts) cases.push(attentionCase(addon, T, 6, 6, 64, 0, 3));
  cases.push(
    attentionCase(addon, 300, 8, 2, 128, 0, 0),
    attentionCase(addon, 300, 6, 6, 64, 16, 20),
    attentionCase(addon, 129, 8, 2, 128, 16, 1),
    attentionCase(addon, 1, 8, 2, 128, 16, 0),
  );
  if (!quick) cases.push(attentionCase(addon, 1000, 4, 1, 128, 200, 24), attentionCase(addon, 777, 6, 6, 64, 0, 0));
  for (const T of Ts) cases.push(swigluCase(addon, T, 1024));
  cases.push(swigluCase(addon, 3, 37));
  cases.push(f32ToBf16Case(addon, 4099));
  cases.push(sampleCase(addon, 12, 8192, quick ? 5 : 20), sampleCase(addon, 5, 1001, 10), sampleCase(addon, 3, 1, 3));
  if (!quick) cases.push(sampleCase(addon, 4, 32000, 5), sampleCase(addon, 2, 128000, 2));
  cases.push(fillCase(addon, 4099), fillCase(addon, 3));
  return cases;
}
