import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

/** What a native package's loader reports: which backend is active and, when CUDA is not, why. */
export interface BackendStatus {
  /** "cuda" when the addon loaded and found a device; otherwise "typescript" (the reference path). */
  backend: "cuda" | "typescript";
  /** Whether a built addon was found and loaded. */
  addonLoaded: boolean;
  /** Whether the loaded addon contains CUDA code. */
  cudaCompiled: boolean;
  /** Why CUDA is not active: "not compiled", "no addon built", "no driver", "no device", with detail. */
  reason?: string;
  device?: DeviceInfo;
  addonPath?: string;
}

export interface DeviceInfo {
  name: string;
  computeCapability: string;
  totalMemoryBytes: number;
  multiprocessors: number;
  driverVersion: number;
  runtimeVersion: number;
}

/** Minimal contract every kvwalk addon implements (see each package's addon-types.ts). */
export interface BaseAddon {
  cudaCompiled(): boolean;
  /** { ok: true, device } or { ok: false, kind: "no driver" | "no device", error: CUDA's text }. */
  probeDevice(): { ok: true; device: DeviceInfo } | { ok: false; kind: string; error: string };
}

/**
 * Loads `build/Release/<name>.node` of a package (the only way kvwalk loads native code), never
 * throwing: a missing or broken addon yields the TypeScript backend with the reason.
 * `KVWALK_BACKEND=typescript` forces the reference path.
 */
export function loadNativeAddon<T extends BaseAddon>(packageRoot: string, name: string): { addon?: T; status: BackendStatus } {
  if (process.env.KVWALK_BACKEND === "typescript") {
    return { status: { backend: "typescript", addonLoaded: false, cudaCompiled: false, reason: "forced by KVWALK_BACKEND=typescript" } };
  }
  const addonPath = join(packageRoot, "build", "Release", `${name}.node`);
  if (!existsSync(addonPath)) {
    return {
      status: {
        backend: "typescript",
        addonLoaded: false,
        cudaCompiled: false,
        reason: `no addon built (${addonPath} is missing; run the package's build with cmake and a C++ compiler)`,
      },
    };
  }
  let addon: T;
  try {
    addon = createRequire(import.meta.url)(addonPath) as T;
  } catch (err) {
    return {
      status: {
        backend: "typescript",
        addonLoaded: false,
        cudaCompiled: false,
        addonPath,
        reason: `addon failed to load: ${(err as Error).message}`,
      },
    };
  }
  if (!addon.cudaCompiled()) {
    return { addon, status: { backend: "typescript", addonLoaded: true, cudaCompiled: false, addonPath, reason: "not compiled (built with WITH_CUDA=OFF or without nvcc)" } };
  }
  const probe = addon.probeDevice();
  if (!probe.ok) {
    return { addon, status: { backend: "typescript", addonLoaded: true, cudaCompiled: true, addonPath, reason: `${probe.kind}: ${probe.error}` } };
  }
  return { addon, status: { backend: "cuda", addonLoaded: true, cudaCompiled: true, addonPath, device: probe.device } };
}
