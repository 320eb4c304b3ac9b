import type { EvalConfig } from "./harness/config.js";

/**
 * The default `kvwalk-eval run`: the fixture model on the CPU causal simulation, sized to finish in
 * about 25 minutes on an otherwise idle 2-core machine. Measured there (see the package README):
 * one simulated 4096-token window costs about 5 s with the full cache and 15-40 s per policy and
 * budget, so the whole default is about 50 windows' worth of work.
 */
export const DEFAULT_CONFIG: EvalConfig = {
  // Stand-in for Llama-2-7B (8 layers, 6 heads, 4096-token context), resolved inside the shared folder.
  model: "models/fixture-lm",
  // The CPU causal simulation from @kvwalk/oracle; "gpu" runs the GPU engine with live eviction (CUDA host).
  backend: "cpu-sim",
  // The headline baselines and the PageRank family. `full` runs once per item at budget 1.
  // pagerank-dense (exact dense PageRank at every refresh) and pagerank-undirected are left out of
  // the default for time; add them with --config.
  policies: [
    { name: "full" },
    { name: "streaming" },
    { name: "h2o" },
    { name: "tova" },
    { name: "pagerank-top4" },
    { name: "pagerank-walker" },
  ],
  // Cache sizes as fractions of the window (4 sinks and a 50-token local window included): 10-30%,
  // the regime where eviction policies separate.
  budgets: [0.1, 0.2, 0.3],
  // The fixture model's trained context.
  windowTokens: 4096,
  // One WikiText-2 test window (the split has 93); raise maxWindows for tighter intervals.
  wikitext2: { split: "test", maxWindows: 1 },
  // The first multi_news context long enough for a 4096-token window. Teacher-forced answers are
  // off: the fixture model cannot summarise news, so their perplexity says little.
  longbench: { tasks: ["multi_news"], contextSamples: 1, answerSamples: 0 },
  // The needle demonstration: passkey needles at 5 depths x 2 samples, every policy and budget on
  // the same 10 samples (paired comparisons; Wilson intervals per policy and budget over 10
  // samples, per heatmap cell over 2). 2048 tokens keep this inside the time budget (a 4096-token
  // needle costs about 3x more); the fixture model's full-cache passkey accuracy is 0.96 at 2048
  // and 0.98 at 4096. NEEDLE_STUDY_CONFIG runs the 4096-token study.
  needle: {
    kinds: ["passkey"],
    lengths: [2048],
    depths: [0, 0.25, 0.5, 0.75, 1],
    samples: 2,
    seed: 1000,
  },
  // Traces of the needle tokens' scores and eviction steps for up to 2 samples where h2o and the
  // walker disagree (one traced pass per policy and sample).
  traces: { policies: ["h2o", "pagerank-walker"], maxCases: 2, every: 32 },
};

/**
 * The needle demonstration at the size: 4096-token passkey and variable-tracking samples
 * (the fixture model solves both with a full cache at 4096), 5 depths x 8 samples each, every
 * policy at 10/20/30%. About 80 samples x 16 passes; split it with --shard i/n across processes or
 * hosts and merge with `kvwalk-eval report`.
 */
export const NEEDLE_STUDY_CONFIG: EvalConfig = {
  ...DEFAULT_CONFIG,
  wikitext2: undefined,
  longbench: undefined,
  needle: { kinds: ["passkey", "vartrack"], lengths: [4096], depths: [0, 0.25, 0.5, 0.75, 1], samples: 8, seed: 2000 },
  traces: { policies: ["h2o", "pagerank-walker"], maxCases: 4, every: 64 },
};

/** A few minutes end to end on the real model: 1024-token windows, one budget, one sample per dataset. */
export const SMOKE_CONFIG: EvalConfig = {
  ...DEFAULT_CONFIG,
  budgets: [0.2],
  windowTokens: 1024,
  wikitext2: { split: "test", maxWindows: 1 },
  longbench: { tasks: ["multi_news"], contextSamples: 1, answerSamples: 1 },
  needle: { kinds: ["passkey"], lengths: [1024], depths: [0, 0.5], samples: 1, seed: 1000 },
  traces: { policies: ["h2o", "pagerank-walker"], maxCases: 1, every: 32 },
};

export const PRESETS: Record<string, EvalConfig> = {
  default: DEFAULT_CONFIG,
  "needle-study": NEEDLE_STUDY_CONFIG,
  smoke: SMOKE_CONFIG,
};
