import { isAbsolute } from "node:path";
import { BackendUnavailableError, requireShared } from "@kvwalk/core";
import type { EvalBackend } from "./backend.js";
import type { EvalConfig } from "./config.js";
import { openCpuSimBackend } from "./cpu-sim.js";

/** Model directory of a config: absolute paths as given, others inside the shared folder. */
export function resolveModelDir(model: string): string {
  return isAbsolute(model) ? model : requireShared(model, `model ${model}`);
}

/** Opens the configured backend; `gpu` fails with a clear message until the GPU runtime exists. */
export async function openBackend(config: EvalConfig, opts: { threads?: number } = {}): Promise<EvalBackend> {
  if (config.backend === "gpu") {
    throw new BackendUnavailableError(
      "kvwalk-eval --backend gpu",
      "the GPU runtime does not exist yet (@kvwalk/runtime has no decode engine to drive); use --backend cpu-sim",
    );
  }
  return openCpuSimBackend(resolveModelDir(config.model), opts);
}
