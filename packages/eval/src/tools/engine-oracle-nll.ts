/**
 * Per-token NLL of the oracle's causal simulation on the fixture model's 512 reference tokens, for the
 * GPU engine's live-eviction check (runtime: "eviction == oracle causal simulation"): full, streaming,
 * h2o, tova and pagerank-top4 (exact PageRank on the top-4 graph, ranked every 8 tokens, start window 64)
 * at a budget of 128 slots (4 sinks, window 50).
 *   node dist/tools/engine-oracle-nll.js OUT.json
 */
import { join } from "node:path";
import { requireShared, runMetadata, writeJsonAtomic } from "@kvwalk/core";
import { loadModel, SafetensorsFile } from "@kvwalk/model";
import { causalPass } from "@kvwalk/oracle";

export const ENGINE_ORACLE_BUDGET = 128;
export const ENGINE_ORACLE_POLICIES = ["full", "streaming", "h2o", "tova", "pagerank-top4"] as const;
/** pagerank-top4's ranking interval and teleport window, which the engine's check passes to the engine too. */
export const ENGINE_ORACLE_REFRESH = 8;
export const ENGINE_ORACLE_START_WINDOW = 64;

async function main(): Promise<void> {
  const out = process.argv[2];
  if (!out) throw new Error("usage: engine-oracle-nll.js OUT.json");
  const dir = requireShared("models/fixture-lm", "the fixture model");
  const ids = new SafetensorsFile(join(dir, "reference.safetensors")).readInt32("input_ids", [512]);
  const model = await loadModel(dir);
  const policies: Record<string, number[]> = {};
  for (const p of ENGINE_ORACLE_POLICIES) {
    const r = await causalPass(model, ids, p, ENGINE_ORACLE_BUDGET, {
      sinks: 4,
      window: 50,
      refreshEvery: ENGINE_ORACLE_REFRESH,
      startWindow: ENGINE_ORACLE_START_WINDOW,
    });
    policies[p] = Array.from(r.nll, (x) => Number(x.toFixed(6)));
    const mean = r.nll.reduce((a, b) => a + b, 0) / r.nll.length;
    process.stderr.write(`${p}: PPL ${Math.exp(mean).toFixed(3)} (${r.timing.evictions} evictions)\n`);
  }
  await model.dispose();
  writeJsonAtomic(out, {
    ...runMetadata(),
    budget: ENGINE_ORACLE_BUDGET,
    sinks: 4,
    window: 50,
    refreshEvery: ENGINE_ORACLE_REFRESH,
    startWindow: ENGINE_ORACLE_START_WINDOW,
    tokens: Array.from(ids),
    nll: policies,
  });
}

void main();
