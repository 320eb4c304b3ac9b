/**
 * Engine GEMM benchmark rows (wired into the runtime bench runner by the integrator).
 *
 * Decode (M = batch in {1, 8, 32}) at the Llama-2-7B shapes (N, K): qkv (12288, 4096), o-proj
 * (4096, 4096), gate+up fused (22016, 4096), down (4096, 11008), lm head (32000, 4096). These are
 * memory-bound on W: bytes = W + A + C (bf16 W/A, f32 C); bound = bytes / the device-to-device copy
 * bandwidth measured in the same run (read + write counted, so it is comparable with a kernel that
 * streams its bytes once); fraction = achieved GB/s / copy GB/s.
 * Prefill (M = 4096) at the same shapes: compute-bound; TFLOP/s = 2 M N K / time, fraction of the
 * 989 TFLOP/s dense bf16 peak of an H100/H200 SXM.
 * Each row is the median of CUDA-event samples of back-to-back launches on random device data, with
 * W rotated over copies totalling >= 256 MiB so repeated launches do not run from L2. cuBLAS rows
 * appear when libcublas loads ($KVWALK_CUBLAS or the usual sonames); otherwise `cublas` says why.
 */
import type { GemmAddon, GemmBackendName } from "../gpu/gemm-addon-types.js";
import type { GemvAddon } from "../gpu/gemv-cases.js";

export const PEAK_BF16_TFLOPS = 989;

/** Bytes a decode GEMM must move: W and A in bf16, C in f32 (the bound's numerator). */
export function decodeGemmBytes(M: number, N: number, K: number): number {
  return N * K * 2 + M * K * 2 + M * N * 4;
}

/** Llama-2-7B GEMM shapes [name, N, K]. */
export const GEMM_7B_SHAPES: readonly [string, number, number][] = [
  ["qkv", 12288, 4096],
  ["o-proj", 4096, 4096],
  ["gate+up", 22016, 4096],
  ["down", 4096, 11008],
  ["lm-head", 32000, 4096],
];
export const GEMM_DECODE_M: readonly number[] = [1, 8, 32];
export const GEMM_PREFILL_M = 4096;

export interface GemmBenchRow {
  shape: string;
  regime: "decode" | "prefill";
  backend: string;
  path: string;
  M: number;
  N: number;
  K: number;
  medianUs: number;
  /** Decode: achieved GB/s (bytes / time). */
  gbPerS?: number;
  /** Decode: bytes / copy bandwidth, us. */
  boundUs?: number;
  /** Decode: achieved / copy bandwidth; prefill: achieved / peak. */
  fraction: number;
  /** Prefill: achieved TFLOP/s. */
  tflops?: number;
}

/**
 * Runs the GEMM rows. `deviceInfo` is informational (recorded as given). Returns { copyGBs, cublas,
 * rows, ... }; a backend that fails on a row records the error in that row instead of throwing.
 */
export async function gemmBench(addon: GemmAddon, deviceInfo: Record<string, unknown> = {}, opts: { quick?: boolean } = {}): Promise<Record<string, unknown>> {
  const quick = opts.quick ?? false;
  const iters = quick ? 5 : 15;
  const copyGBs = addon.copyBandwidth(1 << 30, quick ? 5 : 11);
  const cublas = addon.gemmBackend("cublas");
  const backends: GemmBackendName[] = cublas.ok ? ["builtin", "cublas"] : ["builtin"];
  const rows: (GemmBenchRow | { shape: string; backend: string; M: number; error: string })[] = [];
  for (const [shape, N, K] of GEMM_7B_SHAPES) {
    for (const M of GEMM_DECODE_M) {
      for (const backend of backends) {
        try {
          const r = addon.gemmBench(M, N, K, backend, iters);
          const bytes = decodeGemmBytes(M, N, K);
          const gbPerS = bytes / r.medianUs / 1e3;
          rows.push({
            shape,
            regime: "decode",
            backend: r.backend,
            path: r.path,
            M,
            N,
            K,
            medianUs: r.medianUs,
            gbPerS,
            boundUs: bytes / copyGBs / 1e3,
            fraction: gbPerS / copyGBs,
          });
        } catch (err) {
          rows.push({ shape, backend, M, error: (err as Error).message });
        }
      }
    }
  }
  // The fused GEMV (launch_gemv) at M in {1, 4} (M = 1 also back-to-back as programmatic dependent
  // launches, the engine's setting): each 7B product with what the engine folds into it
  // (RMSNorm in front of qkv / gate+up / LM head, f32 input of o-proj, SwiGLU after gate+up). Bytes and
  // bound as for the GEMM rows (W + A + output); the GEMM row of the same shape is the baseline, and it
  // does not even include the element-wise kernels the GEMV absorbs.
  const gemvAddon = addon as unknown as Partial<GemvAddon>;
  if (typeof gemvAddon.gemvBench === "function") {
    const kinds: Record<string, [number, number]> = { qkv: [2, 0], "o-proj": [1, 0], "gate+up": [2, 1], down: [0, 0], "lm-head": [2, 0] };
    for (const [shape, N, K] of GEMM_7B_SHAPES) {
      for (const [M, pdl] of [[1, false], [1, true], [4, false]] as const) {
        const [input, output] = kinds[shape] ?? [0, 0];
        try {
          const r = gemvAddon.gemvBench({ input, output, M, N, K, eps: 1e-5, iters, pdl });
          const bytes = N * K * 2 + M * K * (input === 0 ? 2 : 4) + M * (output === 1 ? N : N * 4);
          const gbPerS = bytes / r.medianUs / 1e3;
          rows.push({ shape, regime: "decode", backend: "gemv", path: `gemv in=${["bf16", "f32", "rmsnorm"][input]} out=${["f32", "swiglu"][output]}${pdl ? " pdl" : ""}`, M, N, K, medianUs: r.medianUs, gbPerS, boundUs: bytes / copyGBs / 1e3, fraction: gbPerS / copyGBs });
        } catch (err) {
          rows.push({ shape, backend: "gemv", M, error: (err as Error).message });
        }
      }
    }
  }
  for (const [shape, N, K] of GEMM_7B_SHAPES) {
    const M = GEMM_PREFILL_M;
    for (const backend of backends) {
      try {
        const r = addon.gemmBench(M, N, K, backend, quick ? 3 : 7);
        const tflops = (2 * M * N * K) / r.medianUs / 1e6;
        rows.push({ shape, regime: "prefill", backend: r.backend, path: r.path, M, N, K, medianUs: r.medianUs, tflops, fraction: tflops / PEAK_BF16_TFLOPS });
      } catch (err) {
        rows.push({ shape, backend, M, error: (err as Error).message });
      }
    }
  }
  return {
    device: deviceInfo,
    copyGBs,
    copyNote: "device-to-device cudaMemcpyAsync of 1 GiB, median, counting bytes read + written",
    peakTflops: PEAK_BF16_TFLOPS,
    cublas: cublas.ok ? cublas.name : `not loaded: ${cublas.error}`,
    rows,
  };
}

/** One line per row for a CLI ("qkv M=1 builtin 31.2 us 3260 GB/s 0.79 of copy"). */
export function formatGemmRow(row: Record<string, unknown>): string {
  if (typeof row.error === "string") return `${row.shape} M=${row.M} ${row.backend}: ERROR ${row.error}`;
  const r = row as unknown as GemmBenchRow;
  const head = `${r.shape} M=${r.M} ${r.backend} (${r.path}) ${r.medianUs.toFixed(1)} us`;
  return r.regime === "decode"
    ? `${head} ${r.gbPerS?.toFixed(0)} GB/s ${r.fraction.toFixed(2)} of copy`
    : `${head} ${r.tflops?.toFixed(0)} TFLOP/s ${r.fraction.toFixed(2)} of peak`;
}
