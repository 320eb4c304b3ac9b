export { Checkpoint, INDEX_FILE, SINGLE_FILE } from "./checkpoint/checkpoint.js";
export { FLOAT_DTYPES, halfToFloat, SafetensorsFile, type SafetensorsDtype, type TensorInfo } from "./checkpoint/safetensors.js";
export {
  encodeSafetensors,
  floatToBf16,
  floatToHalf,
  type TensorToWrite,
  type WritableDtype,
  writeSafetensors,
} from "./checkpoint/safetensors-writer.js";
export { configParameterCount, loadConfig, type ModelConfig, parseConfig, SUPPORTED_MODEL_TYPES } from "./config.js";
export { checkEvict, type LayerStepper, type LoadedModel, type LoadOptions, loadModel, OrtModel, type ScoreBlocks } from "./model.js";
export { referenceForward } from "./reference-forward.js";
export { ropeTables } from "./rope.js";
export { loadTokenizer, type Tokenizer } from "./tokenizer.js";
export { type LayerWeights, layerShapes, layerTensorNames, loadWeights, type ModelWeights } from "./weights.js";
export { allocatorTuned, reexecWithTunedAllocator, TUNED_GLIBC_TUNABLES } from "./alloc-tuning.js";
export { type PerplexityResult, perplexity } from "./perplexity.js";
export { type PoolKvHeadsResult, poolKvHeads, poolRows } from "./pool-kv-heads.js";
export { TINY_ALPHABET, type TinyCheckpointOptions, writeTinyCheckpoint, writeTinyTokenizer } from "./tiny-checkpoint.js";
