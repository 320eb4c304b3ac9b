import type { PromptLogitsInput } from "../kernels/prefill-score-reference.js";

/**
 * Typed contract of the prompt-scoring kernel-test bindings in native/binding/prefill_score_tests.cc
 * (registered on the engine addon by register_prefill_score_tests). Same conventions as
 * evict-addon-types.ts: one argument object, fresh device buffers, host copies back; bf16 values are
 * Uint16Array bits; a graph is an Int32Array of 8 ints per node (4 neighbours, then the 4 float32
 * weights' bit patterns), here [graphs][capacity][8] for one region (graphs = H / graphGroup).
 * Errors: TypeError/RangeError with code KVWALK_INVALID_ARGUMENT and `parameter`; CUDA failures an Error
 * with code KVWALK_CUDA and `operation`; without CUDA, "not compiled with CUDA".
 */
/** q f32 [T, H, D], k bf16 bits [KVH, capacity, D] (slots 0..T-1 the prompt's keys), D 64 or 128, window 0: none. */
export interface PrefillScoreArgs extends PromptLogitsInput {
  /** -1: no scores, 0: H2O, 1: TOVA */
  mode: -1 | 0 | 1;
  /** H2O decay in [0, 1] */
  decay: number;
  /** write graph nodes 0..T-1 of every graph */
  graph: boolean;
  /**
   * Query heads per graph (launch_prefill_score's graph_group): 1 (default) = a graph per query head
   * (H graphs), H / KVH = a graph per KV head (KVH graphs: top-4 of the group-summed probabilities).
   * Anything else throws naming graphGroup.
   */
  graphGroup?: number;
  /** initial graph [graphs * capacity * 8] (default: every int -1, as the engine clears a region) */
  graphInit?: Int32Array;
  /** initial scores f32 [KVH * capacity]; required when mode >= 0 (slots >= T must come back unchanged) */
  scores?: Float32Array;
  /** return the natural-log lse of every row (forces pass 1 over every row) */
  wantLse: boolean;
}

export interface PrefillScoreTestAddon {
  /** launch_prefill_score on fresh buffers -> { lse [T * H] | null, graph [graphs * capacity * 8] | null, scores [KVH * capacity] | null }. */
  prefillScore(args: PrefillScoreArgs): { lse: Float32Array | null; graph: Int32Array | null; scores: Float32Array | null };
  /**
   * Timing on random data (uniform +-1 bf16 q, K, V; capacity = T; scale 1/sqrt(D); decay 1): each
   * configuration of launch_prefill_score and launch_prefill_attention on the same q, K (V), medians of
   * `iters` CUDA-event-timed launches after 2 warm-ups, milliseconds.
   */
  prefillScoreBench(args: { T: number; H: number; KVH: number; D: number; window: number; iters: number }): PrefillScoreBenchResult;
  /**
   * launch_graph_flush (the lazy decode graph write) with `jobs` (1..8) jobs over copies of one region:
   * job j writes the nodes of rows max(0, rowLo - 3j) .. T - j - 1 from bf16(q) rows in a query ring,
   * every other node left -1; -> one graph [graphs * capacity * 8] per job (graphs = H / graphGroup).
   * lse2 [T * H] (log2-sum-exp of row t, head h at t * H + h; graph per KV head only): the rows' lse
   * through an lse ring, as the engine passes the decode steps' own (no pass 1).
   */
  graphFlush(args: PromptLogitsInput & { graphGroup?: number; rowLo: number; jobs: number; lse2?: Float32Array }): { graphs: Int32Array[] };
}

export interface PrefillScoreBenchResult {
  /** launch_prefill_attention (samples before and after the scoring configs, pooled) */
  attention: { medianMs: number; minMs: number };
  rows: {
    /**
     * "graph" (walker: graph nodes only), "tova", "h2o", "h2o+graph" (graphs per query head); when
     * H > KVH also "graph/kv" and "h2o+graph/kv" (a graph per KV head)
     */
    config: string;
    medianMs: number;
    minMs: number;
    /** medianMs / attention.medianMs */
    ratioToAttention: number;
  }[];
  iters: number;
}
