import type { EvalConfig } from "./harness/config.js";

/**
 * The default `kvwalk-eval run`: the fixture model on the CPU causal simulation, sized to finish in
 * about 25 minutes on a 2-core machine (see the package README for the measured per-window costs;
 * every unit is one 4096-token window simulated layer by layer).
 */
export const DEFAULT_CONFIG: EvalConfig = {
  // Stand-in for Llama-2-7B (8 layers, 6 heads, 4096 context), resolved inside the shared folder.
  model: "models/fixture-lm",
  // The CPU causal simulation from @kvwalk/oracle; "gpu" needs the GPU runtime (not there yet).
  backend: "cpu-sim",
  // The headline baselines and the PageRank family. `full` runs once per item at budget 1.
  // pagerank-dense is left out of the default: exact dense PageRank at every refresh costs minutes
  // per window on CPU; run it with --config when you have the time.
  policies: [
    { name: "full" },
    { name: "streaming" },
    { name: "h2o" },
    { name: "tova" },
    { name: "pagerank-top4" },
    { name: "pagerank-walker" },
  ],
  // Cache sizes as fractions of the window (sinks and local window included): 10-30%, the regime
  // where eviction policies separate.
  budgets: [0.1, 0.2, 0.3],
  // The fixture model's trained context.
  windowTokens: 4096,
  // A few WikiText-2 test windows (the whole split is 93 windows).
  wikitext2: { split: "test", maxWindows: 2 },
  // multi_news contexts long enough for a full window; teacher-forced answers are off by default
  // (the fixture model cannot summarise, so answer perplexity says little about it).
  longbench: { tasks: ["multi_news"], contextSamples: 2, answerSamples: 0 },
  // The structural-vs-greedy demonstration: passkey needles at 4096 tokens across depths, the same
  // samples for every policy and budget (paired comparisons).
  needle: {
    kinds: ["passkey"],
    lengths: [4096],
    depths: [0, 0.25, 0.5, 0.75, 1],
    samples: 2,
    seed: 1000,
  },
  // Traces of needle-token scores for samples where these policies disagree.
  traces: { policies: ["h2o", "pagerank-walker"], maxCases: 2, every: 64 },
};
