import { fileURLToPath } from "node:url";
import { type BackendStatus, loadNativeAddon } from "@kvwalk/core";
import type { WalkerAddon } from "./addon-types.js";

/** The only place this package loads its `.node` file. */
const loaded = loadNativeAddon<WalkerAddon>(fileURLToPath(new URL("..", import.meta.url)), "walker");

/** Which backend is active and, when CUDA is not, why. */
export function backendStatus(): BackendStatus {
  return loaded.status;
}

/** The addon when CUDA is usable, else undefined (callers use the TypeScript twin). */
export function cudaAddon(): WalkerAddon | undefined {
  return loaded.status.backend === "cuda" ? loaded.addon : undefined;
}

/** The addon whenever it loaded (CPU-only builds too): host code such as its Philox build. */
export function loadedAddon(): WalkerAddon | undefined {
  return loaded.addon;
}
