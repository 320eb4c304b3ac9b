import { describe, expect, it } from "vitest";
import { configParameterCount, parseConfig } from "./config.js";

const base = {
  model_type: "llama",
  hidden_size: 64,
  num_attention_heads: 4,
  num_hidden_layers: 2,
  intermediate_size: 128,
  vocab_size: 100,
};

describe("parseConfig", () => {
  it("applies transformers defaults and reads both RoPE forms", () => {
    const a = parseConfig({ ...base, rope_theta: 500000 });
    expect(a).toMatchObject({ modelType: "llama", headDim: 16, numKvHeads: 4, ropeTheta: 500000, tieWordEmbeddings: false, slidingWindow: null, maxPositions: 2048 });
    const b = parseConfig({ ...base, rope_parameters: { rope_theta: 1e6, rope_type: "default" } });
    expect(b.ropeTheta).toBe(1e6);
    expect(parseConfig(base).ropeTheta).toBe(10000);
  });

  it("reads head_dim, GQA, tied embeddings and Mistral's sliding window", () => {
    const c = parseConfig({ ...base, model_type: "mistral", head_dim: 32, num_key_value_heads: 2, tie_word_embeddings: true, sliding_window: 4096 });
    expect(c).toMatchObject({ modelType: "mistral", headDim: 32, numKvHeads: 2, tieWordEmbeddings: true, slidingWindow: 4096 });
    expect(parseConfig({ ...base, model_type: "mistral", sliding_window: null }).slidingWindow).toBeNull();
    expect(configParameterCount(parseConfig({ ...base, tie_word_embeddings: true }))).toBe(2 * (4 * 64 * 64 + 3 * 64 * 128 + 2 * 64) + 100 * 64 + 64);
  });

  it("names the field, expected and received for bad configs", () => {
    expect(() => parseConfig({ ...base, model_type: "gpt2" }, "x/config.json")).toThrow(
      /x\/config\.json: field "model_type": expected one of "llama", "mistral" but received "gpt2"/,
    );
    expect(() => parseConfig({ ...base, hidden_size: undefined })).toThrow(/field "hidden_size": expected an integer >= 1 but received undefined/);
    expect(() => parseConfig({ ...base, num_key_value_heads: 3 })).toThrow(/field "num_key_value_heads": expected a divisor of num_attention_heads \(4\)/);
    expect(() => parseConfig({ ...base, rope_parameters: { rope_type: "yarn", rope_theta: 1 } })).toThrow(/"rope_parameters\.rope_type": expected "default" but received "yarn"/);
    expect(() => parseConfig({ ...base, hidden_act: "gelu" })).toThrow(/field "hidden_act"/);
  });
});
