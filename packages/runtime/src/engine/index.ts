/**
 * `@kvwalk/runtime/engine`: Llama/Mistral decoding on one GPU (issue 6). Without a CUDA device every
 * entry point throws BackendUnavailableError saying why; `engineStatus()` reports it without throwing.
 */
export type { NativeShape } from "./addon-types.js";
export {
  type CreateEngineOptions,
  createEngine,
  defaultWalkers,
  ENGINE_POLICIES,
  Engine,
  type EnginePolicy,
  type EvictionOptions,
  type EngineStats,
  FIRST_TOKEN_STEP,
  type GemmChoice,
  type GeneratedToken,
  type GenerateBatchOptions,
  type GenerateOptions,
  tokenLogProb,
} from "./engine.js";
export { engineStatus } from "./loader.js";
export { kvBytesPerToken, PRESETS, type PresetName, presetShape, shapeFromConfig, shapeParameters } from "./shapes.js";
