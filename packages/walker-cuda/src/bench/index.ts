/**
 * Benchmarks of @kvwalk/walker-cuda (`pnpm --filter @kvwalk/walker-cuda bench`).
 *
 * With CUDA, per shape (1 graph and 256 graphs = 32 layers x 8 KV heads, capacities 4096/16384, and
 * the issue's Llama-2-7B refresh: 1024 graphs x 4096; 1024 walkers x 20 steps per graph):
 * - kernel time per launch: CUDA events around back-to-back launches, median of `REPEATS`;
 *   global-memory and shared-memory staging; walks/s and walker-steps/s;
 * - what bounds it, measured in the same run: an empty kernel launch (launch floor), the same
 *   launch with RNG only and with RNG + atomics but no graph loads (probes), a dependent-load chase
 *   over a buffer the size of the graphs (latency of one walk step's load), and a device-to-device
 *   memcpy (bandwidth);
 * - end to end: `await ctx.walk()` (enqueue, Promise settled from the stream) with tinybench;
 * - the TypeScript walker on the same shapes (tinybench), and the GPU/TS speed-up.
 * Without CUDA it says so and benches the TypeScript walker only.
 * Results: $KVWALK_BENCH_OUT/walker-cuda-bench.json (default bench/results/ of the repository).
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { checkMetadata, writeJsonAtomic } from "@kvwalk/core";
import { Bench } from "tinybench";
import { maxSharedWalkCapacity, resolveStaging, WalkerContext, type WalkStaging } from "../context.js";
import { backendStatus, cudaAddon } from "../loader.js";
import { walkBatchReference } from "../reference.js";
import { randomBatch } from "../testing/graphs.js";

const outDir = process.env.KVWALK_BENCH_OUT ?? fileURLToPath(new URL("../../../../bench/results/", import.meta.url));
const say = (s: string) => process.stdout.write(`${s}\n`);
const REPEATS = 50;
const WALKERS = 1024;
const STEPS = 20;

interface Shape {
  label: string;
  numGraphs: number;
  capacity: number;
}

const SHAPES: Shape[] = [
  { label: "1 graph x 4096", numGraphs: 1, capacity: 4096 },
  { label: "1 graph x 16384", numGraphs: 1, capacity: 16384 },
  { label: "256 graphs (32 layers x 8 KV heads) x 4096", numGraphs: 256, capacity: 4096 },
  { label: "256 graphs (32 layers x 8 KV heads) x 16384", numGraphs: 256, capacity: 16384 },
  { label: "Llama-2-7B refresh: 1024 graphs (32 x 32 heads) x 4096", numGraphs: 1024, capacity: 4096 },
];

function median(xs: ArrayLike<number>): number {
  const a = Array.from(xs).sort((x, y) => x - y);
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
}

/** Median ms of the TypeScript walker on a shape (few iterations: it takes up to seconds). */
async function tsWalkerMs(shape: Shape): Promise<number> {
  const batch = randomBatch("attention", shape.numGraphs, shape.capacity, 1);
  const opts = { numNodes: shape.capacity, walkers: WALKERS, steps: STEPS, excludeBelow: 4 };
  const heavy = shape.numGraphs * WALKERS * STEPS > 1e6;
  const bench = new Bench({ name: "ts walker", time: heavy ? 0 : 500, iterations: heavy ? 1 : 10, warmup: !heavy, warmupIterations: 2, warmupTime: 0 });
  bench.add(shape.label, () => {
    walkBatchReference(batch, opts);
  });
  await bench.run();
  const r = bench.tasks[0].result as { latency?: { p50: number } };
  return r.latency?.p50 ?? Number.NaN;
}

async function benchCuda(): Promise<void> {
  const addon = cudaAddon()!;
  const device = backendStatus().device!;
  const residentThreads = device.multiprocessors * 2048;
  const sharedCap = maxSharedWalkCapacity();
  say(
    `walker-cuda bench on ${device.name} (driver ${device.driverVersion}, ${device.multiprocessors} SMs); ` +
      `staging "shared" up to capacity ${sharedCap.shared}, "shared-counts" up to ${sharedCap.sharedCounts}`,
  );

  // Baselines: per distinct graph size (neighbors array bytes), memcpy, empty kernel, dependent-load chase.
  const chaseLoads = 4000;
  const baselines = new Map<number, { memcpyMs: number; memcpyTBps: number; emptyKernelMs: number; chaseNsPerLoad: number }>();
  for (const shape of SHAPES) {
    const bytes = Math.max(1 << 20, shape.numGraphs * shape.capacity * 16);
    if (baselines.has(bytes)) continue;
    const b = addon.benchBaselines!(bytes, REPEATS, chaseLoads);
    const memcpyMs = median(b.memcpyMs);
    baselines.set(bytes, {
      memcpyMs,
      memcpyTBps: (2 * bytes) / (memcpyMs / 1e3) / 1e12,
      emptyKernelMs: median(b.emptyKernelMs),
      chaseNsPerLoad: (median(b.chaseMs) * 1e6) / chaseLoads,
    });
    const x = baselines.get(bytes)!;
    say(
      `baseline ${(bytes / 2 ** 20).toFixed(0)} MiB: memcpy D2D ${(x.memcpyMs * 1e3).toFixed(1)} us (${x.memcpyTBps.toFixed(2)} TB/s read+write), ` +
        `empty kernel ${(x.emptyKernelMs * 1e3).toFixed(2)} us, dependent load ${x.chaseNsPerLoad.toFixed(0)} ns`,
    );
  }

  const rows: Record<string, unknown>[] = [];
  for (const shape of SHAPES) {
    const batch = randomBatch("attention", shape.numGraphs, shape.capacity, 1);
    const opts = { numNodes: shape.capacity, walkers: WALKERS, steps: STEPS, excludeBelow: 4, seed: 1 };
    const ctx = WalkerContext.create(shape.numGraphs, shape.capacity);
    try {
      ctx.uploadGraphs(batch);
      await ctx.synchronize();
      ctx.timeWalk(opts, 5); // warm-up
      const kernelMs: Record<string, number | null> = {};
      for (const st of ["global", "shared", "shared-counts"] as const) {
        const fits = st === "global" || shape.capacity <= (st === "shared" ? sharedCap.shared : sharedCap.sharedCounts);
        kernelMs[st] = fits ? median(ctx.timeWalk({ ...opts, staging: st }, REPEATS)) : null;
      }
      kernelMs["shared-counts-2"] =
        shape.capacity * 8 <= sharedCap.sharedCounts * 4 ? median(ctx.timeWalk({ ...opts, staging: "shared-counts" }, REPEATS, "shared-counts-2")) : null;
      const autoStaging = resolveStaging(shape.numGraphs, shape.capacity);
      const globalMs = kernelMs.global as number;
      const sharedMs = Math.min(...[kernelMs.shared, kernelMs["shared-counts"]].filter((x): x is number => x !== null), Number.POSITIVE_INFINITY);
      const noGraphMs = median(ctx.timeWalk({ ...opts, staging: "global" }, REPEATS, "no-graph"));
      const rngOnlyMs = median(ctx.timeWalk({ ...opts, staging: "global" }, REPEATS, "rng-only"));
      const e2e = new Bench({ name: "walk promise", time: 300, iterations: 20 });
      e2e.add("await ctx.walk", async () => {
        await ctx.walk(opts);
      });
      await e2e.run();
      const e2eMs = (e2e.tasks[0].result as { latency?: { p50: number } }).latency?.p50 ?? Number.NaN;
      const base = baselines.get(Math.max(1 << 20, shape.numGraphs * shape.capacity * 16))!;
      const threads = shape.numGraphs * WALKERS;
      const waves = Math.ceil(threads / residentThreads);
      // One dependent load per step is the walk's critical path: waves x steps x load latency.
      const latencyBoundMs = (waves * STEPS * base.chaseNsPerLoad) / 1e6 + base.emptyKernelMs;
      const bestMs = Math.min(globalMs, sharedMs);
      const autoMs = kernelMs[autoStaging] as number;
      const tsMs = await tsWalkerMs(shape);
      const row = {
        shape: shape.label,
        numGraphs: shape.numGraphs,
        capacity: shape.capacity,
        walkers: WALKERS,
        steps: STEPS,
        kernelMs: { ...kernelMs, best: bestMs, auto: autoMs },
        autoStaging,
        walksPerSecond: threads / (autoMs / 1e3),
        walkerStepsPerSecond: (threads * STEPS) / (autoMs / 1e3),
        probes: { noGraphLoadsMs: noGraphMs, rngOnlyMs },
        endToEndPromiseMs: e2eMs,
        bound: {
          emptyKernelMs: base.emptyKernelMs,
          dependentLoadNs: base.chaseNsPerLoad,
          waves,
          latencyBoundMs,
          autoOverLatencyBound: autoMs / latencyBoundMs,
          graphReadOnceMs: ((shape.numGraphs * shape.capacity * 32) / (base.memcpyTBps * 1e12)) * 1e3,
        },
        typescriptMs: tsMs,
        speedupVsTypescript: tsMs / autoMs,
      };
      rows.push(row);
      say(
        `${shape.label}: ${Object.entries(kernelMs)
          .map(([k, v]) => `${k} ${v === null ? "n/a" : `${(v * 1e3).toFixed(1)} us`}`)
          .join(", ")}; auto=${autoStaging}; ` +
          `no-graph ${(noGraphMs * 1e3).toFixed(1)} us, rng-only ${(rngOnlyMs * 1e3).toFixed(1)} us, latency bound ${(latencyBoundMs * 1e3).toFixed(1)} us ` +
          `(x${(autoMs / latencyBoundMs).toFixed(2)}), ${(row.walkerStepsPerSecond / 1e9).toFixed(2)} G steps/s, promise ${(e2eMs * 1e3).toFixed(0)} us, ` +
          `TS ${tsMs.toFixed(1)} ms (x${row.speedupVsTypescript.toFixed(0)})`,
      );
    } finally {
      ctx.dispose();
    }
  }
  // Crossover of the stagings against the batch size (kernel medians, 1024 walkers x 20 steps).
  const sweep: Record<string, unknown>[] = [];
  for (const capacity of [4096, 16384]) {
    for (const numGraphs of [1, 4, 8, 16, 32, 64, 128]) {
      const batch = randomBatch("attention", numGraphs, capacity, 2);
      const ctx = WalkerContext.create(numGraphs, capacity);
      try {
        ctx.uploadGraphs(batch);
        const opts = { numNodes: capacity, walkers: WALKERS, steps: STEPS, excludeBelow: 4, seed: 1 };
        const row: Record<string, unknown> = { numGraphs, capacity, auto: resolveStaging(numGraphs, capacity) };
        for (const st of ["global", "shared", "shared-counts"] as WalkStaging[]) {
          const fits = st === "global" || capacity <= (st === "shared" ? sharedCap.shared : sharedCap.sharedCounts);
          row[st] = fits ? median(ctx.timeWalk({ ...opts, staging: st }, 20)) : null;
        }
        row["shared-counts-2"] = median(ctx.timeWalk({ ...opts, staging: "shared-counts" }, 20, "shared-counts-2"));
        sweep.push(row);
        say(`sweep ${numGraphs} x ${capacity}: ${["global", "shared", "shared-counts", "shared-counts-2"].map((k) => `${k} ${row[k] === null ? "n/a" : `${((row[k] as number) * 1e3).toFixed(1)} us`}`).join(", ")} (auto ${row.auto})`);
      } finally {
        ctx.dispose();
      }
    }
  }
  const path = join(outDir, "walker-cuda-bench.json");
  writeJsonAtomic(path, {
    ...checkMetadata(),
    gpu: device.name,
    device,
    driverVersion: device.driverVersion,
    timing: `CUDA events around ${REPEATS} back-to-back launches, median; end to end and TypeScript: tinybench medians`,
    baselines: Object.fromEntries([...baselines].map(([bytes, b]) => [`${bytes} bytes`, b])),
    residentThreads,
    maxSharedWalkCapacity: sharedCap,
    rows,
    stagingSweep: sweep,
  });
  say(`wrote ${path}`);
}

async function benchTypescript(reason: string): Promise<void> {
  say(`walker-cuda bench: the CUDA benchmarks need a GPU (${reason}); benching the TypeScript walker only`);
  const rows = [];
  for (const shape of SHAPES.slice(0, 3)) {
    const ms = await tsWalkerMs(shape);
    const steps = shape.numGraphs * WALKERS * STEPS;
    rows.push({ shape: shape.label, typescriptMs: ms, walkerStepsPerSecond: steps / (ms / 1e3) });
    say(`${shape.label}: TS ${ms.toFixed(1)} ms (${(steps / (ms / 1e3) / 1e6).toFixed(2)} M steps/s)`);
  }
  const path = join(outDir, "walker-cuda-bench-typescript.json");
  writeJsonAtomic(path, { ...checkMetadata(), backend: "typescript", reason, rows });
  say(`wrote ${path}`);
}

const status = backendStatus();
(status.backend === "cuda" ? benchCuda() : benchTypescript(status.reason ?? "CUDA unavailable")).catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
