/**
 * The `gpu` backend: the GPU decode engine of @kvwalk/runtime with live eviction. A window is run as
 * the oracle's causal timeline on real hardware: BOS prefilled, then every later token teacher-forced
 * through a decode step, the cache compacted to budget - 1 slots whenever it holds `budget` (so each
 * query sees exactly the oracle's cache size). The engine's check ties this path to the oracle
 * (streaming / H2O / TOVA perplexity within 0.2% on fixture-lm; runtime README).
 * Policies: full, streaming, h2o, tova, pagerank-walker (the CUDA walker); the other oracle policies
 * have no GPU implementation and are refused by name.
 */
import { basename } from "node:path";
import { BackendUnavailableError, InvalidArgumentError } from "@kvwalk/core";
import { loadConfig, loadTokenizer } from "@kvwalk/model/checkpoint";
import { createEngine, type Engine, type EnginePolicy, type EvictionOptions, engineStatus, tokenLogProb } from "@kvwalk/runtime/engine";
import type { EvalBackend, WindowRequest, WindowResult } from "./backend.js";

export const GPU_POLICIES: Readonly<Record<string, EnginePolicy>> = {
  full: "full",
  streaming: "streaming",
  h2o: "h2o",
  tova: "tova",
  "pagerank-walker": "walker",
};

/** The engine policy and eviction options of a study policy at `slots` slots (the oracle's option names). */
export function gpuEviction(name: string, slots: number, options: Record<string, number> = {}): EvictionOptions | undefined {
  const policy = GPU_POLICIES[name];
  if (!policy) throw new InvalidArgumentError("policy", `one that the GPU engine implements (${Object.keys(GPU_POLICIES).join(", ")})`, name);
  if (policy === "full") return undefined;
  return {
    policy,
    budget: slots - 1,
    sinks: options.sinks ?? 4,
    recent: options.window ?? 50,
    refresh: options.refreshEvery ?? 32,
    walkers: options.walkers,
    steps: options.steps,
    teleport: options.teleport,
    scoreDecay: options.decay,
    startWindow: options.startWindow ?? 64, // the oracle policies' default (the engine's own is 50)
    seed: options.seed,
  };
}

/** Opens the GPU backend, or fails at once with the reason when no CUDA device is usable. */
export async function openGpuBackend(modelDir: string): Promise<EvalBackend> {
  const status = engineStatus();
  if (status.backend !== "cuda") throw new BackendUnavailableError("kvwalk-eval --backend gpu", status.reason ?? "unavailable");
  const config = loadConfig(modelDir);
  const tokenizer = loadTokenizer(modelDir, config.vocabSize, config.bosTokenId);
  const engines = new Map<string, Engine>();
  const engineFor = async (req: WindowRequest, T: number): Promise<Engine> => {
    const full = req.policy.name === "full";
    const slots = full ? T : Math.max(2, Math.floor(req.budget * T));
    const eviction = gpuEviction(req.policy.name, slots, req.policy.options);
    const capacity = full ? Math.max(T, Math.min(config.maxPositions, 4096)) : slots;
    const key = JSON.stringify({ capacity, eviction });
    let e = engines.get(key);
    if (!e) {
      e = await createEngine({ model: modelDir, capacity, maxPrefillTokens: 16, maxLogitRows: 1, eviction, progress: false });
      engines.set(key, e);
    }
    return e;
  };
  return {
    name: "gpu",
    model: basename(modelDir),
    vocabSize: config.vocabSize,
    tokenizer,
    async run(req: WindowRequest): Promise<WindowResult> {
      const T = req.tokens.length;
      if (T < 2) throw new InvalidArgumentError("tokens", "at least 2 tokens", T);
      const e = await engineFor(req, T);
      const V = config.vocabSize;
      const wanted = new Map((req.logitPositions ?? []).map((p, i) => [p, i]));
      const logits = req.logitPositions ? new Float32Array(req.logitPositions.length * V) : undefined;
      const keep = (t: number, row: Float32Array) => {
        const i = wanted.get(t);
        if (i !== undefined && logits) logits.set(row, i * V);
      };
      const nll = new Float32Array(T - 1);
      const first = await e.native.prefill(Int32Array.of(0), req.tokens.subarray(0, 1), Int32Array.of(0, 1), false);
      nll[0] = -tokenLogProb(first.last, req.tokens[1]);
      keep(0, first.last);
      const zero = Float32Array.of(0);
      const one = Float32Array.of(1);
      for (let t = 1; t + 1 < T; t++) {
        const d = await e.native.decode(req.tokens.subarray(t, t + 1), zero, one, 0, true);
        const row = d.logits as Float32Array;
        nll[t] = -tokenLogProb(row, req.tokens[t + 1]);
        keep(t, row);
      }
      return { nll, logits };
    },
    async dispose() {
      for (const e of engines.values()) await e.dispose();
      engines.clear();
    },
  };
}
