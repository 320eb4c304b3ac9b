import type { PrefillAttentionInput, RopeAppendInput, SampleInput } from "../kernels/reference.js";

/**
 * Typed contract of the kernel-test bindings in native/binding/kernel_tests.cc (registered on the engine
 * addon by register_kernel_tests). Every function takes one argument object, copies to fresh device
 * buffers, runs the launcher, synchronizes and returns host copies. bf16 values are Uint16Array bits.
 * Errors: TypeError/RangeError with code KVWALK_INVALID_ARGUMENT and `parameter`; CUDA failures an Error
 * with code KVWALK_CUDA and `operation` naming the launcher; without CUDA, "not compiled with CUDA".
 */
export interface KernelTestAddon {
  /** launch_embed. tokens int [T], table bf16 [vocab, hidden] -> x f32 [T, hidden], errorFlag 0/1. */
  kernelEmbed(args: { tokens: Int32Array; table: Uint16Array; vocab: number; hidden: number }): { x: Float32Array; errorFlag: number };
  /** launch_rmsnorm. x f32 [T, hidden], w bf16 [hidden] -> bf16 [T, hidden]. */
  kernelRmsnorm(args: { x: Float32Array; w: Uint16Array; T: number; hidden: number; eps: number }): Uint16Array;
  /** launch_residual_rmsnorm: x' = x + sum of parts (f32 [numParts, T, hidden]), then RMSNorm of x' when w is given. */
  kernelResidualRmsnorm(args: {
    x: Float32Array;
    parts: Float32Array;
    numParts: number;
    w?: Uint16Array;
    T: number;
    hidden: number;
    eps: number;
  }): { x: Float32Array; out?: Uint16Array };
  /**
   * launch_rope_append. qkv f32 [T, (H + 2KVH) D], invFreq f32 [D/2], positions/region/slot int [T],
   * kCache/vCache bf16 [regions, KVH, capacity, D] initial contents -> q f32 [T, H, D] and the updated caches.
   */
  kernelRopeAppend(args: RopeAppendInput & { regions: number }): { q: Float32Array; kCache: Uint16Array; vCache: Uint16Array };
  /** launch_prefill_attention. q f32 [T, H, D], k/v bf16 [KVH, capacity, D] -> bf16 [T, H * D]. D in {64, 128}. */
  kernelPrefillAttention(args: PrefillAttentionInput): Uint16Array;
  /** launch_swiglu. gu f32 [T, 2I] -> bf16 [T, I]. */
  kernelSwiglu(args: { gu: Float32Array; T: number; I: number }): Uint16Array;
  /** launch_f32_to_bf16. */
  kernelF32ToBf16(args: { values: Float32Array }): Uint16Array;
  /** launch_sample. logits f32 [B, V], temperature/topP f32 [B] -> tokens int [B], logprob f32 [B]. */
  kernelSample(args: SampleInput): { tokens: Int32Array; logprob: Float32Array };
  /** launch_fill_uniform_bf16 -> bf16 [n]. */
  kernelFillUniformBf16(args: { n: number; seed: number; amplitude: number }): Uint16Array;
  /** launch_fill_const_bf16 -> bf16 [n]. */
  kernelFillConstBf16(args: { n: number; value: number }): Uint16Array;
  /**
   * Causal prefill attention on random device data (capacity = T, scale 1/sqrt(D)); 2 warm-up launches,
   * then `iters` launches timed with CUDA events. Microseconds.
   */
  prefillAttentionBench(T: number, H: number, KVH: number, D: number, window: number, iters: number): { medianUs: number; minUs: number; iters: number };
}
