import { fileURLToPath } from "node:url";
import { BackendUnavailableError, type BackendStatus, loadNativeAddon } from "@kvwalk/core";
import type { EngineAddon } from "./addon-types.js";

/** The only place the engine's `.node` file is loaded (lazily: importing the policies never loads it). */
let loaded: { addon?: EngineAddon; status: BackendStatus } | undefined;

function load(): { addon?: EngineAddon; status: BackendStatus } {
  loaded ??= loadNativeAddon<EngineAddon>(fileURLToPath(new URL("../..", import.meta.url)), "engine");
  return loaded;
}

/** Whether the GPU engine can run here and, if not, why. */
export function engineStatus(): BackendStatus {
  return load().status;
}

/** The addon when CUDA is usable; otherwise throws BackendUnavailableError saying why. */
export function requireEngineAddon(): EngineAddon {
  const { addon, status } = load();
  if (status.backend !== "cuda" || !addon) {
    throw new BackendUnavailableError("the GPU engine", status.reason ?? "unavailable");
  }
  return addon;
}

/** The addon whenever it loaded (CPU-only builds included), for kernel tests that report why they skip. */
export function loadedEngineAddon(): EngineAddon | undefined {
  return load().addon;
}
