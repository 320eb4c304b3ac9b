import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FileFormatError } from "@kvwalk/core";

/** Architecture of a Llama/Mistral checkpoint, from its config.json. */
export interface ModelConfig {
  modelType: "llama" | "mistral";
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  hiddenSize: number;
  intermediateSize: number;
  vocabSize: number;
  maxPositions: number;
  ropeTheta: number;
  rmsNormEps: number;
  tieWordEmbeddings: boolean;
  /** Mistral's sliding window W: key j is visible to query t iff t - j < W. null = none. */
  slidingWindow: number | null;
  bosTokenId: number | null;
  eosTokenId: number | null;
}

export const SUPPORTED_MODEL_TYPES = ["llama", "mistral"] as const;

/** Reads and validates `DIR/config.json`. */
export function loadConfig(dir: string): ModelConfig {
  const file = join(dir, "config.json");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new FileFormatError(file, `cannot read model config (${(err as NodeJS.ErrnoException).code ?? err})`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new FileFormatError(file, `not valid JSON (${(err as Error).message})`, { cause: err });
  }
  return parseConfig(raw, file);
}

/**
 * Validates a parsed config.json. Defaults follow transformers' LlamaConfig / MistralConfig for
 * optional fields; required fields must be present. `file` names the source in errors.
 */
export function parseConfig(raw: unknown, file = "config.json"): ModelConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new FileFormatError(file, "expected a JSON object");
  const c = raw as Record<string, unknown>;
  const fail = (field: string, expected: string): never => {
    throw new FileFormatError(file, `field "${field}": expected ${expected} but received ${JSON.stringify(c[field])}`);
  };
  const modelType = c.model_type;
  if (modelType !== "llama" && modelType !== "mistral") fail("model_type", `one of "llama", "mistral"`);
  const mistral = modelType === "mistral";
  const int = (field: string, dflt?: number, min = 1): number => {
    const v = c[field] ?? dflt;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min) fail(field, `an integer >= ${min}`);
    return v as number;
  };
  const num = (v: unknown, field: string): number => {
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) fail(field, "a positive number");
    return v as number;
  };
  const hiddenSize = int("hidden_size");
  const numHeads = int("num_attention_heads");
  const numLayers = int("num_hidden_layers");
  const intermediateSize = int("intermediate_size");
  const vocabSize = int("vocab_size");
  const numKvHeads = int("num_key_value_heads", numHeads);
  if (numHeads % numKvHeads !== 0) fail("num_key_value_heads", `a divisor of num_attention_heads (${numHeads})`);
  const headDim = c.head_dim == null ? hiddenSize / numHeads : int("head_dim");
  if (!Number.isInteger(headDim)) fail("hidden_size", `a multiple of num_attention_heads (${numHeads}) when head_dim is absent`);
  if (headDim % 2 !== 0) fail("head_dim", "an even number (RoPE rotates pairs)");
  const maxPositions = int("max_position_embeddings", mistral ? 4096 * 32 : 2048);
  const rmsNormEps = num(c.rms_norm_eps ?? 1e-6, "rms_norm_eps");

  // RoPE: top-level rope_theta (older checkpoints) or rope_parameters.rope_theta (transformers >= 5).
  let ropeTheta: number;
  const params = c.rope_parameters;
  if (params != null) {
    if (typeof params !== "object") fail("rope_parameters", "an object");
    const p = params as Record<string, unknown>;
    const type = p.rope_type ?? p.type ?? "default";
    if (type !== "default") {
      throw new FileFormatError(file, `field "rope_parameters.rope_type": expected "default" but received ${JSON.stringify(type)}`);
    }
    if (typeof p.rope_theta !== "number" || !(p.rope_theta > 0)) {
      throw new FileFormatError(file, `field "rope_parameters.rope_theta": expected a positive number but received ${JSON.stringify(p.rope_theta)}`);
    }
    ropeTheta = p.rope_theta;
  } else {
    ropeTheta = num(c.rope_theta ?? 10000, "rope_theta");
  }
  const scaling = c.rope_scaling;
  if (scaling != null) {
    const s = scaling as Record<string, unknown>;
    const type = s.rope_type ?? s.type;
    if (type !== "default") throw new FileFormatError(file, `field "rope_scaling": expected null or rope_type "default" but received ${JSON.stringify(scaling)}`);
  }

  if (c.hidden_act != null && c.hidden_act !== "silu") fail("hidden_act", `"silu"`);
  if (c.attention_bias === true) fail("attention_bias", "false (biases are not supported)");
  if (c.mlp_bias === true) fail("mlp_bias", "false (biases are not supported)");

  let slidingWindow: number | null = null;
  if (mistral && c.sliding_window != null) slidingWindow = int("sliding_window");
  const tie = c.tie_word_embeddings ?? false;
  if (typeof tie !== "boolean") fail("tie_word_embeddings", "a boolean");
  const optId = (field: string): number | null => {
    const v = c[field];
    if (v == null) return null;
    if (Array.isArray(v)) return typeof v[0] === "number" ? v[0] : null;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0) fail(field, "a token id or null");
    return v as number;
  };
  return {
    modelType: modelType as "llama" | "mistral",
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    hiddenSize,
    intermediateSize,
    vocabSize,
    maxPositions,
    ropeTheta,
    rmsNormEps,
    tieWordEmbeddings: tie as boolean,
    slidingWindow,
    bosTokenId: optId("bos_token_id"),
    eosTokenId: optId("eos_token_id"),
  };
}

/** Parameter count implied by the config (embeddings counted once when tied). */
export function configParameterCount(c: ModelConfig): number {
  const attn = c.hiddenSize * (c.numHeads * c.headDim) * 2 + c.hiddenSize * (c.numKvHeads * c.headDim) * 2;
  const mlp = 3 * c.hiddenSize * c.intermediateSize;
  const perLayer = attn + mlp + 2 * c.hiddenSize;
  return c.numLayers * perLayer + c.vocabSize * c.hiddenSize * (c.tieWordEmbeddings ? 1 : 2) + c.hiddenSize;
}
