/**
 * Decode steps to run under a kernel profiler (Nsight Systems): Llama-2-7B shapes (random weights),
 * batch 32, 4096-token contexts at a 20% budget (819 slots + 64 of slack), one policy.
 *
 *   nsys profile --cuda-graph-trace=node -o steps node dist/bench/step-kernels.js [policy] [batch]
 *   nsys stats --report cuda_gpu_kern_sum steps.nsys-rep
 *
 * Prints the mean wall time per step; the profiler's per-kernel table says where it goes.
 */
import { createEngine } from "../engine/engine.js";
import { engineStatus } from "../engine/loader.js";
import type { EnginePolicy } from "../engine/engine.js";

const say = (s: string) => process.stdout.write(`${s}\n`);

async function main(): Promise<void> {
  const status = engineStatus();
  if (status.backend !== "cuda") {
    say(`step-kernels skipped: ${status.reason}`);
    return;
  }
  const policy = (process.argv[2] ?? "streaming") as EnginePolicy;
  const B = Number(process.argv[3] ?? 32);
  const ctx = 4096;
  const budget = Math.floor(0.2 * ctx);
  const full = policy === "full";
  const capacity = full ? ctx + 64 : budget + 64;
  const e = await createEngine({
    model: { preset: "llama2-7b" },
    maxBatch: B,
    capacity,
    maxPrefillTokens: 256,
    maxLogitRows: B,
    progress: false,
    eviction: full ? undefined : { policy, budget, refresh: 32 },
  });
  try {
    e.native.fillCacheRandom(1);
    for (let b = 0; b < B; b++) e.native.setLength(b, full ? ctx : budget + ((b * 37) % 64));
    const tokens = Int32Array.from({ length: B }, (_, b) => (b * 31 + 7) % e.shape.vocab);
    const temp = new Float32Array(B);
    const topP = new Float32Array(B).fill(1);
    for (let i = 0; i < 4; i++) await e.native.decode(tokens, temp, topP, 0, false);
    const steps = 64;
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) {
      if (full && i % 32 === 0) for (let b = 0; b < B; b++) e.native.setLength(b, ctx);
      await e.native.decode(tokens, temp, topP, 0, false);
    }
    say(`step-kernels ${policy} B ${B}: ${((performance.now() - t0) / steps).toFixed(3)} ms per step over ${steps} steps`);
  } finally {
    await e.dispose();
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
