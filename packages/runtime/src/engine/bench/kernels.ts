/**
 * Prefill attention benchmark (kernel_tests.cc prefillAttentionBench): causal, 32 heads, D = 128, at
 * T = 4096 and 16384 (plus GQA with 8 KV heads at 4096). FLOPs counted as 2 matmuls * 2 FLOP/MAC over
 * the causal half: 4 * (T^2 / 2) * H * D. The kernel uses mma.sync bf16 tensor cores, so the bound is
 * the H200/H100 dense bf16 peak (989 TFLOP/s, SXM spec without sparsity).
 */
import type { KernelTestAddon } from "../gpu/kernel-addon-types.js";

/** Dense bf16 tensor-core peak of an H100/H200 SXM, TFLOP/s. */
export const BF16_PEAK_TFLOPS = 989;

export interface AttentionBenchRow {
  kernel: "prefill_attention";
  T: number;
  H: number;
  KVH: number;
  D: number;
  window: number;
  iters: number;
  medianUs: number;
  minUs: number;
  /** 4 * T^2 / 2 * H * D */
  flops: number;
  tflops: number;
  /** FLOPs / peak, microseconds */
  boundUs: number;
  /** achieved fraction of BF16_PEAK_TFLOPS */
  fractionOfPeak: number;
}

/** Runs the attention shapes; `deviceInfo` is recorded as given (name, compute capability, ...). */
export async function kernelsBench(addon: KernelTestAddon, deviceInfo: Record<string, unknown>): Promise<Record<string, unknown>> {
  const shapes = [
    { T: 4096, H: 32, KVH: 32, D: 128, window: 0, iters: 20 },
    { T: 16384, H: 32, KVH: 32, D: 128, window: 0, iters: 7 },
    { T: 4096, H: 32, KVH: 8, D: 128, window: 0, iters: 20 },
  ];
  const rows: AttentionBenchRow[] = [];
  for (const s of shapes) {
    const r = addon.prefillAttentionBench(s.T, s.H, s.KVH, s.D, s.window, s.iters);
    const flops = 4 * ((s.T * s.T) / 2) * s.H * s.D;
    const tflops = flops / (r.medianUs * 1e-6) / 1e12;
    rows.push({
      kernel: "prefill_attention",
      ...s,
      medianUs: r.medianUs,
      minUs: r.minUs,
      flops,
      tflops,
      boundUs: (flops / (BF16_PEAK_TFLOPS * 1e12)) * 1e6,
      fractionOfPeak: tflops / BF16_PEAK_TFLOPS,
    });
  }
  return { device: deviceInfo, peakTflops: BF16_PEAK_TFLOPS, flopCount: "4 * T^2/2 * H * D (causal half, QK^T and PV)", rows };
}
