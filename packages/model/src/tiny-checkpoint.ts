import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { seededRandom } from "@kvwalk/core/testing";
import { floatToBf16, floatToHalf, type TensorToWrite, writeSafetensors } from "./checkpoint/safetensors-writer.js";
import { type ModelConfig, parseConfig } from "./config.js";
import { layerShapes, layerTensorNames, type LayerWeights, type ModelWeights } from "./weights.js";

export interface TinyCheckpointOptions {
  seed?: number;
  modelType?: "llama" | "mistral";
  dtype?: "F32" | "F16" | "BF16";
  /** Two shards + model.safetensors.index.json instead of one model.safetensors. */
  sharded?: boolean;
  tie?: boolean;
  numLayers?: number;
  hiddenSize?: number;
  numHeads?: number;
  numKvHeads?: number;
  /** Written as `head_dim` when given (may differ from hidden / heads). */
  headDim?: number;
  intermediateSize?: number;
  vocabSize?: number;
  maxPositions?: number;
  ropeTheta?: number;
  /** Where RoPE theta goes: top-level `rope_theta` or `rope_parameters.rope_theta`. */
  ropeForm?: "rope_theta" | "rope_parameters";
  slidingWindow?: number | null;
}

/** Characters of the tiny tokenizer (ids 3..), after <unk>=0, <s>=1, </s>=2. */
export const TINY_ALPHABET = " abcdefghijklmnopqrstuvwxyz.";

/**
 * Writes a random-weight Llama/Mistral checkpoint (config.json, safetensors, a character-level
 * tokenizer.json + tokenizer_config.json) for tests. Returns the parsed config and the weights as
 * f32 values exactly representable in the stored dtype (what a correct loader must read back).
 */
export function writeTinyCheckpoint(dir: string, o: TinyCheckpointOptions = {}): { config: ModelConfig; weights: ModelWeights } {
  mkdirSync(dir, { recursive: true });
  const rand = seededRandom(o.seed ?? 1);
  const dtype = o.dtype ?? "F32";
  const hidden = o.hiddenSize ?? 32;
  const heads = o.numHeads ?? 4;
  const raw: Record<string, unknown> = {
    architectures: [o.modelType === "mistral" ? "MistralForCausalLM" : "LlamaForCausalLM"],
    model_type: o.modelType ?? "llama",
    hidden_size: hidden,
    num_attention_heads: heads,
    num_key_value_heads: o.numKvHeads ?? heads,
    num_hidden_layers: o.numLayers ?? 2,
    intermediate_size: o.intermediateSize ?? 48,
    vocab_size: o.vocabSize ?? 40,
    max_position_embeddings: o.maxPositions ?? 64,
    rms_norm_eps: 1e-5,
    hidden_act: "silu",
    tie_word_embeddings: o.tie ?? false,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: dtype === "F32" ? "float32" : dtype === "F16" ? "float16" : "bfloat16",
  };
  if (o.headDim !== undefined) raw.head_dim = o.headDim;
  const theta = o.ropeTheta ?? 10000;
  if ((o.ropeForm ?? "rope_theta") === "rope_theta") raw.rope_theta = theta;
  else raw.rope_parameters = { rope_theta: theta, rope_type: "default" };
  if (o.modelType === "mistral") raw.sliding_window = o.slidingWindow ?? null;
  writeFileSync(join(dir, "config.json"), JSON.stringify(raw, null, 2));
  const config = parseConfig(raw);

  const round = (x: number): number => {
    if (dtype === "F32") return Math.fround(x);
    const f = new Float32Array(new Uint32Array([floatToBf16(x) << 16]).buffer)[0];
    return dtype === "BF16" ? f : halfBitsToFloat(floatToHalf(x));
  };
  const tensor = (shape: number[], scale: number, offset = 0): Float32Array => {
    const n = shape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = round(offset + (rand() * 2 - 1) * scale);
    return out;
  };
  const H = config.hiddenSize;
  const embed = tensor([config.vocabSize, H], 1);
  const shapes = layerShapes(config);
  const layers: LayerWeights[] = [];
  const entries: [string, Float32Array, number[]][] = [["model.embed_tokens.weight", embed, [config.vocabSize, H]]];
  for (let l = 0; l < config.numLayers; l++) {
    const names = layerTensorNames(l);
    const lw = {} as LayerWeights;
    for (const key of Object.keys(names) as (keyof LayerWeights)[]) {
      const shape = shapes[key];
      lw[key] = shape.length === 1 ? tensor(shape, 0.2, 1) : tensor(shape, 1.5 / Math.sqrt(shape[1]));
      entries.push([names[key], lw[key], shape]);
    }
    layers.push(lw);
  }
  const norm = tensor([H], 0.2, 1);
  entries.push(["model.norm.weight", norm, [H]]);
  const lmHead = config.tieWordEmbeddings ? embed : tensor([config.vocabSize, H], 1 / Math.sqrt(H));
  if (!config.tieWordEmbeddings) entries.push(["lm_head.weight", lmHead, [config.vocabSize, H]]);

  const asWritable = (list: typeof entries): Record<string, TensorToWrite> =>
    Object.fromEntries(list.map(([name, data, shape]) => [name, { dtype, shape, data }]));
  if (o.sharded) {
    const half = Math.ceil(entries.length / 2);
    const files = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"];
    const parts = [entries.slice(0, half), entries.slice(half)];
    const weightMap: Record<string, string> = {};
    parts.forEach((part, i) => {
      writeSafetensors(join(dir, files[i]), asWritable(part), { format: "pt" });
      for (const [name] of part) weightMap[name] = files[i];
    });
    writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: weightMap }, null, 2));
  } else {
    writeSafetensors(join(dir, "model.safetensors"), asWritable(entries), { format: "pt" });
  }
  writeTinyTokenizer(dir);
  return { config, weights: { embed, layers, norm, lmHead } };
}

/** A character-level BPE tokenizer over TINY_ALPHABET (ids 3..) with <unk>, <s>, </s>. */
export function writeTinyTokenizer(dir: string, extraTokens = 0): void {
  const vocab: Record<string, number> = { "<unk>": 0, "<s>": 1, "</s>": 2 };
  [...TINY_ALPHABET].forEach((ch, i) => {
    vocab[ch] = i + 3;
  });
  for (let i = 0; i < extraTokens; i++) vocab[`<extra_${i}>`] = 3 + TINY_ALPHABET.length + i;
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const tok = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [special(0, "<unk>"), special(1, "<s>"), special(2, "</s>")],
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: { type: "Fuse" },
    model: { type: "BPE", dropout: null, unk_token: "<unk>", continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges: [] },
  };
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tok));
  writeFileSync(
    join(dir, "tokenizer_config.json"),
    JSON.stringify({ bos_token: "<s>", eos_token: "</s>", unk_token: "<unk>", add_bos_token: true, add_eos_token: false }),
  );
}

function halfBitsToFloat(h: number): number {
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  const sign = h & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? Number.NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}
