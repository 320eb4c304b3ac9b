/**
 * One-window cost of the default study (`pnpm --filter @kvwalk/oracle bench`), for the "where the
 * time goes" numbers of the README: on one WikiText-2 window (T = 4096, fixture model) a full-cache
 * pass is stepped layer by layer and, at every layer, every policy of the default study simulates
 * all 6 KV heads at every default budget twice, in the same run and on the same logits:
 * - baseline: the implementations before the fast paths (sparse-row exact PageRank, compactGraph +
 *   walkReference walker, Math.exp rows), kept in @kvwalk/runtime as references;
 * - now: the registry's policies (triangle + WebAssembly kernels, WebAssembly walker and exp).
 * Reported: CPU seconds per window (sum over the 48 (layer, KV head)) per policy and budget, whether
 * the eviction vectors are identical, the model's cost per pass (warm: a plain pass and a pass
 * with scores), and the extrapolated wall time of the default study (16 windows x 37 passes) with
 * both cores busy. One run per configuration (a window's 48 heads are the repetitions); times are
 * process CPU time (single-threaded work, so they do not count other processes' load). Then (unless --no-study) the default study itself on that one
 * window (runStudy: 37 passes, concurrency 2, 2 simulation workers, model threads = cores) with its
 * wall time, process CPU time and the machine's busy time (/proc/stat; others' load shows as the
 * difference), i.e. how fully the pipeline keeps both cores busy.
 * Usage: node dist/bench/one-window.js [--window N] [--layers N] [--no-study]
 * Results: $KVWALK_BENCH_OUT/oracle-one-window.json (default bench/results/ of the repository).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { requireShared, runMetadata, writeJsonAtomic } from "@kvwalk/core";
import { loadModel, reexecWithTunedAllocator } from "@kvwalk/model";
import {
  createPolicy,
  type EvictionPolicy,
  type LogitBlocks,
  PageRankDenseSparsePolicy,
  PageRankUndirectedSparsePolicy,
  PageRankWalkerReferencePolicy,
  type PolicyOptions,
  type RowExp,
  simulateHead,
} from "@kvwalk/runtime";
import { loadWindows } from "../data.js";
import { DEFAULT_BUDGETS, DEFAULT_POLICIES, runStudy } from "../study.js";

const outDir = process.env.KVWALK_BENCH_OUT ?? fileURLToPath(new URL("../../../../bench/results/", import.meta.url));
const say = (s: string) => process.stdout.write(`${s}\n`);

/** The default study's shared options (cli.ts defaults). */
const SHARED = { sinks: 4, window: 50, refreshEvery: 32, startWindow: 64, walkers: 1024, steps: 20, decay: 0.5, seed: 0 };
const WINDOWS = 16;

const BASELINE: Record<string, (o: PolicyOptions) => EvictionPolicy> = {
  "pagerank-dense": (o) => new PageRankDenseSparsePolicy(o),
  "pagerank-undirected": (o) => new PageRankUndirectedSparsePolicy(o),
  "pagerank-walker": (o) => new PageRankWalkerReferencePolicy(o),
};

/** CPU seconds all processes of the machine spent busy since boot (Linux /proc/stat, 100 ticks/s), or null. */
function machineBusyS(): number | null {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / 100;
  } catch {
    return null;
  }
}

/** Process CPU seconds (user + system) since `from` (a process.cpuUsage() reading). */
function cpuSince(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1e6;
}

interface Cell {
  baselineS: number;
  nowS: number;
  baselineRowS: number;
  nowRowS: number;
  baselineRefreshS: number;
  nowRefreshS: number;
  identicalEvictions: boolean;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { window: { type: "string" }, layers: { type: "string" }, "no-study": { type: "boolean" } } });
  const windowIndex = Number(values.window ?? 0);
  const modelDir = requireShared("models/fixture-lm", "the fixture model");
  const model = await loadModel(modelDir, { threads: 1 });
  const layers = Math.min(model.config.numLayers, Number(values.layers ?? model.config.numLayers));
  const windows = loadWindows("wikitext", model.tokenizer, 4096, windowIndex + 1);
  const tokens = windows[windowIndex].tokens;
  const T = tokens.length;
  const nKv = model.config.numKvHeads;
  const policies = DEFAULT_POLICIES.filter((p) => p !== "full");
  const cells: Record<string, Record<string, Cell>> = {};
  for (const p of policies) cells[p] = Object.fromEntries(DEFAULT_BUDGETS.map((b) => [String(b), { baselineS: 0, nowS: 0, baselineRowS: 0, nowRowS: 0, baselineRefreshS: 0, nowRefreshS: 0, identicalEvictions: true }]));
  say(`oracle one-window bench: WikiText window ${windowIndex}, T = ${T}, ${layers} layers x ${nKv} KV heads, ${policies.length} policies x ${DEFAULT_BUDGETS.length} budgets`);
  // Warm-up and the cost of a plain pass (full, streaming, random need no scores).
  let t0 = process.cpuUsage();
  const warm = await model.stepper(tokens);
  for (let l = 0; l < model.config.numLayers; l++) await warm.attend();
  await warm.finish();
  const firstPlainS = cpuSince(t0);
  t0 = process.cpuUsage();
  const plain = await model.stepper(tokens);
  for (let l = 0; l < model.config.numLayers; l++) await plain.attend();
  await plain.finish();
  const plainPassS = cpuSince(t0);
  t0 = process.cpuUsage();
  const st = await model.stepper(tokens);
  let modelS = cpuSince(t0);
  for (let l = 0; l < layers; l++) {
    t0 = process.cpuUsage();
    const heads: LogitBlocks[] = [];
    for (let h = 0; h < nKv; h++) heads.push(st.scores ? await st.scores(h) : { bounds: Int32Array.of(0, T), blocks: [await st.logits(h)] });
    modelS += cpuSince(t0);
    for (const p of policies) {
      for (const b of DEFAULT_BUDGETS) {
        const c = cells[p][String(b)];
        const opts = { ...SHARED, budget: b };
        for (let h = 0; h < nKv; h++) {
          const stream = l * nKv + h;
          const run = (policy: EvictionPolicy, exp: RowExp) => {
            const c0 = process.cpuUsage();
            const r = simulateHead(policy, [heads[h]], T, stream, { exp });
            return { r, cpuS: cpuSince(c0) };
          };
          const { r: base, cpuS: baseS } = run((BASELINE[p] ?? ((o) => createPolicy(p, o)))(opts), "exact");
          const { r: now, cpuS: nowS } = run(createPolicy(p, opts), "fast");
          c.baselineS += baseS;
          c.nowS += nowS;
          c.baselineRowS += base.rowMs / 1000;
          c.nowRowS += now.rowMs / 1000;
          c.baselineRefreshS += base.policy.refreshMs / 1000;
          c.nowRefreshS += now.policy.refreshMs / 1000;
          if (c.identicalEvictions && !base.evict.every((e, j) => e === now.evict[j])) c.identicalEvictions = false;
        }
      }
      const tot = Object.values(cells[p]).reduce((a, c) => [a[0] + c.baselineS, a[1] + c.nowS], [0, 0]);
      say(`  layer ${l} ${p.padEnd(20)} baseline ${tot[0].toFixed(1).padStart(6)} s   now ${tot[1].toFixed(1).padStart(6)} s (cumulative)`);
    }
    t0 = process.cpuUsage();
    await st.attend();
    modelS += cpuSince(t0);
  }
  for (let l = layers; l < model.config.numLayers; l++) await st.attend(); // --layers: not measured
  t0 = process.cpuUsage();
  await st.finish();
  modelS += cpuSince(t0);
  await model.dispose();

  // Per window: the policies' simulation (scaled to all layers if fewer were run) and 37 passes of model work.
  const scale = model.config.numLayers / layers;
  const perPolicy = Object.fromEntries(
    policies.map((p) => {
      const cs = Object.values(cells[p]);
      return [p, { baselineS: scale * cs.reduce((a, c) => a + c.baselineS, 0), nowS: scale * cs.reduce((a, c) => a + c.nowS, 0), identicalEvictions: cs.every((c) => c.identicalEvictions) }];
    }),
  );
  const simBaseline = Object.values(perPolicy).reduce((a, c) => a + c.baselineS, 0);
  const simNow = Object.values(perPolicy).reduce((a, c) => a + c.nowS, 0);
  const passes = 1 + policies.length * DEFAULT_BUDGETS.length;
  const modelPerPass = modelS * scale;
  const plainPasses = 1 + policies.filter((p) => !createPolicy(p, { budget: 0.5 }).needsAttention).length * DEFAULT_BUDGETS.length;
  const modelPerWindow = (passes - plainPasses) * modelPerPass + plainPasses * plainPassS;
  const studyMin = (sim: number) => (WINDOWS * (modelPerWindow + sim)) / 2 / 60;
  say(
    `  model: ${modelPerPass.toFixed(1)} CPU s per pass with scores, ${plainPassS.toFixed(1)} plain (first pass ${firstPlainS.toFixed(1)}), ${modelPerWindow.toFixed(0)} CPU s per window (${passes} passes)`,
  );
  for (const [p, c] of Object.entries(perPolicy)) {
    say(`  ${p.padEnd(20)} ${c.baselineS.toFixed(1).padStart(6)} -> ${c.nowS.toFixed(1).padStart(6)} CPU s per window (${(c.baselineS / c.nowS).toFixed(1)}x), identical evictions: ${c.identicalEvictions}`);
  }
  say(`  simulation ${simBaseline.toFixed(0)} -> ${simNow.toFixed(0)} CPU s per window; default study on 2 busy cores: ${studyMin(simBaseline).toFixed(0)} -> ${studyMin(simNow).toFixed(0)} min`);

  // The default study on this one window, as the CLI runs it.
  let study: Record<string, unknown> | null = null;
  if (!values["no-study"]) {
    const studyModel = await loadModel(modelDir);
    const out = mkdtempSync(join(tmpdir(), "kvwalk-oracle-bench-"));
    try {
      const busy0 = machineBusyS();
      const cpu0 = process.cpuUsage();
      const w0 = performance.now();
      await runStudy({
        model: studyModel,
        modelDir,
        dataset: "wikitext",
        windows: [windows[windowIndex]],
        windowsRequested: 1,
        policies: [...DEFAULT_POLICIES],
        budgets: [...DEFAULT_BUDGETS],
        mode: "causal",
        out,
        shared: SHARED,
        concurrency: 2,
        simWorkers: 2,
        resamples: 10,
        command: "oracle bench (one window)",
        progress: false,
        log: () => {},
      });
      const wallS = (performance.now() - w0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const busy1 = machineBusyS();
      const cpuS = (cpu.user + cpu.system) / 1e6;
      const othersS = busy0 !== null && busy1 !== null ? Math.max(0, busy1 - busy0 - cpuS) : null;
      const utilization = cpuS / (2 * wallS - (othersS ?? 0));
      study = {
        passes,
        wallS,
        processCpuS: cpuS,
        otherProcessesCpuS: othersS,
        utilizationOfAvailableCores: utilization,
        defaultStudyMinutes: (WINDOWS * wallS) / 60,
        note: "runStudy on this window with the CLI defaults (concurrency 2, 2 simulation workers); defaultStudyMinutes = 16 x this wall time",
      };
      say(`  one-window default study: ${wallS.toFixed(0)} s wall, ${cpuS.toFixed(0)} CPU s (others ${othersS?.toFixed(0) ?? "?"} s): ${(100 * utilization).toFixed(0)}% of the 2 cores; x16 windows = ${((WINDOWS * wallS) / 60).toFixed(0)} min`);
    } finally {
      rmSync(out, { recursive: true, force: true });
      await studyModel.dispose();
    }
  }

  const file = join(outDir, "oracle-one-window.json");
  writeJsonAtomic(file, {
    ...runMetadata(),
    what: "default-study simulation cost on one WikiText-2 window (full-cache logits of every layer), baseline = implementations before the fast paths, same run",
    window: windowIndex,
    T,
    layersMeasured: layers,
    settings: SHARED,
    budgets: DEFAULT_BUDGETS,
    perPolicyBudget: cells,
    perPolicyWindow: perPolicy,
    simulationCpuSPerWindow: { baseline: simBaseline, now: simNow, ratio: simBaseline / simNow },
    model: {
      cpuSPerPassWithScores: modelPerPass,
      cpuSPerPlainPass: plainPassS,
      cpuSFirstPass: firstPlainS,
      passesPerWindow: passes,
      plainPassesPerWindow: plainPasses,
      cpuSPerWindow: modelPerWindow,
      note: "process CPU s, threads 1, after a warm-up pass; passes of policies that read attention cost a pass with scores",
    },
    study,
    extrapolation: {
      windows: WINDOWS,
      assumption: "both cores busy for the whole run (CPU s / 2); see the oracle README for the measured utilization",
      defaultStudyMinutesBaseline: studyMin(simBaseline),
      defaultStudyMinutesNow: studyMin(simNow),
    },
  });
  say(`wrote ${file}`);
}

reexecWithTunedAllocator();
main().catch((err) => {
  console.error(err);
  process.exit(1);
});
