/**
 * Benchmarks of @kvwalk/model (tinybench; `pnpm --filter @kvwalk/model bench`), on the fixture model
 * (shared/models/fixture-lm) and 4096 tokens of WikiText-2 test text:
 * - one full-cache forward of 4096 tokens: without attention capture, capturing layer 0
 *   ([6, 4096, 4096] probabilities) and capturing all 8 layers; medians of wall and CPU time,
 *   achieved GFLOP/s (FLOPs as executed, see forwardFlops) and peak RSS after each group;
 * - baselines measured in the same run: a plain ORT MatMul 2048x2048x2048 and one of the model's
 *   own MLP shape (4096x384 @ 384x1024), both returning their output to JavaScript;
 * - the layer stepper as the oracle uses it, per layer: qkv(), logits(head) for every head, and
 *   attend() with a random eviction vector (medians over layers/heads) and the total per window.
 * Re-runs itself with the tuned glibc allocator (see alloc-tuning.ts) unless KVWALK_NO_REEXEC=1.
 * Results: $KVWALK_BENCH_OUT/model-forward.json (default bench/results/ of the repository).
 */
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { requireShared, runMetadata, writeJsonAtomic } from "@kvwalk/core";
import { seededRandom } from "@kvwalk/core/testing";
import ort from "onnxruntime-node";
import { Bench } from "tinybench";
import { allocatorTuned, reexecWithTunedAllocator } from "../alloc-tuning.js";
import type { ModelConfig } from "../config.js";
import { loadModel } from "../model.js";
import { ATTENTION_BLOCKS } from "../graphs.js";
import { GraphBuilder } from "../onnx/builder.js";

reexecWithTunedAllocator();

const outDir = process.env.KVWALK_BENCH_OUT ?? fileURLToPath(new URL("../../../../bench/results/", import.meta.url));
const say = (s: string) => process.stdout.write(`${s}\n`);
const T = 4096;

/**
 * Multiply-adds x2 of one forward: projections, MLP and lm_head, and QK^T + PV of every head as
 * executed by the blocked attention graph (query block i against keys [0, b_{i+1})); `attentionDense`
 * is the full [T, T] count for comparison.
 */
function forwardFlops(c: ModelConfig, T: number): { linear: number; attention: number; attentionDense: number } {
  const { hiddenSize: H, numHeads: Hq, numKvHeads: Hkv, headDim: d, intermediateSize: I, vocabSize: V, numLayers: L } = c;
  const perLayer = H * Hq * d * 2 + H * Hkv * d * 2 + 3 * H * I;
  let scored = 0;
  for (let i = 0; i < ATTENTION_BLOCKS; i++) {
    const start = Math.floor((T * i) / ATTENTION_BLOCKS);
    const end = Math.floor((T * (i + 1)) / ATTENTION_BLOCKS);
    scored += (end - start) * end;
  }
  return { linear: 2 * T * (L * perLayer + V * H), attention: L * Hq * 4 * scored * d, attentionDense: L * Hq * 4 * T * T * d };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const peakRssMiB = () => process.resourceUsage().maxRSS / 1024;

/** CPU time (user + system, all threads) of `fn`, in ms: robust to other jobs sharing the cores. */
async function cpuMs(fn: () => Promise<unknown>): Promise<number> {
  const c0 = process.cpuUsage();
  await fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

async function matmulSession(threads: number) {
  const g = new GraphBuilder("matmul");
  g.input("a", "FLOAT", ["M", "K"]);
  g.input("b", "FLOAT", ["K", "N"]);
  g.op("MatMul", ["a", "b"], {}, "y");
  g.output("y", "FLOAT", ["M", "N"]);
  return ort.InferenceSession.create(g.toModel(), { executionProviders: ["cpu"], intraOpNumThreads: threads, interOpNumThreads: 1 });
}

async function main(): Promise<void> {
  const loadAverageAtStart = loadavg();
  const dir = requireShared("models/fixture-lm", "the fixture model");
  const wiki = requireShared("data/wikitext-2-raw/wiki.test.raw", "WikiText-2 test text");
  const model = await loadModel(dir);
  const c = model.config;
  const threads = (await import("node:os")).availableParallelism();
  const tokens = model.tokenizer.encode(readFileSync(wiki, "utf8").slice(0, 60_000)).slice(0, T);
  if (tokens.length !== T) throw new Error(`expected ${T} tokens of text, got ${tokens.length}`);
  const flops = forwardFlops(c, T);
  const totalFlops = flops.linear + flops.attention;
  say(
    `fixture-lm forward of ${T} tokens: ${(flops.linear / 1e9).toFixed(1)} GFLOP linear + ${(flops.attention / 1e9).toFixed(1)} GFLOP attention as executed (${(flops.attentionDense / 1e9).toFixed(1)} dense); allocator tuned: ${allocatorTuned()}`,
  );

  const mm = await matmulSession(threads);
  const shapes: [string, number, number, number][] = [
    ["ORT MatMul 2048x2048x2048", 2048, 2048, 2048],
    ["ORT MatMul 4096x384x1024 (MLP shape)", 4096, 384, 1024],
  ];
  const baseCpu = new Map<string, number[]>();
  const base = new Bench({ name: "baseline", iterations: 10, time: 0, warmupIterations: 2, warmupTime: 0 });
  const rand = seededRandom(1);
  for (const [name, M, K, N] of shapes) {
    const a = new ort.Tensor("float32", Float32Array.from({ length: M * K }, () => rand() - 0.5), [M, K]);
    const b = new ort.Tensor("float32", Float32Array.from({ length: K * N }, () => rand() - 0.5), [K, N]);
    const cpu: number[] = [];
    baseCpu.set(name, cpu);
    base.add(name, async () => {
      cpu.push(await cpuMs(() => mm.run({ a, b })));
    });
  }
  await base.run();
  const p50 = (b: Bench, name: string) => {
    const r = b.tasks.find((t) => t.name === name)?.result as { latency?: { p50: number } } | undefined;
    if (!r?.latency) throw new Error(`${name}: no result`);
    return r.latency.p50;
  };
  const baselines = shapes.map(([name, M, K, N]) => {
    const ms = p50(base, name);
    const cpu = median(baseCpu.get(name) ?? []);
    return { name, medianMs: ms, gflops: (2 * M * K * N) / (ms / 1e3) / 1e9, medianCpuMs: cpu, gflopsPerCpuSecond: (2 * M * K * N) / (cpu / 1e3) / 1e9 };
  });
  for (const b of baselines) say(`${b.name}: ${b.medianMs.toFixed(1)} ms, ${b.gflops.toFixed(1)} GFLOP/s (${b.gflopsPerCpuSecond.toFixed(1)} GFLOP per CPU-second)`);

  const variants: [string, number[]][] = [
    ["forward 4096", []],
    ["forward 4096 + capture layer 0", [0]],
    ["forward 4096 + capture all 8 layers", Array.from({ length: c.numLayers }, (_, l) => l)],
  ];
  const forwards = [];
  for (const [name, capture] of variants) {
    const b = new Bench({ name, iterations: 3, time: 0, warmupIterations: 1, warmupTime: 0 });
    const cpu: number[] = [];
    b.add(name, async () => {
      cpu.push(await cpuMs(() => model.forward(tokens, { positions: [], captureAttention: capture })));
    });
    await b.run();
    const ms = p50(b, name);
    const gflops = totalFlops / (ms / 1e3) / 1e9;
    const cpuMedian = median(cpu);
    const perCpuSecond = totalFlops / (cpuMedian / 1e3) / 1e9;
    const row = {
      name,
      capturedLayers: capture.length,
      medianMs: ms,
      medianCpuMs: cpuMedian,
      gflopsPerCpuSecond: perCpuSecond,
      vsMatmul2048PerCpuSecond: perCpuSecond / baselines[0].gflopsPerCpuSecond,
      vsMatmulMlpShapePerCpuSecond: perCpuSecond / baselines[1].gflopsPerCpuSecond,
      tokensPerSecond: T / (ms / 1e3),
      gflops,
      vsMatmul2048: gflops / baselines[0].gflops,
      vsMatmulMlpShape: gflops / baselines[1].gflops,
      peakRssMiB: peakRssMiB(),
    };
    forwards.push(row);
    say(`${name}: ${(ms / 1e3).toFixed(2)} s, ${row.tokensPerSecond.toFixed(0)} tok/s, ${gflops.toFixed(1)} GFLOP/s (${(row.vsMatmul2048 * 100).toFixed(0)}% of MatMul 2048^3, ${(row.vsMatmulMlpShape * 100).toFixed(0)}% of MLP-shape MatMul), CPU ${(cpuMedian / 1e3).toFixed(2)} s (${(row.vsMatmul2048PerCpuSecond * 100).toFixed(0)}% / ${(row.vsMatmulMlpShapePerCpuSecond * 100).toFixed(0)}% per CPU-second), peak RSS ${row.peakRssMiB.toFixed(0)} MiB`);
  }

  // Stepper as the oracle drives it: per layer qkv, logits of every head, attend with eviction.
  const qkvMs: number[] = [];
  const logitsMs: number[] = [];
  const attendMs: number[] = [];
  const attendCaptureMs: number[] = [];
  const windowMs: number[] = [];
  const qkvCpu: number[] = [];
  const logitsCpu: number[] = [];
  const attendCpu: number[] = [];
  const attendCaptureCpu: number[] = [];
  for (let rep = 0; rep < 2; rep++) {
    const w0 = performance.now();
    const st = await model.stepper(tokens);
    for (let l = 0; l < c.numLayers; l++) {
      let t0 = performance.now();
      qkvCpu.push(await cpuMs(() => st.qkv()));
      qkvMs.push(performance.now() - t0);
      for (let h = 0; h < c.numHeads; h++) {
        t0 = performance.now();
        logitsCpu.push(await cpuMs(() => st.logits(h)));
        logitsMs.push(performance.now() - t0);
      }
      const evict = new Int32Array(c.numKvHeads * T);
      for (let i = 0; i < evict.length; i++) {
        const j = i % T;
        evict[i] = Math.min(T, j + 1 + Math.floor(rand() * 3000));
      }
      t0 = performance.now();
      const capture = rep === 1 ? { captureHeads: Array.from({ length: c.numHeads }, (_, h) => h) } : undefined;
      const cpu = await cpuMs(() => st.attend(evict, capture));
      (rep === 1 ? attendCaptureMs : attendMs).push(performance.now() - t0);
      (rep === 1 ? attendCaptureCpu : attendCpu).push(cpu);
    }
    await st.finish();
    if (rep === 0) windowMs.push(performance.now() - w0);
  }
  const stepper = {
    qkvPerLayerMs: median(qkvMs),
    logitsPerHeadMs: median(logitsMs),
    attendPerLayerMs: median(attendMs),
    attendPerLayerCapturingAllHeadsMs: median(attendCaptureMs),
    windowMs: windowMs[0],
    cpuMs: { qkvPerLayer: median(qkvCpu), logitsPerHead: median(logitsCpu), attendPerLayer: median(attendCpu), attendPerLayerCapturingAllHeads: median(attendCaptureCpu) },
    note: "one 4096-token window: per layer qkv() + logits(h) for all 6 heads + attend(evict) (no capture), then finish(); attend includes the MLP of the layer",
  };
  say(
    `stepper per layer: qkv ${stepper.qkvPerLayerMs.toFixed(0)} ms, logits ${stepper.logitsPerHeadMs.toFixed(0)} ms/head, attend ${stepper.attendPerLayerMs.toFixed(0)} ms (capturing all heads ${stepper.attendPerLayerCapturingAllHeadsMs.toFixed(0)} ms); window total ${(stepper.windowMs / 1e3).toFixed(1)} s; CPU ms: ${JSON.stringify(stepper.cpuMs)}`,
  );

  await model.dispose();
  await mm.release();
  const file = join(outDir, "model-forward.json");
  writeJsonAtomic(file, {
    ...runMetadata({ allocatorTuned: allocatorTuned(), threads, ort: ort.env.versions.common, loadAverageAtStart, loadAverageAtEnd: loadavg() }),
    model: "fixture-lm (8 layers, hidden 384, 6 heads x 64, vocab 8192)",
    tokens: T,
    flops: {
      ...flops,
      total: totalFlops,
      note: `as executed: linear layers + attention of ${ATTENTION_BLOCKS} causal query blocks (block i scores keys [0, end of block i]); GFLOP/s figures use this total`,
    },
    baselines,
    forwards,
    stepper,
  });
  say(`wrote ${file}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
