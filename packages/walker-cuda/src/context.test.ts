import { BackendUnavailableError } from "@kvwalk/core";
import { describe, expect, it } from "vitest";
import { WalkerContext, walkBatch } from "./context.js";
import { backendStatus, loadedAddon } from "./loader.js";
import { philox4x32 } from "./philox.js";
import { walkBatchReference } from "./reference.js";
import { randomBatch } from "./testing/graphs.js";

const status = backendStatus();
const addon = loadedAddon();
if (!addon) console.warn(`[walker-cuda] native Philox parity skipped: ${status.reason}`);

describe.skipIf(!addon)("native Philox (host build of philox.cuh)", () => {
  it("equals the TypeScript Philox on random counters and keys", () => {
    let s = 12345;
    const next = () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s;
    };
    for (let i = 0; i < 2000; i++) {
      const w = [next(), next(), next(), next(), next(), next()];
      expect(Array.from(addon!.philox4x32(w[0], w[1], w[2], w[3], w[4], w[5]))).toEqual(Array.from(philox4x32(w[0], w[1], w[2], w[3], w[4], w[5])));
    }
  });
});

describe("backend selection", () => {
  it("reports why CUDA is not active, or the device", () => {
    if (status.backend === "cuda") expect(status.device?.name).toBeTruthy();
    else expect(status.reason).toBeTruthy();
  });

  it.skipIf(status.backend === "cuda")("WalkerContext.create throws BackendUnavailableError without CUDA", () => {
    expect(() => WalkerContext.create(1, 8)).toThrow(BackendUnavailableError);
  });

  it("walkBatch equals the reference on either backend", async () => {
    const batch = randomBatch("attention", 3, 50, 5);
    const opts = { numNodes: [50, 20, 0], walkers: 100, steps: 5, seed: 8 };
    expect(await walkBatch(batch, opts)).toEqual(walkBatchReference(batch, opts));
  });
});
