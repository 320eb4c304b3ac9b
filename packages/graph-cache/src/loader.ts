import { fileURLToPath } from "node:url";
import { type BackendStatus, loadNativeAddon } from "@kvwalk/core";
import type { GraphCacheAddon } from "./addon-types.js";

/** The only place this package loads its `.node` file. */
const loaded = loadNativeAddon<GraphCacheAddon>(fileURLToPath(new URL("..", import.meta.url)), "graph_cache");

/** Which backend is active and, when CUDA is not, why. */
export function backendStatus(): BackendStatus {
  return loaded.status;
}

/** The addon when it was compiled with CUDA, device or not (for host-only calls such as decodePlan). */
export function compiledAddon(): GraphCacheAddon | undefined {
  return loaded.status.cudaCompiled ? loaded.addon : undefined;
}

/** The addon when CUDA is usable, else undefined (callers use the TypeScript twin). */
export function cudaAddon(): GraphCacheAddon | undefined {
  return loaded.status.backend === "cuda" ? loaded.addon : undefined;
}
