import { expectInt, expectNumber, expectOneOf, InvalidArgumentError } from "@kvwalk/core";
import { longBenchTask } from "../benchmarks/longbench/tasks.js";
import { NEEDLE_KINDS, type NeedleKind } from "../benchmarks/needle/generate.js";
import { WIKITEXT2_SPLITS, type WikiText2Split } from "../benchmarks/wikitext2/loader.js";

export const BACKENDS = ["cpu-sim", "gpu"] as const;
export type BackendName = (typeof BACKENDS)[number];

/**
 * Which heads own the GPU walker's attention graphs (policy option `graphHeads`, passed to
 * @kvwalk/runtime's createEngine): "kv", one graph per KV head whose node holds the top-4 keys of the
 * group's summed attention probabilities (what the CPU oracle's policies observe per KV head), or
 * "query", one graph per query head with the walker's visit counts summed over each group. The same
 * graphs for multi-head models.
 */
export const GRAPH_HEADS = ["kv", "query"] as const;
export type GraphHeads = (typeof GRAPH_HEADS)[number];

/**
 * Policy options other than the budget: numbers (sinks, window, refreshEvery, walkers, ...) and,
 * for pagerank-walker, `graphHeads` (GRAPH_HEADS).
 */
export type PolicyOptionValues = Record<string, number | GraphHeads>;

/** A policy of the sweep: a registry name (@kvwalk/runtime's POLICY_NAMES), options, and a label for variants. */
export interface PolicySpec {
  name: string;
  /** Name in results and reports (default: `name`); must be unique in a config. */
  label?: string;
  /** Policy options other than the budget (sinks, window, refreshEvery, walkers, ..., graphHeads). */
  options?: PolicyOptionValues;
}

/**
 * The `graphHeads` option of a policy (undefined when absent), checked: one of GRAPH_HEADS, and only
 * on pagerank-walker (the one policy with attention graphs on the GPU). `param` names it in errors.
 */
export function policyGraphHeads(param: string, policy: string, options: PolicyOptionValues | undefined): GraphHeads | undefined {
  const v = options?.graphHeads;
  if (v === undefined) return undefined;
  const g = expectOneOf(param, v, GRAPH_HEADS);
  if (policy !== "pagerank-walker") {
    throw new InvalidArgumentError(param, `no graphHeads on policy "${policy}" (it chooses the attention graphs of pagerank-walker only)`, v);
  }
  return g;
}

/**
 * The numeric options of a policy (what the policies themselves read; `graphHeads` is an engine
 * option and is left out). Any other non-number fails, naming `param`.option.
 */
export function numericOptions(options: PolicyOptionValues | undefined, param = "options"): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(options ?? {})) {
    if (k === "graphHeads") continue;
    out[k] = expectNumber(`${param}.${k}`, v);
  }
  return out;
}

export interface EvalConfig {
  /** Model directory, absolute or relative to the shared folder (e.g. "models/fixture-lm"). */
  model: string;
  backend: BackendName;
  /** Policies; `full` runs once at budget 1, the others at every budget. */
  policies: PolicySpec[];
  /** Budgets as fractions of the window, in (0, 1). */
  budgets: number[];
  /** Tokens per window for WikiText-2 and LongBench contexts. */
  windowTokens: number;
  wikitext2?: { split: WikiText2Split; maxWindows: number };
  longbench?: {
    tasks: string[];
    /** Context perplexity: BOS + the first windowTokens-1 context tokens of the first `samples` rows long enough. */
    contextSamples: number;
    /** Teacher-forced answer NLL: middle-truncated prompt + reference answer, first `samples` rows (0 = off). */
    answerSamples: number;
    /**
     * Generated answers scored with the task's metric (backend `gpu` only; default 0 = off): the
     * official prompt, middle-truncated to windowTokens - the task's generation length, for the first
     * `generateSamples` rows whose prompt fills that (so every sample has the same length and slots).
     */
    generateSamples?: number;
    /** Cap on generated tokens (default: the task's official maximum generation length). */
    maxNewTokens?: number;
  };
  needle?: {
    kinds: NeedleKind[];
    lengths: number[];
    depths: number[];
    /** Samples per (kind, length, depth); the same samples go through every policy and budget. */
    samples: number;
    /** Budgets for needle tests (default: `budgets`). */
    budgets?: number[];
    /** Base seed; sample s of a cell uses seed + s. */
    seed: number;
  };
  /** Needle traces: for up to `maxCases` samples where the compared policies disagree, per-step traces. */
  traces?: { policies: string[]; maxCases: number; every: number };
  /**
   * Windows per batch on a backend with a batched path (`gpu`; default 32): the units of one policy,
   * budget and length are run in lockstep, split into near-equal batches of at most this many.
   * The batches are part of the sweep's definition (the walker's random streams depend on a
   * window's place in its batch), so keep it fixed for a sweep.
   */
  batch?: number;
  /**
   * Pairs of policy labels [a, b] compared in the report: b's perplexity against a's (paired
   * bootstrap over windows), needle sign tests, LongBench generation lines. Default: h2o against
   * every pagerank-* policy (when h2o is configured).
   */
  compare?: [string, string][];
}

/** Default windows per batch on a batching backend. */
export const DEFAULT_BATCH = 32;

/** Label of a policy spec. */
export function policyLabel(p: PolicySpec): string {
  return p.label ?? p.name;
}

function checkList<T>(name: string, v: unknown, each: (x: unknown, i: number) => T, min = 1): T[] {
  if (!Array.isArray(v) || v.length < min) throw new InvalidArgumentError(name, `an array of at least ${min} entries`, v);
  return v.map(each);
}

/** Validates a config (throws InvalidArgumentError naming the field) and returns it. */
export function validateConfig(c: EvalConfig): EvalConfig {
  if (c === null || typeof c !== "object") throw new InvalidArgumentError("config", "an EvalConfig object", c);
  if (typeof c.model !== "string" || c.model.length === 0) throw new InvalidArgumentError("config.model", "a model directory", c.model);
  expectOneOf("config.backend", c.backend, BACKENDS);
  const labels = new Set<string>();
  checkList("config.policies", c.policies, (p, i) => {
    const spec = p as PolicySpec;
    if (!spec || typeof spec.name !== "string") throw new InvalidArgumentError(`config.policies[${i}].name`, "a policy name", spec?.name);
    const label = policyLabel(spec);
    if (labels.has(label)) throw new InvalidArgumentError(`config.policies[${i}].label`, "a label unique in the config", label);
    labels.add(label);
    numericOptions(spec.options, `config.policies[${i}].options`);
    const graphHeads = policyGraphHeads(`config.policies[${i}].options.graphHeads`, spec.name, spec.options);
    if (graphHeads === "query" && c.backend !== "gpu") {
      throw new InvalidArgumentError(
        `config.policies[${i}].options.graphHeads`,
        `"kv" or none with backend "${c.backend}" (the CPU simulation's policies observe one attention row per KV head, the group's summed probabilities; graphs per query head exist on the "gpu" backend only)`,
        graphHeads,
      );
    }
    return spec;
  });
  checkList("config.budgets", c.budgets, (b, i) => expectNumber(`config.budgets[${i}]`, b, Number.MIN_VALUE, 0.9999));
  expectInt("config.windowTokens", c.windowTokens, 16);
  if (c.wikitext2) {
    expectOneOf("config.wikitext2.split", c.wikitext2.split, WIKITEXT2_SPLITS);
    expectInt("config.wikitext2.maxWindows", c.wikitext2.maxWindows, 1);
  }
  if (c.longbench) {
    checkList("config.longbench.tasks", c.longbench.tasks, (t, i) => {
      if (typeof t !== "string" || !longBenchTask(t)) throw new InvalidArgumentError(`config.longbench.tasks[${i}]`, "a LongBench English task name", t);
      return t;
    });
    expectInt("config.longbench.contextSamples", c.longbench.contextSamples, 0);
    expectInt("config.longbench.answerSamples", c.longbench.answerSamples, 0);
    if (c.longbench.generateSamples !== undefined) {
      expectInt("config.longbench.generateSamples", c.longbench.generateSamples, 0);
      if (c.longbench.generateSamples > 0 && c.backend !== "gpu") {
        throw new InvalidArgumentError(
          "config.longbench.generateSamples",
          `0 with backend "${c.backend}" (generated answers need the "gpu" backend; the CPU simulation scores teacher-forced windows only)`,
          c.longbench.generateSamples,
        );
      }
    }
    if (c.longbench.maxNewTokens !== undefined) expectInt("config.longbench.maxNewTokens", c.longbench.maxNewTokens, 1);
  }
  if (c.needle) {
    checkList("config.needle.kinds", c.needle.kinds, (k, i) => expectOneOf(`config.needle.kinds[${i}]`, k, NEEDLE_KINDS));
    checkList("config.needle.lengths", c.needle.lengths, (l, i) => expectInt(`config.needle.lengths[${i}]`, l, 64));
    checkList("config.needle.depths", c.needle.depths, (d, i) => expectNumber(`config.needle.depths[${i}]`, d, 0, 1));
    expectInt("config.needle.samples", c.needle.samples, 1);
    expectInt("config.needle.seed", c.needle.seed, 0);
    if (c.needle.budgets) checkList("config.needle.budgets", c.needle.budgets, (b, i) => expectNumber(`config.needle.budgets[${i}]`, b, Number.MIN_VALUE, 0.9999));
  }
  if (c.traces) {
    checkList("config.traces.policies", c.traces.policies, (p, i) => {
      if (typeof p !== "string" || !labels.has(p)) throw new InvalidArgumentError(`config.traces.policies[${i}]`, "the label of a configured policy", p);
      return p;
    }, 2);
    expectInt("config.traces.maxCases", c.traces.maxCases, 0);
    expectInt("config.traces.every", c.traces.every, 1);
  }
  if (c.batch !== undefined) expectInt("config.batch", c.batch, 1, 4096);
  if (c.compare !== undefined) {
    checkList("config.compare", c.compare, (pair, i) => {
      const known = [...labels].map((l) => JSON.stringify(l)).join(", ");
      if (!Array.isArray(pair) || pair.length !== 2) throw new InvalidArgumentError(`config.compare[${i}]`, `a pair [a, b] of policy labels (${known})`, pair);
      for (const l of pair) {
        if (typeof l !== "string" || !labels.has(l)) throw new InvalidArgumentError(`config.compare[${i}]`, `labels of policies in the config (${known})`, l);
      }
      if (pair[0] === pair[1]) throw new InvalidArgumentError(`config.compare[${i}]`, `a second label other than the first (${JSON.stringify(pair[0])})`, pair[1]);
      return pair as [string, string];
    }, 0);
  }
  return c;
}

/** Parses "i/n" (0 <= i < n) for --shard. */
export function parseShard(s: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(s);
  if (!m) throw new InvalidArgumentError("--shard", 'the form "i/n" with 0 <= i < n', s);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index >= count) throw new InvalidArgumentError("--shard", 'the form "i/n" with 0 <= i < n', s);
  return { index, count };
}
