import { InvalidArgumentError } from "@kvwalk/core";
import type { ModelConfig } from "@kvwalk/model/checkpoint";
import type { NativeShape } from "./addon-types.js";

/**
 * Real 7B shapes for random-weight models (7B checkpoints cannot be downloaded where kvwalk is
 * developed). Positions are raised to 32k so 16k-context benchmarks fit; RoPE is the default form.
 */
export const PRESETS = {
  /** Llama-2-7B: 32 layers, 32 heads (multi-head attention), hidden 4096, MLP 11008, vocab 32000. */
  "llama2-7b": {
    layers: 32,
    hidden: 4096,
    heads: 32,
    kvHeads: 32,
    headDim: 128,
    intermediate: 11008,
    vocab: 32000,
    maxPositions: 32768,
    ropeTheta: 10000,
    rmsEps: 1e-5,
    slidingWindow: 0,
    tiedEmbeddings: false,
  },
  /** Mistral-7B (v0.2 geometry): grouped-query attention with 8 KV heads, MLP 14336, no sliding window. */
  "mistral-7b": {
    layers: 32,
    hidden: 4096,
    heads: 32,
    kvHeads: 8,
    headDim: 128,
    intermediate: 14336,
    vocab: 32000,
    maxPositions: 32768,
    ropeTheta: 1_000_000,
    rmsEps: 1e-5,
    slidingWindow: 0,
    tiedEmbeddings: false,
  },
} as const satisfies Record<string, NativeShape>;

export type PresetName = keyof typeof PRESETS;

export function presetShape(name: string): NativeShape {
  if (!(name in PRESETS)) throw new InvalidArgumentError("preset", `one of ${Object.keys(PRESETS).join(", ")}`, name);
  return { ...PRESETS[name as PresetName] };
}

/** The engine's view of a checkpoint's config.json. */
export function shapeFromConfig(c: ModelConfig): NativeShape {
  return {
    layers: c.numLayers,
    hidden: c.hiddenSize,
    heads: c.numHeads,
    kvHeads: c.numKvHeads,
    headDim: c.headDim,
    intermediate: c.intermediateSize,
    vocab: c.vocabSize,
    maxPositions: c.maxPositions,
    ropeTheta: c.ropeTheta,
    rmsEps: c.rmsNormEps,
    slidingWindow: c.slidingWindow ?? 0,
    tiedEmbeddings: c.tieWordEmbeddings,
  };
}

/** Parameters of a shape (weights only). */
export function shapeParameters(s: NativeShape): number {
  const perLayer =
    2 * s.hidden + (s.heads + 2 * s.kvHeads) * s.headDim * s.hidden + s.hidden * s.heads * s.headDim + 3 * s.intermediate * s.hidden;
  return s.layers * perLayer + s.hidden + s.vocab * s.hidden * (s.tiedEmbeddings ? 1 : 2);
}

/** Bytes of K and V per cached token (bf16, all layers). */
export function kvBytesPerToken(s: NativeShape): number {
  return 2 * s.layers * s.kvHeads * s.headDim * 2;
}
