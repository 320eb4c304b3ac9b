/**
 * `@kvwalk/model/checkpoint`: checkpoint, config and tokenizer loading without onnxruntime-node, for
 * consumers that run the model elsewhere (the GPU engine of @kvwalk/runtime).
 */
export { Checkpoint, INDEX_FILE, SINGLE_FILE } from "./checkpoint/checkpoint.js";
export { FLOAT_DTYPES, halfToFloat, SafetensorsFile, type SafetensorsDtype, type TensorInfo } from "./checkpoint/safetensors.js";
export { configParameterCount, loadConfig, type ModelConfig, parseConfig, SUPPORTED_MODEL_TYPES } from "./config.js";
export { ropeTables } from "./rope.js";
export { loadTokenizer, type Tokenizer } from "./tokenizer.js";
export { type LayerWeights, layerShapes, layerTensorNames } from "./weights.js";
export { TINY_ALPHABET, type TinyCheckpointOptions, writeTinyCheckpoint, writeTinyTokenizer } from "./tiny-checkpoint.js";
export { loadWeights, type ModelWeights } from "./weights.js";
export { referenceForward } from "./reference-forward.js";
export { type PoolKvHeadsResult, poolKvHeads, poolRows } from "./pool-kv-heads.js";
