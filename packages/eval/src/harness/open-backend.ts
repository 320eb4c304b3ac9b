import { isAbsolute } from "node:path";
import { requireShared } from "@kvwalk/core";
import type { EvalBackend } from "./backend.js";
import type { EvalConfig } from "./config.js";
import { openGpuBackend } from "./gpu.js";

/** Model directory of a config: absolute paths as given, others inside the shared folder. */
export function resolveModelDir(model: string): string {
  return isAbsolute(model) ? model : requireShared(model, `model ${model}`);
}

/** Opens the configured backend; `gpu` fails at once with the reason when no CUDA device is usable. */
export async function openBackend(config: EvalConfig, opts: { threads?: number } = {}): Promise<EvalBackend> {
  if (config.backend === "gpu") return openGpuBackend(resolveModelDir(config.model));
  // Loaded on demand: the CPU simulation brings onnxruntime-node, which a GPU host's bundle leaves out.
  const { openCpuSimBackend } = await import("./cpu-sim.js");
  return openCpuSimBackend(resolveModelDir(config.model), opts);
}
