/**
 * GPU decode-engine benchmarks (`node dist/bench/engine.js`, CUDA host only; prints why and exits 0
 * without one). Random-weight models of real 7B shapes (Llama-2-7B, Mistral-7B).
 *
 * Decode: contexts 4k and 16k, batch 1/8/32. The cache is filled with random bf16 and every sequence
 * set to the context length (the step's cost does not depend on the values); then tinybench times
 * whole decode steps (embedding -> 32 layers -> LM head -> sampling -> tokens on the host), median
 * (p50). Bound: bytes one step must move (all weights once + the K/V of every sequence) divided by the
 * device-to-device copy bandwidth measured in the same run; achieved fraction = bound / measured.
 * Graph write: the same step with the fused top-4 graph write on (the ratio is issue 7's denominator).
 * Breakdown: with CUDA-event profiling, GEMM vs attention vs other time per step.
 * Prefill: one prompt of 4096 (and 16384) tokens; bound = FLOPs / 989 TFLOP/s dense bf16.
 * Prompt scoring (--prompt-score-only; also run by --evict-only): prefill_score kernels vs the layer's
 * prefill attention, and whole 4096-token prefills with scorePrompt off vs on -> runtime-prompt-score.json.
 * Results: $KVWALK_BENCH_OUT/runtime-engine.json (default bench/results/).
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeFileSync } from "node:fs";
import { checkMetadata, writeJsonAtomic } from "@kvwalk/core";
import { niceTicks, PALETTE, renderPng, renderSvg, type Scene, type SceneItem } from "@kvwalk/core/plot";
import { Bench } from "tinybench";
import type { NativeShape } from "../engine/addon-types.js";
import { evictBench } from "../engine/bench/evict.js";
import { decodeGemmBytes, gemmBench } from "../engine/bench/gemm.js";
import { prefillScoreBench } from "../engine/bench/prefill-score.js";
import { createEngine, type Engine } from "../engine/engine.js";
import { defaultShapeKind, evictionShape, type EvictionShapeKind, timeDecodeSteps } from "./evict-steps.js";
import type { GemmAddon } from "../engine/gpu/gemm-addon-types.js";
import { engineStatus, requireEngineAddon } from "../engine/loader.js";
import { kvBytesPerToken, PRESETS, type PresetName, shapeParameters } from "../engine/shapes.js";

const outDir = process.env.KVWALK_BENCH_OUT ?? fileURLToPath(new URL("../../../../bench/results/", import.meta.url));
const say = (s: string) => process.stdout.write(`${s}\n`);
const quick = process.argv.includes("--quick");
const PEAK_BF16_TFLOPS = 989;
const GIB = 1024 ** 3;

type Row = Record<string, unknown>;

async function p50(fn: () => Promise<unknown>, iterations: number): Promise<number> {
  const bench = new Bench({ name: "step", time: 0, iterations, warmup: true, warmupIterations: 3, warmupTime: 0 });
  bench.add("step", fn);
  await bench.run();
  const r = bench.tasks[0].result as { latency?: { p50: number } };
  return r.latency?.p50 ?? Number.NaN;
}

function weightBytesPerStep(s: NativeShape): number {
  // every matrix once; of the embedding only B rows (negligible)
  return (shapeParameters(s) - s.vocab * s.hidden * (s.tiedEmbeddings ? 0 : 1)) * 2;
}

async function decodeStep(e: Engine, B: number, ctx: number): Promise<number> {
  const tokens = Int32Array.from({ length: B }, (_, b) => (b * 31 + 7) % e.shape.vocab);
  const temp = new Float32Array(B);
  const topP = new Float32Array(B).fill(1);
  return p50(async () => {
    // keep the length fixed at ctx: reset before each step
    for (let b = 0; b < B; b++) e.native.setLength(b, ctx);
    await e.native.decode(tokens, temp, topP, 0, false);
  }, quick ? 5 : 20);
}

/**
 * Live eviction at a 20% budget (issue 7): 4096-token contexts in a cache of 819 slots compacted to 755
 * when full (evictionShape "cap"; "slack", the bench of sessions 4-12: compacted to 819, 883 slots), every
 * policy, against the full cache (4096 slots) in the same run. Mean step time over 128 steps (compactions
 * included: one per sequence every 64 steps, staggered).
 */
type BenchPolicy = "full" | "streaming" | "h2o" | "tova" | "walker" | "pagerank-top4";

/**
 * Engine options of the eviction benches (evictionBench, --attribution): `policy` at the eviction shape of
 * `ctx` (evictionShape, `shape`: a cache of 20% of the context or the sessions 4-12 shape), walker refresh
 * every 32 steps; `walker` overrides the walker policy's options.
 */
function evictEngineOptions(preset: PresetName, policy: BenchPolicy, ctx: number, maxBatch: number, walker?: { refresh?: number; walkers?: number }, shape: EvictionShapeKind = defaultShapeKind()) {
  const { budget, capacity } = evictionShape(policy, ctx, shape);
  return {
    model: { preset },
    maxBatch,
    capacity,
    maxPrefillTokens: 256,
    maxLogitRows: maxBatch,
    progress: false,
    eviction: policy === "full" ? undefined : { policy, budget, refresh: 32, ...(policy === "walker" ? walker : {}) },
  };
}

/**
 * Mixed prefill + decode step vs the same work as two calls (baseline: decode step of B, then prefill of the
 * new prompt), B = 7 sequences, prompts of P tokens, same engine. Without eviction the sequences sit at 4k
 * in a 4k cache; with `evict` (--mixed) the walker policy at the 20% shape of 4k contexts (evictEngineOptions)
 * with the sequences 8 slots short of the capacity, so the measured steps write graph nodes and score the
 * prompt but do not compact (the walker refreshes every 32nd step; medians leave those steps out).
 */
async function mixedStepBench(preset: PresetName, rows: Row[], evict = false): Promise<void> {
  const s = PRESETS[preset];
  const B = 7;
  let e: Engine | undefined;
  try {
    const base = evict ? evictEngineOptions(preset, "walker", 4096, B + 1) : { model: { preset }, maxBatch: B + 1, capacity: 4096 + 64, progress: false };
    e = await createEngine({ ...base, maxPrefillTokens: 2048 + B, maxLogitRows: B + 1 });
    const capacity = e.options.capacity;
    const context = evict ? capacity - 8 : 4096;
    e.native.fillCacheRandom(1);
    const ones = new Float32Array(B + 1).fill(1);
    for (const P of [16, 128, 512, 2048].filter((p) => p <= capacity)) {
      const prompt = Int32Array.from({ length: P }, (_, i) => (i * 7919) % s.vocab);
      const reset = () => {
        for (let b = 0; b < B; b++) e?.native.setLength(b, context);
        e?.native.reset(B);
      };
      const separate = await p50(async () => {
        reset();
        await e?.native.decode(new Int32Array(B), new Float32Array(B), ones.subarray(0, B), 0, false);
        await e?.native.prefill(Int32Array.of(B), prompt, Int32Array.of(0, P), false);
      }, quick ? 5 : 15);
      const mixed = await p50(async () => {
        reset();
        await e?.native.mixed(new Int32Array(B), prompt, new Float32Array(B + 1), ones, 0, false);
      }, quick ? 5 : 15);
      const policy = evict ? "walker" : "full";
      rows.push({ kind: "mixed-step", preset, policy, capacity, context, decodeBatch: B, promptTokens: P, separateMs: separate, mixedMs: mixed, speedup: separate / mixed });
      say(`mixed step ${preset} ${policy} B ${B} @${context} + prompt ${P}: separate ${separate.toFixed(3)} ms, mixed ${mixed.toFixed(3)} ms (x${(separate / mixed).toFixed(2)})`);
    }
  } catch (err) {
    rows.push({ kind: "mixed-step", preset, evict, error: (err as Error).message });
    say(`mixed step ${preset}${evict ? " walker" : ""}: ${(err as Error).message}`);
  } finally {
    await e?.dispose();
  }
}

async function evictionBench(
  preset: PresetName,
  allBatches: number[],
  rows: Row[],
  opts: { policies?: readonly BenchPolicy[]; gemmSplitK?: "auto" | number; streamPriorities?: boolean; groupedDecode?: boolean | "auto"; graphWrite?: "fused" | "deferred" | "auto" | "lazy"; graphHeads?: "kv" | "query"; walker?: { refresh?: number; walkers?: number }; context?: number; shape?: EvictionShapeKind } = {},
): Promise<void> {
  const ctx = opts.context ?? 4096;
  const shape = opts.shape ?? defaultShapeKind();
  const steps = quick ? 64 : 128;
  const results: Record<string, number> = {};
  const tag = `${opts.gemmSplitK === undefined ? "" : ` gemmSplitK ${opts.gemmSplitK}`}${opts.streamPriorities === undefined ? "" : ` streamPriorities ${opts.streamPriorities}`}${opts.groupedDecode === undefined ? "" : ` groupedDecode ${opts.groupedDecode}`}${opts.graphWrite === undefined ? "" : ` graphWrite ${opts.graphWrite}`}${opts.graphHeads === undefined ? "" : ` graphHeads ${opts.graphHeads}`}${opts.walker ? ` walker ${JSON.stringify(opts.walker)}` : ""}${opts.shape ? ` shape ${opts.shape}` : ""}`;
  for (const policy of opts.policies ?? (["full", "streaming", "h2o", "tova", "walker"] as const)) {
    const { budget, capacity } = evictionShape(policy, ctx, shape);
    // Batches whose cache fits next to the weights (<= 100 GiB of K/V; Llama-2-7B's full cache at
    // 16k x 32 would need 257 GiB): the others get a row saying so.
    const kvGiB = (b: number) => (b * capacity * kvBytesPerToken(PRESETS[preset])) / 2 ** 30;
    for (const B of allBatches.filter((b) => kvGiB(b) > 100)) {
      rows.push({ kind: "evict", preset, context: ctx, batch: B, policy, capacity, error: `does not fit: ${kvGiB(B).toFixed(0)} GiB of K/V` });
      say(`evict ${preset}${tag} ctx ${ctx} B ${B} ${policy}: does not fit`);
    }
    const batches = allBatches.filter((b) => kvGiB(b) <= 100);
    if (batches.length === 0) continue;
    const maxB = Math.max(...batches);
    let e: Engine | undefined;
    try {
      e = await createEngine({
        ...evictEngineOptions(preset, policy, ctx, maxB, opts.walker, shape),
        gemmSplitK: opts.gemmSplitK,
        streamPriorities: opts.streamPriorities,
        groupedDecode: opts.groupedDecode,
        graphWrite: opts.graphWrite,
        graphHeads: opts.graphHeads,
      });
      e.native.fillCacheRandom(1);
      for (const B of batches) {
        const eng = e;
        let before: ReturnType<Engine["native"]["evictStats"]> | undefined;
        const ms = await timeDecodeSteps(eng, policy, ctx, B, steps, () => {
          eng.native.evictStats();
          before = policy === "full" ? undefined : eng.native.evictStats();
        }, shape);
        const st = policy === "full" ? undefined : e.native.evictStats();
        results[`${policy}/${B}`] = ms;
        const full = results[`full/${B}`];
        const row: Row = {
          kind: "evict",
          preset,
          context: ctx,
          batch: B,
          policy,
          budget: policy === "full" ? ctx : budget,
          capacity,
          shape: policy === "full" ? "full" : shape,
          meanStepMs: ms,
          tokensPerSecond: (B * 1000) / ms,
          speedupVsFull: policy === "full" ? 1 : full ? full / ms : null,
          compactionsPerStep: st && before ? (st.compactions - before.compactions) / steps : 0,
          compactionMsPerStep: st && before ? (st.compactionMs - before.compactionMs) / steps : 0,
          walkerLaunches: st && before ? st.walkerLaunches - before.walkerLaunches : 0,
          walkerMsPerStep: st && before ? (st.walkerMs - before.walkerMs) / steps : 0,
          gemmSplitK: e.stats().gemmSplitK,
          streamPriorities: opts.streamPriorities ?? false,
          groupedDecode: opts.groupedDecode ?? "auto",
          graphWrite: opts.graphWrite ?? "auto",
          graphHeads: opts.graphHeads ?? "kv",
          ...(policy === "walker" && opts.walker ? { walker: opts.walker } : {}),
        };
        rows.push(row);
        say(
          `evict ${preset}${tag} ctx ${ctx} B ${B} ${policy}: ${ms.toFixed(3)} ms/step, ${(row.tokensPerSecond as number).toFixed(0)} tok/s, ${row.speedupVsFull === null ? "full cache does not fit" : `x${(row.speedupVsFull as number).toFixed(2)} vs full`}; compaction ${(row.compactionMsPerStep as number).toFixed(3)} ms/step, walker ${(row.walkerMsPerStep as number).toFixed(3)} ms/step (on its own stream)`,
        );
      }
    } catch (err) {
      rows.push({ kind: "evict", preset, policy, error: (err as Error).message });
      say(`evict ${preset} ${policy}: ${(err as Error).message}`);
    } finally {
      await e?.dispose();
    }
  }
}

/**
 * Timeline of live eviction (issue 7): Llama-2-7B shapes, batch 32, 4096-token contexts in 819 + 64
 * slots, walker refresh every 8 steps (more often than the default 32, so several refreshes fit in the
 * window), CUDA events around every decode step (decode stream), walker refresh (walker stream) and
 * compaction. Writes runtime-engine-timeline.{json,svg,png}.
 */
async function timelineBench(): Promise<void> {
  const budget = 819;
  const B = 32;
  const e = await createEngine({
    model: { preset: "llama2-7b" },
    maxBatch: B,
    capacity: budget + 64,
    maxPrefillTokens: 256,
    maxLogitRows: B,
    progress: false,
    timeline: true,
    eviction: { policy: "walker", budget, refresh: 8 },
  });
  try {
    e.native.fillCacheRandom(1);
    for (let b = 0; b < B; b++) e.native.setLength(b, budget + ((b * 37) % 64));
    const tokens = Int32Array.from({ length: B }, (_, b) => (b * 31 + 7) % e.shape.vocab);
    const temp = new Float32Array(B);
    const topP = new Float32Array(B).fill(1);
    for (let i = 0; i < 8; i++) await e.native.decode(tokens, temp, topP, 0, false);
    e.native.timeline();
    for (let i = 0; i < 40; i++) await e.native.decode(tokens, temp, topP, 0, false);
    const t = e.native.timeline();
    const t0 = Math.min(...t.start);
    const entries = Array.from(t.kind, (k, i) => ({ kind: ["decode step", "walker refresh", "compaction"][k], startMs: t.start[i] - t0, endMs: t.end[i] - t0 }));
    const overlapped = entries
      .filter((x) => x.kind === "walker refresh")
      .map((w) => entries.filter((s) => s.kind === "decode step" && s.startMs < w.endMs && s.endMs > w.startMs).length);
    writeJsonAtomic(join(outDir, "runtime-engine-timeline.json"), {
      ...checkMetadata(),
      gpu: engineStatus().device?.name,
      setup: { preset: "llama2-7b", batch: B, budget, capacity: budget + 64, refresh: 8 },
      decodeStepsOverlappingEachWalkerRefresh: overlapped,
      entries,
    });
    const scene = timelineScene(entries);
    writeFileSync(join(outDir, "runtime-engine-timeline.svg"), renderSvg(scene));
    writeFileSync(join(outDir, "runtime-engine-timeline.png"), renderPng(scene));
    say(`timeline: ${entries.length} entries; decode steps overlapping each walker refresh: ${overlapped.join(", ")}`);
  } finally {
    await e.dispose();
  }
}

/** Two lanes (decode stream, walker stream) of rectangles over time. */
export function timelineScene(entries: { kind: string; startMs: number; endMs: number }[]): Scene {
  const width = 960;
  const height = 230;
  const left = 130;
  const right = 20;
  const end = Math.max(...entries.map((x) => x.endMs));
  const ticks = niceTicks(0, end, 8);
  const xMax = ticks[ticks.length - 1];
  const x = (ms: number) => left + ((width - left - right) * ms) / xMax;
  const lanes: Record<string, number> = { "decode step": 50, compaction: 50, "walker refresh": 110 };
  const color: Record<string, string> = { "decode step": PALETTE[0], compaction: PALETTE[3], "walker refresh": PALETTE[2] };
  const items: SceneItem[] = [
    { kind: "text", x: width / 2, y: 18, text: "Llama-2-7B shapes, batch 32, 20% budget: walker refreshes (own stream) beside decode steps", anchor: "middle" },
    { kind: "text", x: left - 8, y: 66, text: "decode stream", anchor: "end" },
    { kind: "text", x: left - 8, y: 126, text: "walker stream", anchor: "end" },
  ];
  let n = 0;
  for (const en of entries) {
    const y = lanes[en.kind];
    const h = en.kind === "compaction" ? 10 : 30;
    const alt = en.kind === "decode step" && n++ % 2 === 1;
    items.push({ kind: "rect", x: x(en.startMs), y: en.kind === "compaction" ? y + 34 : y, w: Math.max(en.kind === "compaction" ? 3 : 1, x(en.endMs) - x(en.startMs)), h, fill: alt ? "#7fa6d9" : color[en.kind], stroke: "#ffffff" });
  }
  const axisY = 160;
  items.push({ kind: "line", x1: left, y1: axisY, x2: width - right, y2: axisY, stroke: "#333333" });
  for (const tk of ticks) {
    items.push({ kind: "line", x1: x(tk), y1: axisY, x2: x(tk), y2: axisY + 5, stroke: "#333333" });
    items.push({ kind: "text", x: x(tk), y: axisY + 18, text: String(tk), anchor: "middle" });
  }
  items.push({ kind: "text", x: (left + width - right) / 2, y: axisY + 36, text: "time (ms, CUDA events)", anchor: "middle" });
  const legend: [string, string][] = [["decode steps (alternating shades)", PALETTE[0]], ["walker refresh", PALETTE[2]], ["compaction (decode stream)", PALETTE[3]]];
  legend.forEach(([label, c], i) => {
    items.push({ kind: "rect", x: left + i * 260, y: 212, w: 12, h: 10, fill: c });
    items.push({ kind: "text", x: left + i * 260 + 18, y: 221, text: label });
  });
  return { width, height, background: "#ffffff", items };
}

/**
 * Prompt scoring (issue 7): prefill of one 4096-token prompt with eviction on (h2o, tova, walker; 20%
 * budget), scorePrompt off (the baseline, same run) vs on; p50 of whole prefill calls.
 */
async function promptScoreEngineBench(preset: PresetName, rows: Row[]): Promise<void> {
  const T = 4096;
  const prompt = Int32Array.from({ length: T }, (_, i) => (i * 7919 + 3) % PRESETS[preset].vocab);
  for (const policy of ["h2o", "tova", "walker"] as const) {
    const ms: Record<string, number> = {};
    for (const scorePrompt of [false, true]) {
      let e: Engine | undefined;
      try {
        e = await createEngine({
          model: { preset },
          maxBatch: 1,
          capacity: T + 64,
          maxPrefillTokens: T,
          maxLogitRows: 1,
          progress: false,
          eviction: { policy, budget: Math.floor(0.2 * T) },
          scorePrompt,
        });
        const eng = e;
        ms[String(scorePrompt)] = await p50(async () => {
          await eng.native.prefill(Int32Array.of(0), prompt, Int32Array.of(0, T), false);
        }, quick ? 2 : 5);
      } catch (err) {
        rows.push({ kind: "prefill-score", preset, policy, scorePrompt, error: (err as Error).message });
        say(`prefill-score ${preset} ${policy}: ${(err as Error).message}`);
      } finally {
        await e?.dispose();
      }
    }
    const off = ms.false;
    const on = ms.true;
    if (off === undefined || on === undefined) continue;
    rows.push({ kind: "prefill-score", preset, policy, tokens: T, scorePromptOffMs: off, scorePromptOnMs: on, overhead: on / off - 1 });
    say(`prefill ${preset} ${T} tokens, ${policy}: scorePrompt off ${off.toFixed(1)} ms, on ${on.toFixed(1)} ms (+${(100 * (on / off - 1)).toFixed(1)}%)`);
  }
}

/** Kernel bench (one layer, vs the prefill attention) and the engine-level prefill cost; runtime-prompt-score.json. */
async function promptScoreBenches(addon: unknown, device: Record<string, unknown>, presets: PresetName[], copyGBs: number): Promise<void> {
  const k = await prefillScoreBench(addon as never, device, { quick });
  for (const r of k.rows as { model: string; T: number; KVH: number; config: string; medianMs: number; ratioToAttention: number }[]) {
    say(`prefill_score ${r.model} T ${r.T} KVH ${r.KVH} ${r.config}: ${r.medianMs.toFixed(3)} ms (x${r.ratioToAttention.toFixed(2)} of the layer's prefill attention)`);
  }
  const rows: Row[] = [];
  for (const preset of presets) await promptScoreEngineBench(preset, rows);
  const file = join(outDir, "runtime-prompt-score.json");
  writeJsonAtomic(file, {
    ...checkMetadata(),
    gpu: (device as { name?: string }).name,
    copyBandwidthGBs: copyGBs,
    quick,
    kernels: k,
    rows,
  });
  say(`wrote ${file}`);
}

async function main(): Promise<void> {
  const status = engineStatus();
  if (status.backend !== "cuda") {
    say(`engine bench skipped: ${status.reason}`);
    return;
  }
  // A mode's rows with the run's metadata, written to <outDir>/<name>.
  const writeRows = (name: string, rows: Row[]) => {
    const file = join(outDir, name);
    writeJsonAtomic(file, { ...checkMetadata(), gpu: status.device?.name, rows });
    say(`wrote ${file}`);
  };
  const addon = requireEngineAddon();
  const gemmAddon = addon as unknown as GemmAddon;
  const copyGBs = gemmAddon.copyBandwidth(2 * GIB, 10);
  say(`device ${status.device?.name}; copy bandwidth ${copyGBs.toFixed(0)} GB/s`);
  if (!process.argv.includes("--no-gemm")) {
    const g = await gemmBench(gemmAddon, { ...status.device }, { quick });
    writeJsonAtomic(join(outDir, "runtime-gemm.json"), { ...checkMetadata(), gpu: status.device?.name, ...g });
  }
  const rows: Row[] = [];
  const presets: PresetName[] = quick ? ["llama2-7b"] : ["llama2-7b", "mistral-7b"];
  if (process.argv.includes("--timeline")) {
    await timelineBench();
    return;
  }
  if (process.argv.includes("--prompt-score-only")) {
    await promptScoreBenches(addon, { ...status.device }, presets, copyGBs);
    return;
  }
  if (process.argv.includes("--grouped")) {
    // The grouped-query decode kernel off vs on, Mistral-7B (32 query heads over 8 KV heads).
    for (const groupedDecode of [false, true]) {
      await evictionBench("mistral-7b", quick ? [32] : [1, 8, 32], rows, { policies: ["full", "streaming", "walker"], groupedDecode });
    }
    writeRows("runtime-grouped-decode.json", rows);
    return;
  }
  if (process.argv.includes("--walker-split")) {
    // Where the walker policy's step time goes beside streaming: the graph write alone (a refresh
    // interval longer than the run: the fused attention writes the graph, no walker runs), then the
    // walker (20 steps every 32 steps) at 1024 and at 256 walkers per graph. (The recorded run of
    // h200-2026-11-30-b/engine-walker-split/ labels the 1024 case {}: 1024 was the default then.)
    for (const preset of presets) {
      await evictionBench(preset, [8, 32], rows, { policies: ["streaming"] });
      for (const walker of [{ refresh: 1 << 20 }, { walkers: 1024 }, { walkers: 256 }]) await evictionBench(preset, [8, 32], rows, { policies: ["walker"], walker });
    }
    writeRows("runtime-walker-split.json", rows);
    return;
  }
  if (process.argv.includes("--refresh-sweep")) {
    // The walker's refresh interval N (walker every N decode steps; default 32) against its step cost:
    // streaming, then the walker at N = 8 / 16 / 32 / 64 / 128, batch 8 and 32, both models at 4k. The
    // lazy write's query ring holds 2 x min(N, 64) rows per head, so N > 64 also flushes between refreshes.
    for (const preset of presets) {
      await evictionBench(preset, [8, 32], rows, { policies: ["streaming"] });
      for (const refresh of [8, 16, 32, 64, 128]) await evictionBench(preset, [8, 32], rows, { policies: ["walker"], walker: { refresh } });
    }
    writeRows("runtime-refresh-sweep.json", rows);
    return;
  }
  if (process.argv.includes("--graph-write")) {
    // The graph write fused in the attention kernel vs deferred (logits stored, nodes written by the
    // selection kernel on a side stream): the walker policy beside streaming in the same run, batch 1 / 8 /
    // 32 ($KVWALK_BENCH_PRESETS, e.g. "mistral-7b", narrows the presets). Graphs per query head (the only
    // choice the fused write has on a grouped-query model).
    const only = process.env.KVWALK_BENCH_PRESETS?.split(",") as PresetName[] | undefined;
    for (const preset of only ?? presets) {
      await evictionBench(preset, [1, 8, 32], rows, { policies: ["streaming"] });
      for (const graphWrite of ["fused", "deferred", "auto"] as const) {
        await evictionBench(preset, [1, 8, 32], rows, { policies: ["walker"], graphWrite, graphHeads: "query" });
      }
    }
    writeRows("runtime-graph-write.json", rows);
    return;
  }
  if (process.argv.includes("--graph-heads")) {
    // Mistral-7B (32 query over 8 KV heads): the walker with one graph per query head (graphWrite auto)
    // vs one per KV head (the group's summed probabilities, always the deferred write), beside streaming.
    for (const ctx of quick ? [4096] : [4096, 16384]) {
      await evictionBench("mistral-7b", [1, 8, 32], rows, { policies: ["streaming"], context: ctx });
      for (const graphHeads of ["query", "kv"] as const) await evictionBench("mistral-7b", [1, 8, 32], rows, { policies: ["walker"], graphHeads, context: ctx });
    }
    writeRows("runtime-graph-heads.json", rows);
    return;
  }
  if (process.argv.includes("--graph-lazy")) {
    // The lazy graph write (decode steps store their queries and lse; prompt scoring's group kernel writes
    // the nodes in batches on the walker stream before each refresh) against the deferred / fused write,
    // one graph per KV head, beside streaming in the same run: Mistral-7B at 4k and 16k, Llama-2-7B at 4k
    // (with the full cache, for the 2.5x goal at batch 32).
    const configs: [PresetName, number][] = [
      ["mistral-7b", 4096],
      ["mistral-7b", 16384],
      ["llama2-7b", 4096],
    ];
    for (const [preset, ctx] of quick ? configs.slice(0, 1) : configs) {
      await evictionBench(preset, [1, 8, 32], rows, { policies: preset === "llama2-7b" ? ["full", "streaming"] : ["streaming"], context: ctx });
      // Mistral-7B: auto is the lazy write (a graph per KV head); deferred is the write auto took before.
      // Llama-2-7B: auto is fused / deferred. Lazy with stream priorities: the flush on a low-priority stream.
      const writes = preset === "llama2-7b" ? (["auto", "lazy"] as const) : (["deferred", "auto"] as const);
      for (const graphWrite of writes) await evictionBench(preset, [1, 8, 32], rows, { policies: ["walker"], graphWrite, context: ctx });
      await evictionBench(preset, [8, 32], rows, { policies: ["walker"], graphWrite: "lazy", streamPriorities: true, context: ctx });
    }
    writeRows("runtime-graph-lazy.json", rows);
    return;
  }
  if (process.argv.includes("--attribution")) {
    // Where the walker policy's extra step time goes (batch 32, 20% budget): wall time per step against the
    // decode stream's GPU time per phase (profile: true, CUDA events; no CUDA graphs, so each step is
    // slower than in the eviction table), for streaming, the walker with the graph write but no walker
    // run (a refresh interval longer than the run) and the walker as shipped. Mistral-7B at 4k and 16k,
    // Llama-2-7B at 4k.
    const configs: [PresetName, number][] = [
      ["mistral-7b", 4096],
      ["mistral-7b", 16384],
      ["llama2-7b", 4096],
    ];
    for (const [preset, ctx] of quick ? configs.slice(0, 1) : configs) {
      for (const [label, policy, walker] of [
        ["streaming", "streaming", undefined],
        ["graph write, no walker run", "walker", { refresh: 1 << 20 }],
        ["walker", "walker", undefined],
      ] as const) {
        const B = 32;
        const e = await createEngine({ ...evictEngineOptions(preset, policy, ctx, B, walker), profile: true });
        try {
          e.native.fillCacheRandom(1);
          const steps = 128;
          const ms = await timeDecodeSteps(e, policy, ctx, B, steps, () => e.native.takeTimes());
          const t = e.native.takeTimes();
          const row = { kind: "attribution", preset, context: ctx, batch: B, config: label, wallMsPerStep: ms, gemmMs: t.gemmMs / steps, attentionMs: t.attentionMs / steps, otherMs: t.otherMs / steps, gpuMs: (t.gemmMs + t.attentionMs + t.otherMs) / steps };
          rows.push(row);
          say(`attribution ${preset} ctx ${ctx} B ${B} ${label}: wall ${ms.toFixed(3)} ms/step; decode stream gemm ${row.gemmMs.toFixed(3)}, attention ${row.attentionMs.toFixed(3)}, other ${row.otherMs.toFixed(3)} (sum ${row.gpuMs.toFixed(3)}) ms/step`);
        } finally {
          await e.dispose();
        }
      }
    }
    writeRows("runtime-attribution.json", rows);
    return;
  }
  if (process.argv.includes("--pagerank-top4")) {
    // The exact-PageRank policy (pagerank-top4: walker-cuda's power iteration over a sequence's graphs at
    // each compaction that finds its ranking 32 or more tokens old) beside streaming and the walker,
    // Llama-2-7B 4k, batch 1 / 8 / 32: what the exact reference costs on the engine.
    await evictionBench("llama2-7b", [1, 8, 32], rows, { policies: ["full", "streaming", "walker", "pagerank-top4"] });
    writeRows("runtime-pagerank-top4.json", rows);
    return;
  }
  if (process.argv.includes("--shape-ab")) {
    // The two readings of a 20% budget in one run (evictionShape): the cache capped at 20% of the context
    // (compacted 64 slots below it) and sessions 4-12's shape (compacted to 20%, 64 slots of slack above),
    // every policy and the full cache (for each shape), Llama-2-7B and Mistral-7B at 4k, batch 1 / 8 / 32.
    const only = process.env.KVWALK_BENCH_PRESETS?.split(",") as PresetName[] | undefined;
    for (const preset of only ?? presets) {
      await evictionBench(preset, [1, 8, 32], rows, { shape: "cap" });
      await evictionBench(preset, [1, 8, 32], rows, { shape: "slack" });
    }
    writeRows("runtime-shape-ab.json", rows);
    return;
  }
  if (process.argv.includes("--priority")) {
    // Stream priorities off vs on (decode high, walker low), Llama-2-7B 20% budget, batch 8 and 32.
    for (const streamPriorities of [false, true]) {
      await evictionBench("llama2-7b", [8, 32], rows, { policies: ["streaming", "walker"], streamPriorities });
    }
    writeRows("runtime-stream-priority.json", rows);
    return;
  }
  if (process.argv.includes("--split-k")) {
    // Split-K of the O / down projections: GEMM + epilogue per slice count, then decode steps with it off
    // and on (auto) in the same run.
    const copy = gemmAddon.copyBandwidth(1 << 30, 7);
    const gemmRows: Record<string, unknown>[] = [];
    // qkv and gate+up too: their GEMMs spread over 96 and 116 CTAs at batch 32 (session 11 run 7)
    for (const [name, N, K] of [["qkv", 12288, 4096], ["o-proj", 4096, 4096], ["gate+up", 22016, 4096], ["down", 4096, 11008]] as const) {
      for (const M of [8, 32]) {
        // the same bound as runtime-gemm.json (W + A + C bytes at the copy rate; split-K's partials not counted)
        const boundUs = decodeGemmBytes(M, N, K) / copy / 1e3;
        for (const splitK of [1, 2, 4, 8]) {
          const r = gemmAddon.gemmBench(M, N, K, "cublas", quick ? 5 : 15, { accumulate: true, splitK });
          const row = { shape: name, M, N, K, splitK, medianUs: r.medianUs, boundUs, fraction: boundUs / r.medianUs, backend: r.backend, path: r.path };
          gemmRows.push(row);
          say(`split-K gemm ${name} M ${M} S ${splitK}: ${r.medianUs.toFixed(1)} us (${(100 * row.fraction).toFixed(0)}% of the copy bound ${boundUs.toFixed(1)} us; ${r.path})`);
        }
      }
    }
    // --gemm-only: the GEMM rows alone; --split-k-sweep: every slice count at batch 32 (streaming and
    // walker) instead of off vs auto
    const gemmOnly = process.argv.includes("--gemm-only");
    const sweep = process.argv.includes("--split-k-sweep");
    const settings: readonly (number | "auto")[] = gemmOnly ? [] : sweep ? [0, 2, 4, 8] : [0, "auto"];
    for (const gemmSplitK of settings) {
      await evictionBench("llama2-7b", sweep ? [32] : [8, 32], rows, { policies: sweep ? ["streaming", "walker"] : ["full", "streaming", "walker"], gemmSplitK });
    }
    const file = join(outDir, gemmOnly ? "runtime-split-k-gemm.json" : sweep ? "runtime-split-k-sweep.json" : "runtime-split-k.json");
    writeJsonAtomic(file, { ...checkMetadata(), gpu: status.device?.name, copyBandwidthGBs: copy, gemm: gemmRows, ...(gemmOnly ? {} : { rows }) });
    say(`wrote ${file}`);
    return;
  }
  if (process.argv.includes("--mixed")) {
    // mixed prefill + decode steps without eviction and with the walker at the 20% shape (runtime-engine-mixed.json)
    for (const preset of presets) for (const evict of [false, true]) await mixedStepBench(preset, rows, evict);
    const file = join(outDir, "runtime-engine-mixed.json");
    writeJsonAtomic(file, { ...checkMetadata(), gpu: status.device?.name, device: status.device, quick, rows });
    say(`wrote ${file}`);
    return;
  }
  if (process.argv.includes("--evict-only")) {
    // --steps-only: the decode-step rows only (no prompt-scoring or eviction-kernel benches)
    if (!process.argv.includes("--steps-only")) {
      await promptScoreBenches(addon, { ...status.device }, presets, copyGBs);
      const k = await evictBench(addon as never, { ...status.device });
      writeJsonAtomic(join(outDir, "runtime-evict-kernels.json"), { ...checkMetadata(), gpu: status.device?.name, ...k });
    }
    // $KVWALK_EVICT_CONTEXTS (e.g. "4096") narrows the contexts
    const contexts = process.env.KVWALK_EVICT_CONTEXTS ? process.env.KVWALK_EVICT_CONTEXTS.split(",").map(Number) : quick ? [4096] : [4096, 16384];
    for (const context of contexts) {
      for (const preset of presets) await evictionBench(preset, quick ? [32] : [1, 8, 32], rows, { context });
    }
    const file = join(outDir, "runtime-engine-evict.json");
    writeJsonAtomic(file, { ...checkMetadata(), gpu: status.device?.name, device: status.device, copyBandwidthGBs: copyGBs, quick, rows });
    say(`wrote ${file}`);
    return;
  }
  const contexts = quick ? [4096] : [4096, 16384];
  const batches = [1, 8, 32];
  for (const preset of presets) {
    const s = PRESETS[preset];
    for (const ctx of contexts) {
      const kvPerSeq = kvBytesPerToken(s) * (ctx + 64);
      const free = addon.memInfo().free;
      const fit = batches.filter((B) => weightBytesPerStep(s) + 8 * GIB + B * kvPerSeq * 1.0 < free);
      for (const B of batches.filter((x) => !fit.includes(x))) {
        rows.push({ kind: "decode", preset, context: ctx, batch: B, skipped: `KV cache ${(B * kvPerSeq / GIB).toFixed(1)} GiB does not fit beside the weights (${(free / GIB).toFixed(0)} GiB free)` });
      }
      if (fit.length === 0) continue;
      const maxB = Math.max(...fit);
      for (const graph of [false, true]) {
        if (graph && ctx !== contexts[0]) continue; // the graph-write overhead is measured at 4k
        let e: Engine | undefined;
        try {
          e = await createEngine({ model: { preset }, maxBatch: maxB, capacity: ctx + 64, maxPrefillTokens: 256, maxLogitRows: maxB, graph, progress: false });
          e.native.fillCacheRandom(1);
          for (const B of fit) {
            const ms = await decodeStep(e, B, ctx);
            const bytes = weightBytesPerStep(s) + B * ctx * kvBytesPerToken(s);
            const boundMs = (bytes / (copyGBs * 1e9)) * 1e3;
            const row: Row = {
              kind: "decode",
              preset,
              context: ctx,
              batch: B,
              graph,
              stepMs: ms,
              tokensPerSecond: (B * 1000) / ms,
              bytesPerStep: bytes,
              boundMs,
              fractionOfBound: boundMs / ms,
              gemm: e.stats().gemm,
            };
            rows.push(row);
            say(
              `decode ${preset} ctx ${ctx} B ${B}${graph ? " +graph" : ""}: ${ms.toFixed(3)} ms/step, ${(row.tokensPerSecond as number).toFixed(0)} tok/s, ${(100 * (row.fractionOfBound as number)).toFixed(0)}% of the ${boundMs.toFixed(3)} ms bound`,
            );
          }
        } catch (err) {
          rows.push({ kind: "decode", preset, context: ctx, graph, error: (err as Error).message });
          say(`decode ${preset} ctx ${ctx}: ${(err as Error).message}`);
        } finally {
          await e?.dispose();
        }
      }
    }
    // Fused GEMV decode (default at B = 1) vs GEMMs + element-wise kernels (baseline), same run, 4k
    for (const gemvRows of [0, 4]) {
      let e: Engine | undefined;
      try {
        e = await createEngine({ model: { preset }, maxBatch: 4, capacity: 4096 + 64, maxPrefillTokens: 256, maxLogitRows: 4, gemvRows, progress: false });
        e.native.fillCacheRandom(1);
        for (const B of [1, 2, 4]) {
          const ms = await decodeStep(e, B, 4096);
          const bytes = weightBytesPerStep(s) + B * 4096 * kvBytesPerToken(s);
          const boundMs = (bytes / (copyGBs * 1e9)) * 1e3;
          rows.push({ kind: "decode-gemv", preset, context: 4096, batch: B, gemvRows: e.stats().gemvRows, stepMs: ms, tokensPerSecond: (B * 1000) / ms, boundMs, fractionOfBound: boundMs / ms, gemm: e.stats().gemm });
          say(`decode ${preset} ctx 4096 B ${B} gemvRows ${e.stats().gemvRows}: ${ms.toFixed(3)} ms/step, ${(100 * boundMs / ms).toFixed(0)}% of bound`);
        }
      } catch (err) {
        rows.push({ kind: "decode-gemv", preset, context: 4096, gemvRows, error: (err as Error).message });
        say(`decode ${preset} gemvRows ${gemvRows}: ${(err as Error).message}`);
      } finally {
        await e?.dispose();
      }
    }
    await mixedStepBench(preset, rows);
    // CUDA-graph replay vs plain stream launches (baseline), batch 1, 4k
    {
      const e = await createEngine({ model: { preset }, maxBatch: 1, capacity: 4096 + 64, maxPrefillTokens: 256, maxLogitRows: 1, cudaGraphs: false, progress: false });
      try {
        e.native.fillCacheRandom(1);
        const ms = await decodeStep(e, 1, 4096);
        rows.push({ kind: "decode", preset, context: 4096, batch: 1, graph: false, cudaGraphs: false, stepMs: ms, tokensPerSecond: 1000 / ms });
        say(`decode ${preset} ctx 4096 B 1 without CUDA graphs: ${ms.toFixed(3)} ms/step`);
      } finally {
        await e.dispose();
      }
    }
    // per-phase breakdown at 4k (profiling adds event records; the totals above are unprofiled)
    {
      const e = await createEngine({ model: { preset }, maxBatch: 32, capacity: 4096 + 64, maxPrefillTokens: 256, maxLogitRows: 32, profile: true, progress: false });
      try {
        e.native.fillCacheRandom(1);
        for (const B of [1, 32]) {
          e.native.takeTimes();
          const steps = 10;
          for (let i = 0; i < steps; i++) {
            for (let b = 0; b < B; b++) e.native.setLength(b, 4096);
            await e.native.decode(new Int32Array(B), new Float32Array(B), new Float32Array(B).fill(1), 0, false);
          }
          const t = e.native.takeTimes();
          const row = { kind: "breakdown", preset, context: 4096, batch: B, gemmMs: t.gemmMs / steps, attentionMs: t.attentionMs / steps, otherMs: t.otherMs / steps };
          rows.push(row);
          say(`breakdown ${preset} B ${B}: gemm ${row.gemmMs.toFixed(3)} ms, attention ${row.attentionMs.toFixed(3)} ms, other ${row.otherMs.toFixed(3)} ms per step`);
        }
      } finally {
        await e.dispose();
      }
    }
    // prefill
    for (const T of quick ? [4096] : [4096, 16384]) {
      let e: Engine | undefined;
      try {
        e = await createEngine({ model: { preset }, maxBatch: 1, capacity: T + 64, maxPrefillTokens: T, maxLogitRows: 1, progress: false });
        const prompt = Int32Array.from({ length: T }, (_, i) => (i * 7919 + 3) % s.vocab);
        const eng = e;
        const ms = await p50(async () => {
          await eng.native.prefill(Int32Array.of(0), prompt, Int32Array.of(0, T), false);
        }, quick ? 2 : 3);
        const flops = 2 * weightBytesPerStep(s) / 2 * T + 2 * 2 * s.layers * s.heads * s.headDim * (T * T) / 2;
        const boundMs = (flops / (PEAK_BF16_TFLOPS * 1e12)) * 1e3;
        const row = { kind: "prefill", preset, tokens: T, ms, tokensPerSecond: (T * 1000) / ms, tflops: flops / (ms / 1e3) / 1e12, boundMs, fractionOfPeak: boundMs / ms, gemm: e.stats().gemm };
        rows.push(row);
        say(`prefill ${preset} ${T} tokens: ${ms.toFixed(1)} ms, ${row.tokensPerSecond.toFixed(0)} tok/s, ${row.tflops.toFixed(0)} TFLOP/s (${(100 * row.fractionOfPeak).toFixed(0)}% of peak)`);
      } catch (err) {
        rows.push({ kind: "prefill", preset, tokens: T, error: (err as Error).message });
      } finally {
        await e?.dispose();
      }
    }
  }
  const file = join(outDir, "runtime-engine.json");
  writeJsonAtomic(file, {
    ...checkMetadata(),
    gpu: status.device?.name,
    device: status.device,
    copyBandwidthGBs: copyGBs,
    peakBf16Tflops: PEAK_BF16_TFLOPS,
    quick,
    rows,
  });
  say(`wrote ${file}`);
}

void main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
