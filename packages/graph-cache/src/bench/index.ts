/**
 * Benchmarks of @kvwalk/graph-cache (tinybench; `pnpm --filter @kvwalk/graph-cache bench`).
 *
 * With CUDA: every task times back-to-back launches with CUDA events (a batch's GPU time is fed to
 * tinybench as the sample; figures are per launch), on device-resident synthetic data (K/V copies rotated so the working set
 * exceeds the 50 MB L2 several times). Reports medians:
 * - fused decode attention with vs without the graph write (same kernel, WRITE_GRAPH on/off), batch of
 *   Llama-2-7B heads (32 x 128), contexts 4k/16k/32k at batch 1 and 4k/16k at batch 8/32: overhead
 *   ratio, achieved bandwidth (K+V bytes / time) against a device-to-device memcpy measured in the
 *   same run (read + write bytes / time) and against the nominal HBM bandwidth;
 * - the graph layout probe: AoS vs SoA for a walker-style random gather, compaction and the top-4
 *   writer at 7B shapes (32 layers x 32 heads = 1024 graphs of 4096 nodes).
 * Without CUDA it says so and benches the TypeScript twins instead.
 * Results: $KVWALK_BENCH_OUT/graph-cache-bench.json (default bench/results/ of the repository).
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { checkMetadata, writeJsonAtomic } from "@kvwalk/core";
import { seededRandom } from "@kvwalk/core/testing";
import { Bench } from "tinybench";
import type { BenchKind, GraphCacheAddon } from "../addon-types.js";
import { compactGraphBatch } from "../compact.js";
import { decodeAttentionReference } from "../decode-attention.js";
import { randomDecodeInput } from "../gpu/cases.js";
import { createGraphBatch } from "../graph.js";
import { backendStatus, cudaAddon } from "../loader.js";
import { writeTopKRows } from "../topk.js";

const outDir = process.env.KVWALK_BENCH_OUT ?? fileURLToPath(new URL("../../../../bench/results/", import.meta.url));
const say = (s: string) => process.stdout.write(`${s}\n`);

/** Nominal HBM bandwidth (bytes/s) of known GPUs. */
function nominalBandwidth(name: string): number | undefined {
  if (/H200/.test(name)) return 4.8e12;
  if (/H100.*(SXM|HBM3)/.test(name)) return 3.35e12;
  if (/A100.*80/.test(name)) return 2.0e12;
  return undefined;
}

const DEFERRED_LABEL: Record<number, string> = { 2: "deferred-side", 3: "deferred-serial", 4: "deferred-store-only", 5: "deferred-select-only" };

interface Case {
  label: string;
  kind: BenchKind;
  opts: Record<string, number>;
}

async function benchCuda(addon: GraphCacheAddon): Promise<void> {
  const device = backendStatus().device!;
  const nominal = nominalBandwidth(device.name);
  // $KVWALK_BENCH_ONLY=decode: the decode rows of batch 1 x 4k and the GQA rows of batch 1 x 4k and
  // batch 32 x 896 only (no split sweep, layout probe, compaction or writer): a short run for kernel
  // iterations.
  // $KVWALK_BENCH_ONLY=gqa: the same minus the MHA rows (the grouped-query rows and their memcpy reference).
  // $KVWALK_BENCH_ONLY=decode-shapes: the same as decode, with the MHA rows of every batch and context below.
  const gqaOnly = process.env.KVWALK_BENCH_ONLY === "gqa";
  const shapesOnly = process.env.KVWALK_BENCH_ONLY === "decode-shapes";
  const decodeOnly = gqaOnly || shapesOnly || process.env.KVWALK_BENCH_ONLY === "decode";
  const allDecodeShapes: [number, number][] = [
    [1, 4096],
    [1, 16384],
    [1, 32768],
    [8, 4096],
    [8, 16384],
    [32, 4096],
    [32, 16384],
  ];
  const decodeShapes = gqaOnly ? [] : decodeOnly && !shapesOnly ? allDecodeShapes.slice(0, 1) : allDecodeShapes;
  const cases: Case[] = [{ label: "memcpy D2D 1 GiB", kind: "memcpy", opts: { mebibytes: 1024 } }];
  for (const [batch, length] of decodeShapes) {
    // The same traffic as a device-to-device copy (K+V bytes = read + write of half of them): the
    // practical limit for a transfer of this size, launch and ramp included.
    const kvBytes = batch * 32 * length * 128 * 2 * 2;
    cases.push({ label: `memcpy same traffic b=${batch} ctx=${length}`, kind: "memcpy", opts: { mebibytes: kvBytes / 2 / 2 ** 20 } });
    for (const writeGraph of [0, 1]) {
      for (const pdl of [0, 1]) {
        cases.push({
          label: `decode b=${batch} ctx=${length} ${writeGraph ? "graph" : "baseline"}${pdl ? " pdl" : ""}`,
          kind: "decode",
          opts: { batch, numHeads: 32, numKvHeads: 32, headDim: 128, length, writeGraph, layout: 0, numSplits: 0, pdl },
        });
      }
    }
    // The deferred graph write (PDL): selection on a side stream (2) or after each launch on the same stream (3).
    for (const writeGraph of [2, 3]) {
      cases.push({
        label: `decode b=${batch} ctx=${length} ${DEFERRED_LABEL[writeGraph]} pdl`,
        kind: "decode",
        opts: { batch, numHeads: 32, numKvHeads: 32, headDim: 128, length, writeGraph, layout: 0, numSplits: 0, pdl: 1 },
      });
    }
  }
  // Grouped-query attention (Mistral-7B: 32 query heads over 8 KV heads), PDL launches as in the engine.
  const gqaShapes: [number, number][] = [
    [1, 4096],
    [8, 4096],
    [32, 896], // the engine's 20 % budget cache (819 + 64 slots)
    [32, 4096],
  ];
  const gqaRun = decodeOnly ? gqaShapes.filter(([b, l]) => (b === 1 && l === 4096) || b * l === 32 * 896) : gqaShapes;
  for (const [batch, length] of gqaRun) {
    for (const writeGraph of [0, 1, 2, 3, 4, 5]) {
      for (const grouped of [0, 1]) {
        cases.push({
          label: `decode gqa b=${batch} ctx=${length} ${writeGraph >= 2 ? DEFERRED_LABEL[writeGraph] : writeGraph ? "graph" : "baseline"} pdl${grouped ? " grouped" : ""}`,
          kind: "decode",
          opts: { batch, numHeads: 32, numKvHeads: 8, headDim: 128, length, writeGraph, layout: 0, numSplits: 0, pdl: 1, grouped },
        });
      }
    }
    // One graph per KV head (the group's summed probabilities): side-stream write and the selection alone.
    for (const writeGraph of [2, 5]) {
      for (const grouped of [0, 1]) {
        cases.push({
          label: `decode gqa b=${batch} ctx=${length} ${DEFERRED_LABEL[writeGraph]} per-kv-head pdl${grouped ? " grouped" : ""}`,
          kind: "decode",
          opts: { batch, numHeads: 32, numKvHeads: 8, headDim: 128, length, writeGraph, layout: 0, numSplits: 0, pdl: 1, grouped, graphPerKvHead: 1 },
        });
      }
    }
  }
  for (const [batch, length] of decodeOnly ? [] : [
    [1, 4096],
    [8, 16384],
  ]) {
    cases.push({
      label: `decode b=${batch} ctx=${length} graph-soa`,
      kind: "decode",
      opts: { batch, numHeads: 32, numKvHeads: 32, headDim: 128, length, writeGraph: 1, layout: 1, numSplits: 0 },
    });
  }
  // Split-K sweep (baseline kernel) to check the automatic split choice.
  const sweep: [number, number, number][] = [];
  for (const [batch, length, splitList] of (decodeOnly ? [] : [
    [1, 4096, [8, 16, 32]],
    [1, 32768, [16, 28, 56]],
    [32, 4096, [1, 2, 4, 8]],
  ]) as [number, number, number[]][]) {
    for (const numSplits of splitList) {
      sweep.push([batch, length, numSplits]);
      cases.push({
        label: `decode b=${batch} ctx=${length} baseline splits=${numSplits}`,
        kind: "decode",
        opts: { batch, numHeads: 32, numKvHeads: 32, headDim: 128, length, writeGraph: 0, layout: 0, numSplits },
      });
    }
  }
  for (const layout of decodeOnly ? [] : [0, 1]) {
    const l = layout ? "soa" : "aos";
    cases.push({ label: `gather ${l} 1024x4096 1024w x 20 steps`, kind: "gather", opts: { numGraphs: 1024, capacity: 4096, layout, walkers: 1024, steps: 20 } });
    cases.push({ label: `compact ${l} 1024x4096`, kind: "compact", opts: { numGraphs: 1024, capacity: 4096, layout } });
    cases.push({ label: `topk ${l} 1024 rows x 4096`, kind: "topk", opts: { numGraphs: 1024, capacity: 4096, layout, rows: 1024, n: 4096 } });
  }

  const bench = new Bench({ name: "graph-cache (CUDA events)", time: 150, warmupTime: 20, iterations: 15 });
  const info = new Map<string, { bytes: number; numSplits: number; operation: string; launches: number }>();
  for (const c of cases) {
    let id = -1;
    let launches = 1;
    // A sample is one batch of `launches` back-to-back launches; tinybench gets the batch's GPU time, so its
    // `time` budget counts GPU time (until session 16 it got the per-launch time, and every case of a short kernel
    // sampled for ~10 s of wall clock: 150 ms / 20 us = 7,500 batches). Per-launch figures: perLaunch below.
    bench.add(c.label, () => ({ overriddenDuration: addon.benchRun(id, launches) * launches }), {
      beforeAll: () => {
        const s = addon.benchCreate(c.kind, c.opts);
        id = s.id;
        const t = addon.benchRun(id, 3);
        launches = Math.max(3, Math.min(500, Math.ceil(1 / Math.max(t, 1e-4))));
        info.set(c.label, { bytes: s.bytes, numSplits: s.numSplits, operation: s.operation, launches });
      },
      afterAll: () => addon.benchDestroy(id),
    });
  }
  // A task's sample statistic (ms per batch) as ms per launch.
  const perLaunch = (name: string, batchMs: number | undefined) => (batchMs === undefined ? undefined : batchMs / (info.get(name)?.launches ?? 1));
  // Progress: one line per finished case (a full run takes minutes; tinybench keeps sampling until the
  // reported GPU time reaches `time`, so cases of short kernels take many wall-clock seconds).
  let done = 0;
  bench.addEventListener("cycle", (evt) => {
    done++;
    const t = (evt as unknown as { task?: { name: string; result?: { latency?: { p50: number } } } }).task;
    const p50 = t ? perLaunch(t.name, t.result?.latency?.p50) : undefined;
    say(`[${done}/${cases.length}] ${t?.name ?? "?"}${p50 === undefined ? "" : `: ${(p50 * 1e3).toFixed(1)} us`}`);
  });
  await bench.run();
  const median = (label: string) => {
    const t = bench.tasks.find((x) => x.name === label)!;
    const r = t.result as { state: string; latency?: { p50: number; rme: number }; error?: Error };
    if (!r.latency) throw new Error(`${label}: ${r.state} ${r.error?.message ?? ""}`);
    return { ms: perLaunch(label, r.latency.p50)!, rme: r.latency.rme };  // rme is relative: the same per batch or launch
  };
  const memcpy = median("memcpy D2D 1 GiB");
  const memcpyBw = info.get("memcpy D2D 1 GiB")!.bytes / (memcpy.ms / 1e3);
  say(`${device.name}: device-to-device memcpy ${(memcpyBw / 1e12).toFixed(2)} TB/s (read + write)${nominal ? `, nominal ${(nominal / 1e12).toFixed(1)} TB/s` : ""}`);
  const decode = decodeShapes.map(([batch, length]) => {
    const base = median(`decode b=${batch} ctx=${length} baseline`);
    const graph = median(`decode b=${batch} ctx=${length} graph`);
    const basePdl = median(`decode b=${batch} ctx=${length} baseline pdl`);
    const graphPdl = median(`decode b=${batch} ctx=${length} graph pdl`);
    const sidePdl = median(`decode b=${batch} ctx=${length} deferred-side pdl`);
    const serialPdl = median(`decode b=${batch} ctx=${length} deferred-serial pdl`);
    const sideInfo = info.get(`decode b=${batch} ctx=${length} deferred-side pdl`)!;
    const i = info.get(`decode b=${batch} ctx=${length} graph`)!;
    const same = median(`memcpy same traffic b=${batch} ctx=${length}`);
    const sameBw = info.get(`memcpy same traffic b=${batch} ctx=${length}`)!.bytes / (same.ms / 1e3);
    const bwBase = i.bytes / (base.ms / 1e3);
    const bwGraph = i.bytes / (graph.ms / 1e3);
    const row = {
      batch,
      context: length,
      numHeads: 32,
      headDim: 128,
      numSplits: i.numSplits,
      launchesPerSample: i.launches,
      bytesPerLaunch: i.bytes,
      msBaseline: base.ms,
      msGraph: graph.ms,
      rmeBaselinePct: base.rme,
      rmeGraphPct: graph.rme,
      graphOverhead: graph.ms / base.ms - 1,
      bandwidthBaselineTBps: bwBase / 1e12,
      bandwidthGraphTBps: bwGraph / 1e12,
      fractionOfMemcpyBaseline: bwBase / memcpyBw,
      fractionOfMemcpyGraph: bwGraph / memcpyBw,
      fractionOfNominalGraph: nominal ? bwGraph / nominal : null,
      memcpySameTrafficMs: same.ms,
      memcpySameTrafficTBps: sameBw / 1e12,
      fractionOfSameSizeMemcpyGraph: bwGraph / sameBw,
      // Programmatic dependent launch (each launch requests its first K/V tile while the previous one
      // finishes, as in the engine's chain of kernels)
      msBaselinePdl: basePdl.ms,
      msGraphPdl: graphPdl.ms,
      graphOverheadPdl: graphPdl.ms / basePdl.ms - 1,
      fractionOfMemcpyBaselinePdl: i.bytes / (basePdl.ms / 1e3) / memcpyBw,
      fractionOfMemcpyGraphPdl: i.bytes / (graphPdl.ms / 1e3) / memcpyBw,
      // Deferred graph write: the baseline kernel stores its logits; graph_select_kernel writes the nodes
      // on a side stream (forked after each launch, joined before the end event) or on the same stream.
      deferredNumSplits: sideInfo.numSplits,
      msDeferredSidePdl: sidePdl.ms,
      msDeferredSerialPdl: serialPdl.ms,
      graphOverheadDeferredSidePdl: sidePdl.ms / basePdl.ms - 1,
      graphOverheadDeferredSerialPdl: serialPdl.ms / basePdl.ms - 1,
      fractionOfMemcpyDeferredSidePdl: i.bytes / (sidePdl.ms / 1e3) / memcpyBw,
    };
    say(
      `decode b=${batch} ctx=${length}: baseline ${(base.ms * 1e3).toFixed(1)} us, with graph ${(graph.ms * 1e3).toFixed(1)} us ` +
        `(overhead ${(row.graphOverhead * 100).toFixed(2)} %), ${row.bandwidthGraphTBps.toFixed(2)} TB/s = ${(row.fractionOfMemcpyGraph * 100).toFixed(1)} % of memcpy` +
        `${nominal ? `, ${((row.fractionOfNominalGraph ?? 0) * 100).toFixed(1)} % of nominal` : ""}, ${(row.fractionOfSameSizeMemcpyGraph * 100).toFixed(1)} % of a same-traffic memcpy (${(sameBw / 1e12).toFixed(2)} TB/s) (splits ${i.numSplits})` +
        `; PDL: baseline ${(basePdl.ms * 1e3).toFixed(1)} us, graph ${(graphPdl.ms * 1e3).toFixed(1)} us (overhead ${(row.graphOverheadPdl * 100).toFixed(2)} %, ${(row.fractionOfMemcpyGraphPdl * 100).toFixed(1)} % of memcpy)` +
        `; deferred: side stream ${(sidePdl.ms * 1e3).toFixed(1)} us (${(row.graphOverheadDeferredSidePdl * 100).toFixed(2)} %, ${(row.fractionOfMemcpyDeferredSidePdl * 100).toFixed(1)} % of memcpy), same stream ${(serialPdl.ms * 1e3).toFixed(1)} us (${(row.graphOverheadDeferredSerialPdl * 100).toFixed(2)} %)`,
    );
    return row;
  });
  const gqa = gqaRun.map(([batch, length]) => {
    const base = median(`decode gqa b=${batch} ctx=${length} baseline pdl`);
    const graph = median(`decode gqa b=${batch} ctx=${length} graph pdl`);
    const i = info.get(`decode gqa b=${batch} ctx=${length} graph pdl`)!;
    // The grouped kernel (one block per KV head), same shapes
    const gBase = median(`decode gqa b=${batch} ctx=${length} baseline pdl grouped`);
    const gGraph = median(`decode gqa b=${batch} ctx=${length} graph pdl grouped`);
    const gi = info.get(`decode gqa b=${batch} ctx=${length} graph pdl grouped`)!;
    const deferred = (grouped: boolean) => {
      const g = grouped ? " grouped" : "";
      const b0 = grouped ? gBase : base;
      const side = median(`decode gqa b=${batch} ctx=${length} deferred-side pdl${g}`);
      const serial = median(`decode gqa b=${batch} ctx=${length} deferred-serial pdl${g}`);
      // attribution: the logit-storing kernel alone and the selection kernel alone
      const store = median(`decode gqa b=${batch} ctx=${length} deferred-store-only pdl${g}`);
      const select = median(`decode gqa b=${batch} ctx=${length} deferred-select-only pdl${g}`);
      // one graph per KV head (graph_select_group_kernel): side-stream write and the selection alone
      const kvSide = median(`decode gqa b=${batch} ctx=${length} deferred-side per-kv-head pdl${g}`);
      const kvSelect = median(`decode gqa b=${batch} ctx=${length} deferred-select-only per-kv-head pdl${g}`);
      return {
        msStoreOnlyPdl: store.ms,
        msSelectOnly: select.ms,
        perKvHead: { msSidePdl: kvSide.ms, overheadSidePdl: kvSide.ms / b0.ms - 1, msSelectOnly: kvSelect.ms },
        storeOverheadPdl: store.ms / b0.ms - 1,
        numSplits: info.get(`decode gqa b=${batch} ctx=${length} deferred-side pdl${g}`)!.numSplits,
        msSidePdl: side.ms,
        msSerialPdl: serial.ms,
        overheadSidePdl: side.ms / b0.ms - 1,
        overheadSerialPdl: serial.ms / b0.ms - 1,
      };
    };
    const row = {
      batch,
      context: length,
      numHeads: 32,
      numKvHeads: 8,
      headDim: 128,
      numSplits: i.numSplits,
      bytesPerLaunch: i.bytes,
      msBaselinePdl: base.ms,
      msGraphPdl: graph.ms,
      graphOverheadPdl: graph.ms / base.ms - 1,
      fractionOfMemcpyGraphPdl: i.bytes / (graph.ms / 1e3) / memcpyBw,
      deferred: deferred(false),
      groupedDeferred: deferred(true),
      grouped: {
        numSplits: gi.numSplits,
        msBaselinePdl: gBase.ms,
        msGraphPdl: gGraph.ms,
        graphOverheadPdl: gGraph.ms / gBase.ms - 1,
        fractionOfMemcpyGraphPdl: gi.bytes / (gGraph.ms / 1e3) / memcpyBw,
      },
    };
    say(
      `decode gqa 32/8 b=${batch} ctx=${length} (PDL): baseline ${(base.ms * 1e3).toFixed(1)} us, graph ${(graph.ms * 1e3).toFixed(1)} us ` +
        `(overhead ${(row.graphOverheadPdl * 100).toFixed(2)} %), ${(row.fractionOfMemcpyGraphPdl * 100).toFixed(1)} % of memcpy (KV bytes once); ` +
        `grouped kernel: baseline ${(gBase.ms * 1e3).toFixed(1)} us, graph ${(gGraph.ms * 1e3).toFixed(1)} us (overhead ${(row.grouped.graphOverheadPdl * 100).toFixed(2)} %, ` +
        `${(row.grouped.fractionOfMemcpyGraphPdl * 100).toFixed(1)} % of memcpy, splits ${gi.numSplits}); deferred (side / same stream): ` +
        `per-head ${(row.deferred.overheadSidePdl * 100).toFixed(2)} / ${(row.deferred.overheadSerialPdl * 100).toFixed(2)} %, ` +
        `grouped ${(row.groupedDeferred.overheadSidePdl * 100).toFixed(2)} / ${(row.groupedDeferred.overheadSerialPdl * 100).toFixed(2)} %; ` +
        `storing logits alone: per-head ${(row.deferred.storeOverheadPdl * 100).toFixed(2)} %, grouped ${(row.groupedDeferred.storeOverheadPdl * 100).toFixed(2)} %; ` +
        `selection alone: per-head ${(row.deferred.msSelectOnly * 1e3).toFixed(1)} us, grouped ${(row.groupedDeferred.msSelectOnly * 1e3).toFixed(1)} us; ` +
        `graph per KV head (side stream / selection alone): per-head kernel ${(row.deferred.perKvHead.overheadSidePdl * 100).toFixed(2)} % / ${(row.deferred.perKvHead.msSelectOnly * 1e3).toFixed(1)} us, ` +
        `grouped ${(row.groupedDeferred.perKvHead.overheadSidePdl * 100).toFixed(2)} % / ${(row.groupedDeferred.perKvHead.msSelectOnly * 1e3).toFixed(1)} us`,
    );
    return row;
  });
  const pair = (a: string, b: string) => {
    const ma = median(a);
    const mb = median(b);
    return { aosMs: ma.ms, soaMs: mb.ms, soaOverAos: mb.ms / ma.ms };
  };
  const layout = decodeOnly ? {} : {
    gatherWalk: pair("gather aos 1024x4096 1024w x 20 steps", "gather soa 1024x4096 1024w x 20 steps"),
    compaction: pair("compact aos 1024x4096", "compact soa 1024x4096"),
    topkWriter: pair("topk aos 1024 rows x 4096", "topk soa 1024 rows x 4096"),
    decodeGraph4k: pair("decode b=1 ctx=4096 graph", "decode b=1 ctx=4096 graph-soa"),
    decodeGraph16kB8: pair("decode b=8 ctx=16384 graph", "decode b=8 ctx=16384 graph-soa"),
  };
  const splitSweep = sweep.map(([batch, length, numSplits]) => {
    const m = median(`decode b=${batch} ctx=${length} baseline splits=${numSplits}`);
    const bytes = info.get(`decode b=${batch} ctx=${length} baseline splits=${numSplits}`)!.bytes;
    return { batch, context: length, numSplits, ms: m.ms, bandwidthTBps: bytes / (m.ms / 1e3) / 1e12 };
  });
  for (const r of splitSweep) say(`split sweep b=${r.batch} ctx=${r.context} splits=${r.numSplits}: ${(r.ms * 1e3).toFixed(1)} us, ${r.bandwidthTBps.toFixed(2)} TB/s`);
  for (const [k, v] of Object.entries(layout)) {
    say(`layout ${k}: AoS ${(v.aosMs * 1e3).toFixed(1)} us, SoA ${(v.soaMs * 1e3).toFixed(1)} us (SoA/AoS ${v.soaOverAos.toFixed(3)})`);
  }
  const compactBytes = decodeOnly ? 0 : info.get("compact aos 1024x4096")!.bytes;
  const tasks = bench.tasks.map((t) => {
    const r = t.result as { latency?: { p50: number; rme: number; min: number; max: number; samplesCount?: number } };
    const per = (x: number | undefined) => perLaunch(t.name, x);
    return { name: t.name, ...info.get(t.name), medianMs: per(r.latency?.p50), rmePct: r.latency?.rme, minMs: per(r.latency?.min), maxMs: per(r.latency?.max) };
  });
  const path = join(outDir, shapesOnly ? "graph-cache-bench-decode-shapes.json" : decodeOnly ? "graph-cache-bench-decode.json" : "graph-cache-bench.json");
  writeJsonAtomic(path, {
    ...checkMetadata(),
    gpu: device.name,
    device,
    driverVersion: device.driverVersion,
    timing: "CUDA events around back-to-back launches; tinybench samples = ms per batch of each task's `launches` launches, reported per launch; medians",
    memcpy: { ms: memcpy.ms, bandwidthTBps: memcpyBw / 1e12, fractionOfNominal: nominal ? memcpyBw / nominal : null },
    nominalBandwidthTBps: nominal ? nominal / 1e12 : null,
    decode,
    gqa,
    splitSweep,
    layout,
    ...(decodeOnly
      ? { only: "decode" }
      : {
          compaction7B: { ms: median("compact aos 1024x4096").ms, bandwidthTBps: compactBytes / (median("compact aos 1024x4096").ms / 1e3) / 1e12 },
          topkWriter7B: { ms: median("topk aos 1024 rows x 4096").ms },
        }),
    tasks,
  });
  say(`wrote ${path}`);
}

async function benchTwins(reason: string): Promise<void> {
  say(`graph-cache bench: the CUDA benchmarks need a GPU (${reason}); benching the TypeScript twins instead`);
  const bench = new Bench({ name: "graph-cache (TypeScript twins)", time: 500, iterations: 5 });
  const shape = { batch: 1, numHeads: 32, numKvHeads: 32, headDim: 128, kvCapacity: 1024 };
  const withGraph = randomDecodeInput(1, shape, { withGraph: true, fullLength: true });
  const without = { ...withGraph, graph: undefined };
  bench.add("decodeAttentionReference 32x128 ctx=1024 baseline", () => {
    decodeAttentionReference(without);
  });
  bench.add("decodeAttentionReference 32x128 ctx=1024 graph", () => {
    decodeAttentionReference(withGraph);
  });
  const rnd = seededRandom(3);
  const batch = createGraphBatch(32, 4096);
  const probs = Float32Array.from({ length: 32 * 4096 }, () => rnd());
  const rows = { probs, n: 4096, graphIds: Int32Array.from({ length: 32 }, (_, i) => i), nodes: new Int32Array(32).fill(4095) };
  bench.add("writeTopKRows 32 rows x 4096", () => writeTopKRows(batch, rows));
  const keep = Uint8Array.from({ length: 32 * 4096 }, () => (rnd() < 0.8 ? 1 : 0));
  bench.add("compactGraphBatch 32 x 4096", () => {
    compactGraphBatch(batch, keep);
  });
  await bench.run();
  const tasks = bench.tasks.map((t) => {
    const r = t.result as { latency?: { p50: number; rme: number } };
    return { name: t.name, medianMs: r.latency?.p50, rmePct: r.latency?.rme };
  });
  for (const t of tasks) say(`${t.name}: ${t.medianMs?.toFixed(2)} ms (±${t.rmePct?.toFixed(1)} %)`);
  const base = tasks[0].medianMs ?? Number.NaN;
  const graph = tasks[1].medianMs ?? Number.NaN;
  say(`twin graph-write overhead: ${((graph / base - 1) * 100).toFixed(1)} %`);
  const path = join(outDir, "graph-cache-bench-typescript.json");
  writeJsonAtomic(path, { ...checkMetadata(), backend: "typescript", reason, tasks, twinGraphOverhead: graph / base - 1 });
  say(`wrote ${path}`);
}

const status = backendStatus();
const addon = cudaAddon();
(addon ? benchCuda(addon) : benchTwins(status.reason ?? "CUDA unavailable")).catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
