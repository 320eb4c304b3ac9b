/**
 * Prompt-scoring kernel benchmark (prefill_score_tests.cc prefillScoreBench): one layer of one prompt
 * at the 7B shapes, H = 32 query heads, D = 128, T = 4096 (and 16384 for Llama-2-7B), KVH = 32
 * (Llama-2-7B) or 8 (Mistral-7B). Each scoring configuration -- "graph" (walker: graph nodes only),
 * "tova", "h2o", "h2o+graph", and for grouped-query shapes (Mistral-7B) "graph/kv" and "h2o+graph/kv"
 * (a graph per KV head: graph_group = H / KVH, the group pass) next to the per-query-head graph --
 * against launch_prefill_attention on the same q and K in the same call (the cost prompt scoring adds
 * to a layer's prefill attention: ratioToAttention).
 *
 * Bound: tensor-core FLOPs at the dense bf16 peak. Pass 1 (rows: lse + top-4), pass 2 (H2O column
 * sums) and the group pass of a graph per KV head (every query head's Q K^T again, summed per KV head)
 * each compute Q K^T over the causal half once: 2 * T^2 / 2 * H * D FLOPs per pass (the attention does
 * twice that: Q K^T and P V). TOVA's passes cover one query tile per head (negligible FLOPs).
 */
import type { PrefillScoreTestAddon } from "../gpu/prefill-score-addon-types.js";
import { BF16_PEAK_TFLOPS } from "./kernels.js";

export interface PrefillScoreBenchRow {
  model: "llama2-7b" | "mistral-7b";
  T: number;
  H: number;
  KVH: number;
  D: number;
  config: string;
  medianMs: number;
  minMs: number;
  attentionMs: number;
  /** medianMs / attentionMs (same inputs, same call) */
  ratioToAttention: number;
  /** QK^T passes * 2 * T^2 / 2 * H * D */
  flops: number;
  /** flops / peak, milliseconds */
  boundMs: number;
  fractionOfPeak: number;
}

/**
 * QK^T passes over the causal half each configuration runs (pass 1 over every row; pass 2 for H2O; the
 * group pass for a graph per KV head).
 */
const PASSES: Record<string, number> = { graph: 1, tova: 0, h2o: 2, "h2o+graph": 2, "graph/kv": 2, "h2o+graph/kv": 3 };

/** Runs the 7B shapes; `deviceInfo` is recorded as given. */
export async function prefillScoreBench(
  addon: PrefillScoreTestAddon,
  deviceInfo: Record<string, unknown>,
  opts: { quick?: boolean } = {},
): Promise<Record<string, unknown>> {
  const shapes = [
    { model: "llama2-7b" as const, T: 4096, H: 32, KVH: 32, D: 128, iters: 20 },
    { model: "mistral-7b" as const, T: 4096, H: 32, KVH: 8, D: 128, iters: 20 },
    ...(opts.quick ? [] : [{ model: "llama2-7b" as const, T: 16384, H: 32, KVH: 32, D: 128, iters: 5 }]),
  ];
  const rows: PrefillScoreBenchRow[] = [];
  for (const s of shapes) {
    const r = addon.prefillScoreBench({ T: s.T, H: s.H, KVH: s.KVH, D: s.D, window: 0, iters: s.iters });
    for (const row of r.rows) {
      const flops = (PASSES[row.config] ?? 0) * 2 * ((s.T * s.T) / 2) * s.H * s.D;
      const boundMs = (flops / (BF16_PEAK_TFLOPS * 1e12)) * 1e3;
      rows.push({
        model: s.model,
        T: s.T,
        H: s.H,
        KVH: s.KVH,
        D: s.D,
        config: row.config,
        medianMs: row.medianMs,
        minMs: row.minMs,
        attentionMs: r.attention.medianMs,
        ratioToAttention: row.ratioToAttention,
        flops,
        boundMs,
        fractionOfPeak: row.medianMs > 0 ? boundMs / row.medianMs : 0,
      });
    }
  }
  return {
    device: deviceInfo,
    peakTflops: BF16_PEAK_TFLOPS,
    baseline: "launch_prefill_attention on the same q, K (and V), timed in the same call",
    flopCount: "passes * 2 * T^2/2 * H * D (pass 1: lse + top-4; pass 2: H2O column sums; group pass: a graph per KV head)",
    rows,
  };
}
