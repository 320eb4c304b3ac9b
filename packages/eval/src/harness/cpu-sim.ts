import { BackendUnavailableError } from "@kvwalk/core";
import type { EvalBackend } from "./backend.js";

/**
 * The `cpu-sim` backend: @kvwalk/oracle's causal eviction simulation over @kvwalk/model's CPU
 * forward. Placeholder until the oracle exports its per-window simulation.
 */
export async function openCpuSimBackend(_modelDir: string, _opts: { threads?: number } = {}): Promise<EvalBackend> {
  throw new BackendUnavailableError("kvwalk-eval --backend cpu-sim", "@kvwalk/oracle does not export its window simulation yet");
}
