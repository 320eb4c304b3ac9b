import { sampleRowReference, sampleUniform } from "./reference.js";

/**
 * Samples one row on the host with exactly the device kernel's rule (launch_sample and its twin
 * sampleRowReference): used for the first generated token, whose logits come from the prefill.
 */
export function sampleHost(logits: Float32Array, temperature: number, topP: number, seed: number, row: number, step: number): { id: number; logprob: number } {
  const r = sampleRowReference(logits, temperature, topP, sampleUniform(seed, row, step >>> 0));
  return { id: r.token, logprob: r.logprob };
}
