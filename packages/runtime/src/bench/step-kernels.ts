/**
 * Decode steps to run under a kernel profiler (Nsight Systems): Llama-2-7B shapes (random weights),
 * batch 32, 4096-token contexts at a 20% budget (819 slots + 64 of slack), one policy.
 *
 *   nsys profile --cuda-graph-trace=node -o steps node dist/bench/step-kernels.js [policy] [batch]
 *   nsys stats --report cuda_gpu_kern_sum steps.nsys-rep
 *
 * Prints the mean wall time per step; the profiler's per-kernel table says where it goes. The nsys report of
 * 68 steps is about 0.5 GB (too large to bring back from a device host: run `nsys stats` there). Nsight
 * Compute gives per-kernel durations of about two steps in a small CSV (session 11, run 7):
 *
 *   ncu --clock-control none --cache-control none --metrics gpu__time_duration.sum --csv \
 *       --launch-skip 6000 --launch-count 700 node dist/bench/step-kernels.js streaming 32
 */
import { createEngine } from "../engine/engine.js";
import { engineStatus } from "../engine/loader.js";
import { evictionShape, timeDecodeSteps } from "./evict-steps.js";
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
  const { budget, capacity } = evictionShape(policy, ctx);
  const e = await createEngine({
    model: { preset: "llama2-7b" },
    maxBatch: B,
    capacity,
    maxPrefillTokens: 256,
    maxLogitRows: B,
    progress: false,
    eviction: policy === "full" ? undefined : { policy, budget, refresh: 32 },
  });
  try {
    e.native.fillCacheRandom(1);
    const steps = 64;
    const ms = await timeDecodeSteps(e, policy, ctx, B, steps);
    say(`step-kernels ${policy} B ${B}: ${ms.toFixed(3)} ms per step over ${steps} steps`);
  } finally {
    await e.dispose();
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
