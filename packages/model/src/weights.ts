import type { Checkpoint } from "./checkpoint/checkpoint.js";
import type { ModelConfig } from "./config.js";

/** One decoder layer's weights in f32, in the checkpoint's [out, in] layout. */
export interface LayerWeights {
  inputNorm: Float32Array; // [hidden]
  wq: Float32Array; // [numHeads*headDim, hidden]
  wk: Float32Array; // [numKvHeads*headDim, hidden]
  wv: Float32Array; // [numKvHeads*headDim, hidden]
  wo: Float32Array; // [hidden, numHeads*headDim]
  postNorm: Float32Array; // [hidden]
  wGate: Float32Array; // [intermediate, hidden]
  wUp: Float32Array; // [intermediate, hidden]
  wDown: Float32Array; // [hidden, intermediate]
}

/** All weights of a Llama/Mistral model in f32. `lmHead` is `embed` itself when embeddings are tied. */
export interface ModelWeights {
  embed: Float32Array; // [vocab, hidden]
  layers: LayerWeights[];
  norm: Float32Array; // [hidden]
  lmHead: Float32Array; // [vocab, hidden]
}

/** Hugging Face tensor names of layer `i`. */
export function layerTensorNames(i: number): Record<keyof LayerWeights, string> {
  const p = `model.layers.${i}.`;
  return {
    inputNorm: `${p}input_layernorm.weight`,
    wq: `${p}self_attn.q_proj.weight`,
    wk: `${p}self_attn.k_proj.weight`,
    wv: `${p}self_attn.v_proj.weight`,
    wo: `${p}self_attn.o_proj.weight`,
    postNorm: `${p}post_attention_layernorm.weight`,
    wGate: `${p}mlp.gate_proj.weight`,
    wUp: `${p}mlp.up_proj.weight`,
    wDown: `${p}mlp.down_proj.weight`,
  };
}

/** Expected [out, in] shapes of layer tensors. */
export function layerShapes(c: ModelConfig): Record<keyof LayerWeights, number[]> {
  const { hiddenSize: H, numHeads: Hq, numKvHeads: Hkv, headDim: d, intermediateSize: I } = c;
  return {
    inputNorm: [H],
    wq: [Hq * d, H],
    wk: [Hkv * d, H],
    wv: [Hkv * d, H],
    wo: [H, Hq * d],
    postNorm: [H],
    wGate: [I, H],
    wUp: [I, H],
    wDown: [H, I],
  };
}

/** Reads every weight as f32, checking names and shapes against the config. */
export function loadWeights(ckpt: Checkpoint, c: ModelConfig, onTensor?: () => void): ModelWeights {
  const read = (name: string, shape: number[]): Float32Array => {
    const t = ckpt.readFloat32(name, shape);
    onTensor?.();
    return t;
  };
  const embed = read("model.embed_tokens.weight", [c.vocabSize, c.hiddenSize]);
  const shapes = layerShapes(c);
  const layers: LayerWeights[] = [];
  for (let i = 0; i < c.numLayers; i++) {
    const names = layerTensorNames(i);
    const lw = {} as LayerWeights;
    for (const key of Object.keys(names) as (keyof LayerWeights)[]) lw[key] = read(names[key], shapes[key]);
    layers.push(lw);
  }
  const norm = read("model.norm.weight", [c.hiddenSize]);
  const lmHead = c.tieWordEmbeddings ? embed : read("lm_head.weight", [c.vocabSize, c.hiddenSize]);
  return { embed, layers, norm, lmHead };
}
