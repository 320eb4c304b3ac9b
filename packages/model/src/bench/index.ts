/**
 * Benchmarks of @kvwalk/model (tinybench; `pnpm --filter @kvwalk/model bench`), on the fixture model
 * (shared/models/fixture-lm) and 4096 tokens of WikiText-2 test text:
 * - one full-cache forward of 4096 tokens: without attention capture, capturing layer 0
 *   ([6, 4096, 4096] probabilities) and capturing all 8 layers; medians, achieved GFLOP/s (dense
 *   count: every [T, T] score is computed, masked or not) and peak RSS after each group;
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
import { GraphBuilder } from "../onnx/builder.js";

reexecWithTunedAllocator();

const outDir = process.env.KVWALK_BENCH_OUT ?? fileURLToPath(new URL("../../../../bench/results/", import.meta.url));
const say = (s: string) => process.stdout.write(`${s}\n`);
const T = 4096;

/** Multiply-adds x2 of one forward: projections, MLP and lm_head, plus dense QK^T and PV of every head. */
function forwardFlops(c: ModelConfig, T: number): { linear: number; attention: number } {
  const { hiddenSize: H, numHeads: Hq, numKvHeads: Hkv, headDim: d, intermediateSize: I, vocabSize: V, numLayers: L } = c;
  const perLayer = H * Hq * d * 2 + H * Hkv * d * 2 + 3 * H * I;
  return { linear: 2 * T * (L * perLayer + V * H), attention: L * Hq * 4 * T * T * d };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const peakRssMiB = () => process.resourceUsage().maxRSS / 1024;

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
  say(`fixture-lm forward of ${T} tokens: ${(flops.linear / 1e9).toFixed(1)} GFLOP linear + ${(flops.attention / 1e9).toFixed(1)} GFLOP attention (dense); allocator tuned: ${allocatorTuned()}`);

  const mm = await matmulSession(threads);
  const shapes: [string, number, number, number][] = [
    ["ORT MatMul 2048x2048x2048", 2048, 2048, 2048],
    ["ORT MatMul 4096x384x1024 (MLP shape)", 4096, 384, 1024],
  ];
  const base = new Bench({ name: "baseline", iterations: 10, time: 0, warmupIterations: 2, warmupTime: 0 });
  const rand = seededRandom(1);
  for (const [name, M, K, N] of shapes) {
    const a = new ort.Tensor("float32", Float32Array.from({ length: M * K }, () => rand() - 0.5), [M, K]);
    const b = new ort.Tensor("float32", Float32Array.from({ length: K * N }, () => rand() - 0.5), [K, N]);
    base.add(name, async () => {
      await mm.run({ a, b });
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
    return { name, medianMs: ms, gflops: (2 * M * K * N) / (ms / 1e3) / 1e9 };
  });
  for (const b of baselines) say(`${b.name}: ${b.medianMs.toFixed(1)} ms, ${b.gflops.toFixed(1)} GFLOP/s`);

  const variants: [string, number[]][] = [
    ["forward 4096", []],
    ["forward 4096 + capture layer 0", [0]],
    ["forward 4096 + capture all 8 layers", Array.from({ length: c.numLayers }, (_, l) => l)],
  ];
  const forwards = [];
  for (const [name, capture] of variants) {
    const b = new Bench({ name, iterations: 3, time: 0, warmupIterations: 1, warmupTime: 0 });
    b.add(name, async () => {
      await model.forward(tokens, { positions: [], captureAttention: capture });
    });
    await b.run();
    const ms = p50(b, name);
    const gflops = totalFlops / (ms / 1e3) / 1e9;
    const row = {
      name,
      capturedLayers: capture.length,
      medianMs: ms,
      tokensPerSecond: T / (ms / 1e3),
      gflops,
      vsMatmul2048: gflops / baselines[0].gflops,
      vsMatmulMlpShape: gflops / baselines[1].gflops,
      peakRssMiB: peakRssMiB(),
    };
    forwards.push(row);
    say(`${name}: ${(ms / 1e3).toFixed(2)} s, ${row.tokensPerSecond.toFixed(0)} tok/s, ${gflops.toFixed(1)} GFLOP/s (${(row.vsMatmul2048 * 100).toFixed(0)}% of MatMul 2048^3, ${(row.vsMatmulMlpShape * 100).toFixed(0)}% of MLP-shape MatMul), peak RSS ${row.peakRssMiB.toFixed(0)} MiB`);
  }

  // Stepper as the oracle drives it: per layer qkv, logits of every head, attend with eviction.
  const qkvMs: number[] = [];
  const logitsMs: number[] = [];
  const attendMs: number[] = [];
  const attendCaptureMs: number[] = [];
  const windowMs: number[] = [];
  for (let rep = 0; rep < 2; rep++) {
    const w0 = performance.now();
    const st = await model.stepper(tokens);
    for (let l = 0; l < c.numLayers; l++) {
      let t0 = performance.now();
      await st.qkv();
      qkvMs.push(performance.now() - t0);
      for (let h = 0; h < c.numHeads; h++) {
        t0 = performance.now();
        await st.logits(h);
        logitsMs.push(performance.now() - t0);
      }
      const evict = new Int32Array(c.numKvHeads * T);
      for (let i = 0; i < evict.length; i++) {
        const j = i % T;
        evict[i] = Math.min(T, j + 1 + Math.floor(rand() * 3000));
      }
      t0 = performance.now();
      const capture = rep === 1 ? { captureHeads: Array.from({ length: c.numHeads }, (_, h) => h) } : undefined;
      await st.attend(evict, capture);
      (rep === 1 ? attendCaptureMs : attendMs).push(performance.now() - t0);
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
    note: "one 4096-token window: per layer qkv() + logits(h) for all 6 heads + attend(evict) (no capture), then finish(); attend includes the MLP of the layer",
  };
  say(
    `stepper per layer: qkv ${stepper.qkvPerLayerMs.toFixed(0)} ms, logits ${stepper.logitsPerHeadMs.toFixed(0)} ms/head, attend ${stepper.attendPerLayerMs.toFixed(0)} ms (capturing all heads ${stepper.attendPerLayerCapturingAllHeadsMs.toFixed(0)} ms); window total ${(stepper.windowMs / 1e3).toFixed(1)} s`,
  );

  await model.dispose();
  await mm.release();
  const file = join(outDir, "model-forward.json");
  writeJsonAtomic(file, {
    ...runMetadata({ allocatorTuned: allocatorTuned(), threads, ort: ort.env.versions.common, loadAverageAtStart, loadAverageAtEnd: loadavg() }),
    model: "fixture-lm (8 layers, hidden 384, 6 heads x 64, vocab 8192)",
    tokens: T,
    flops: { ...flops, total: totalFlops, note: "dense: every [T, T] score of every head is computed (masked ones too)" },
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
