/**
 * Typed contract of the live-eviction kernel-test bindings in native/binding/evict_tests.cc (registered
 * on the engine addon by register_evict_tests). Every function takes one argument object, copies to
 * fresh device buffers, runs the launcher of native/src/evict_launchers.h, synchronizes and returns host
 * copies. bf16 values are Uint16Array bits. The graph cache is an Int32Array of 8 ints per node (4
 * neighbours, then the 4 float32 weights as bit patterns), [L][R][H][C][8].
 * Errors: TypeError/RangeError with code KVWALK_INVALID_ARGUMENT and `parameter`; CUDA failures an Error
 * with code KVWALK_CUDA and `operation` naming the launcher; without CUDA, "not compiled with CUDA".
 */
import type { AttentionMassInput, GraphRemapInput, SelectCompactInput, SelectCompactResult } from "../kernels/evict-reference.js";

export interface EvictTestAddon {
  /**
   * launch_attention_mass on one layer. q f32 [B, H, D], k bf16 [R, KVH, C, D], lse f32 [B, H],
   * lengths int [B], starts int [B] or null, scores f32 [R, KVH, C] (initial) -> new scores. D in {64, 128}.
   */
  evictAttentionMass(args: AttentionMassInput): Float32Array;
  /** launch_counts_to_scores. counts u32 [L, R, H, C], scores f32 [L, R, KVH, C] (initial) -> new scores. */
  evictCountsToScores(args: { counts: Uint32Array; L: number; R: number; H: number; KVH: number; C: number; decay: number; scores: Float32Array }): Float32Array;
  /**
   * launch_select_compact on region `region`. scores f32 [L, R, KVH, C] or null (streaming), kv bf16
   * [L, 2, R, KVH, C, D] -> updated scores (null when null) and kv, remap int [L, KVH, C], kept int [L * KVH].
   */
  evictSelectCompact(args: SelectCompactInput): SelectCompactResult;
  /** launch_graph_remap. graph int32 [L, R, H, C, 8], remap int [L, KVH, C] -> new graph. */
  evictGraphRemap(args: GraphRemapInput): Int32Array;
  /**
   * Timing on device-resident random data: select_compact of one region (R = 1) of L layers, KV and
   * scores restored from pristine copies before each timed launch (the restore copy, timed separately,
   * gives the copy bandwidth: bytes = read + write of the whole KV), and attention_mass (H2O, decay 1)
   * on one layer of B regions of `len` keys. 2 warm-ups each, then `iters` launches timed with CUDA
   * events; microseconds.
   */
  evictBench(args: {
    L: number;
    KVH: number;
    H: number;
    D: number;
    C: number;
    len: number;
    budget: number;
    sinks: number;
    recent: number;
    B: number;
    iters: number;
  }): EvictBenchResult;
}

export interface EvictBenchResult {
  selectCompact: {
    medianUs: number;
    minUs: number;
    iters: number;
    /** L * KVH rows compacted per launch */
    rows: number;
    /** kept slots of row 0 (= min(budget, len)) */
    kept: number;
    /** slots whose K/V rows moved (new index != old), over all rows */
    movedSlots: number;
    /** movedSlots * D * 2 bytes * 2 (K, V) * 2 (read + write) */
    bytesMoved: number;
  };
  copy: { medianUs: number; bytes: number; gbPerS: number };
  attentionMass: { medianUs: number; minUs: number; iters: number; B: number; /** B * KVH * len * D * 2 */ bytesK: number };
}
