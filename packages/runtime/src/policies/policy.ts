import { expectInt, expectNumber, InvalidArgumentError } from "@kvwalk/core";

/**
 * The contract between an eviction policy and the causal cache simulation (one layer x KV head).
 *
 * Timeline of step t (t = 0..T-1), fixed for every policy:
 * 1. token t is appended to the cache;
 * 2. while the cache holds more than `budget` tokens, the policy names one cached, unprotected token
 *    to evict (`selectVictim`); it is gone for good and its eviction time is t. Only information from
 *    queries < t may be used: eviction happens BEFORE query t attends, so query t sees at most
 *    `budget` keys, itself included, exactly like a real cache of `budget` slots;
 * 3. query t attends over the cached keys; the policy receives that probability row (`observe`).
 *
 * The result of a run is the eviction-time vector evict[j] (Int32Array [T]): key j is visible to
 * query t iff j <= t < evict[j]; T means never evicted. This is the format `LayerStepper.attend`
 * of @kvwalk/model takes (per KV head).
 */
export interface EvictionPolicy {
  /** Registry name, e.g. "h2o". */
  readonly name: string;
  /** Cache slots (resolved by `begin`; includes the protected sinks and window). */
  readonly budget: number;
  /** Attention-sink tokens 0..sinks-1, never evicted (resolved by `begin`). */
  readonly sinks: number;
  /** The `window` most recent tokens (t-window+1..t at step t) are never evicted (resolved by `begin`). */
  readonly window: number;
  /** False when the policy never looks at attention rows (the simulator then skips computing them). */
  readonly needsAttention: boolean;
  /** Starts a new sequence of `length` tokens; resets all state. */
  begin(ctx: SequenceContext): void;
  /**
   * Step t, cache over budget after appending token t: returns the position of one cached,
   * unprotected token to evict. Called repeatedly until the cache fits.
   */
  selectVictim(t: number, cache: CacheState): number;
  /** Query t's probability row: probs[i] is the attention of query t on key cache.tokens[i], i < cache.size. */
  observe(t: number, cache: CacheState, probs: Float64Array): void;
  /**
   * Importance of every token position ([T], higher = keep) after the rows observed so far, for the
   * retrospective oracle (static keep-set); PageRank policies refresh first. NaN for tokens the
   * policy cannot rank.
   */
  finalScores(t: number, cache: CacheState): Float64Array;
  /** Counters for reports (refreshes, time spent ranking). */
  stats(): PolicyStats;
  /**
   * Optional: the sequence is over; releases per-sequence buffers for reuse (the simulators call it
   * after the last step and after `finalScores`). `stats` still works; anything else needs `begin`.
   */
  end?(): void;
}

export interface SequenceContext {
  /** Sequence length T. */
  length: number;
  /** Distinguishes (layer, KV head) streams so seeded policies draw independent numbers. Default 0. */
  streamId?: number;
}

export interface PolicyStats {
  /** Score refreshes (PageRank family), 0 for incremental policies. */
  refreshes: number;
  /** Milliseconds spent in refreshes (ranking). */
  refreshMs: number;
  /** Power iterations summed over refreshes (exact PageRank variants). */
  iterations: number;
}

/** Options shared by every policy; each policy reads the ones it needs. */
export interface PolicyOptions {
  /** Budget: a fraction of the sequence in (0, 1] (floor(fraction x T) slots), or an integer number of slots > 1. Includes sinks and window. */
  budget: number;
  /** Attention sinks kept forever (default 4). */
  sinks?: number;
  /** Most recent tokens kept (default 50; at least 1, so a query always sees itself). */
  window?: number;
  /** Seed for random eviction and the walker (default 0). */
  seed?: number;
  /** PageRank family: recompute scores every this many steps (default 32); evict by the latest scores in between. */
  refreshEvery?: number;
  /** PageRank family: teleport probability (default 0.15). */
  teleport?: number;
  /** PageRank family: teleport targets are the last `startWindow` live non-sink tokens (default 64). */
  startWindow?: number;
  /** pagerank-walker: walkers per refresh (default 1024). */
  walkers?: number;
  /** pagerank-walker: steps per walker (default 20). */
  steps?: number;
  /** pagerank-walker: visit counts are accumulated as score = decay x previous + new (default 0.5; 0 = no memory). */
  decay?: number;
  /** Exact PageRank variants: convergence tolerance on the L1 change per iteration (default 1e-7). */
  tol?: number;
  /** Exact PageRank variants: iteration cap per refresh (default 100). */
  maxIter?: number;
  /** pagerank-dense / -undirected: edges with normalized weight below this are not stored (default 0 = all). */
  epsilon?: number;
}

export const DEFAULT_SINKS = 4;
export const DEFAULT_WINDOW = 50;
export const DEFAULT_REFRESH_EVERY = 32;
export const DEFAULT_TELEPORT = 0.15;
export const DEFAULT_START_WINDOW = 64;

/**
 * Budget in slots for a sequence of `length` tokens: fractions in (0, 1] give floor(fraction x length)
 * (20% of 4096 = 819), integers > 1 are slots as given.
 */
export function resolveBudget(budget: number, length: number): number {
  expectNumber("budget", budget, Number.MIN_VALUE);
  if (budget <= 1) return Math.max(1, Math.floor(budget * length));
  return expectInt("budget", budget, 2);
}

/** Type and range checks of the shared options that do not depend on the sequence length. */
export function validateOptions(opts: PolicyOptions): void {
  if (opts == null || typeof opts !== "object") throw new InvalidArgumentError("options", "a PolicyOptions object", opts);
  expectNumber("budget", opts.budget, Number.MIN_VALUE);
  if (opts.budget > 1) expectInt("budget", opts.budget, 2);
  if (opts.sinks !== undefined) expectInt("sinks", opts.sinks, 0);
  if (opts.window !== undefined) expectInt("window", opts.window, 1);
  if (opts.seed !== undefined) expectInt("seed", opts.seed, 0, 2 ** 32 - 1);
  if (opts.refreshEvery !== undefined) expectInt("refreshEvery", opts.refreshEvery, 1);
  if (opts.teleport !== undefined) expectNumber("teleport", opts.teleport, Number.MIN_VALUE, 1);
  if (opts.startWindow !== undefined) expectInt("startWindow", opts.startWindow, 1);
  if (opts.walkers !== undefined) expectInt("walkers", opts.walkers, 1);
  if (opts.steps !== undefined) expectInt("steps", opts.steps, 1);
  if (opts.decay !== undefined) expectNumber("decay", opts.decay, 0, 1);
  if (opts.tol !== undefined) expectNumber("tol", opts.tol, 0);
  if (opts.maxIter !== undefined) expectInt("maxIter", opts.maxIter, 1);
  if (opts.epsilon !== undefined) expectNumber("epsilon", opts.epsilon, 0, 1);
}

/** Validates the shared options and resolves budget, sinks and window for a sequence. */
export function resolveProtected(opts: PolicyOptions, length: number): { budget: number; sinks: number; window: number } {
  if (opts == null || typeof opts !== "object") throw new InvalidArgumentError("options", "a PolicyOptions object", opts);
  expectInt("length", length, 1);
  const budget = resolveBudget(opts.budget, length);
  const sinks = expectInt("sinks", opts.sinks ?? DEFAULT_SINKS, 0);
  const window = expectInt("window", opts.window ?? DEFAULT_WINDOW, 1);
  if (budget < length && budget < sinks + window + 1) {
    throw new InvalidArgumentError("budget", `at least sinks + window + 1 = ${sinks + window + 1} slots (or >= the sequence length)`, budget);
  }
  return { budget, sinks, window };
}

/**
 * The cached key positions of one (layer, KV head), kept sorted ascending. `tokens` has room for
 * budget + 1 entries while a step is over budget; only the first `size` entries are meaningful.
 */
export class CacheState {
  readonly tokens: Int32Array;
  size = 0;
  constructor(capacity: number) {
    this.tokens = new Int32Array(capacity);
  }

  /** Appends position `pos`, which must be larger than every cached one. */
  append(pos: number): void {
    if (this.size > 0 && this.tokens[this.size - 1] >= pos) {
      throw new InvalidArgumentError("pos", `a position > ${this.tokens[this.size - 1]}`, pos);
    }
    if (this.size >= this.tokens.length) throw new InvalidArgumentError("cache", `at most ${this.tokens.length} tokens`, this.size + 1);
    this.tokens[this.size++] = pos;
  }

  /** Index of position `pos` in tokens, or -1. */
  indexOf(pos: number): number {
    let lo = 0;
    let hi = this.size - 1;
    const a = this.tokens;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = a[mid];
      if (v === pos) return mid;
      if (v < pos) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Index of the first cached position >= pos (size if none). */
  lowerBound(pos: number): number {
    let lo = 0;
    let hi = this.size;
    const a = this.tokens;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (a[mid] < pos) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Removes position `pos`; throws if it is not cached. */
  remove(pos: number): void {
    const i = this.indexOf(pos);
    if (i < 0) throw new InvalidArgumentError("victim", "a cached token position", pos);
    this.tokens.copyWithin(i, i + 1, this.size);
    this.size--;
  }
}

/**
 * The shared base of every policy (kvpress's "scorer press"): resolves the budget and the protected
 * set (first `sinks` tokens + the `window` most recent ones) and evicts the lowest-scored unprotected
 * token (ties: the oldest). A scored policy implements only `update` (its score update from one
 * attention row); `scores` is indexed by token position.
 */
export abstract class ScoredPolicy implements EvictionPolicy {
  abstract readonly name: string;
  readonly needsAttention: boolean = true;
  budget = 0;
  sinks = 0;
  window = 0;
  protected length = 0;
  protected streamId = 0;
  /** Float64Array [T]: importance by token position (higher = keep). */
  protected scores: Float64Array = new Float64Array(0);
  protected readonly counters: PolicyStats = { refreshes: 0, refreshMs: 0, iterations: 0 };

  constructor(protected readonly options: PolicyOptions) {
    // Validate eagerly so a bad option fails at construction, not mid-study.
    validateOptions(options);
  }

  begin(ctx: SequenceContext): void {
    const length = expectInt("length", ctx?.length, 1);
    const p = resolveProtected(this.options, length);
    this.length = length;
    this.budget = p.budget;
    this.sinks = p.sinks;
    this.window = this.effectiveWindow(p.budget, p.sinks, p.window);
    this.streamId = ctx.streamId ?? 0;
    this.scores = new Float64Array(length);
    this.counters.refreshes = 0;
    this.counters.refreshMs = 0;
    this.counters.iterations = 0;
    this.reset();
  }

  /** The protected recent window for a budget (h2o-paper widens it). */
  protected effectiveWindow(_budget: number, _sinks: number, window: number): number {
    return window;
  }

  /** Per-sequence state reset, after scores and budget are set. */
  protected reset(): void {}

  /** Hook before a victim is chosen at step t (PageRank policies refresh here). */
  protected beforeSelect(_t: number, _cache: CacheState): void {}

  /** Hook after `pos` was chosen as a victim (drop per-token state). */
  protected onEvict(_pos: number): void {}

  /** Index range [lo, hi) of the unprotected tokens in cache.tokens at step t. */
  protected candidates(t: number, cache: CacheState): [number, number] {
    const lo = cache.lowerBound(this.sinks);
    const hi = cache.lowerBound(t - this.window + 1);
    if (hi <= lo) {
      throw new InvalidArgumentError("cache", `an unprotected token to evict at step ${t} (budget ${this.budget})`, cache.size);
    }
    return [lo, hi];
  }

  selectVictim(t: number, cache: CacheState): number {
    this.beforeSelect(t, cache);
    const [lo, hi] = this.candidates(t, cache);
    const victim = this.pick(cache, lo, hi);
    this.onEvict(victim);
    return victim;
  }

  /** The lowest-scored position among cache.tokens[lo..hi) (ties: the oldest; NaN counts as lowest). */
  protected pick(cache: CacheState, lo: number, hi: number): number {
    const tokens = cache.tokens;
    const s = this.scores;
    let best = tokens[lo];
    let bestScore = s[best];
    if (Number.isNaN(bestScore)) return best;
    for (let i = lo + 1; i < hi; i++) {
      const p = tokens[i];
      const v = s[p];
      if (v < bestScore || Number.isNaN(v)) {
        best = p;
        bestScore = v;
        if (Number.isNaN(v)) break;
      }
    }
    return best;
  }

  observe(t: number, cache: CacheState, probs: Float64Array): void {
    this.update(t, cache, probs);
  }

  /** Score update from query t's row (probs[i] for key cache.tokens[i]). */
  protected abstract update(t: number, cache: CacheState, probs: Float64Array): void;

  finalScores(t: number, cache: CacheState): Float64Array {
    this.beforeFinal(t, cache);
    return this.scores;
  }

  /** Hook for finalScores (PageRank policies force a refresh). */
  protected beforeFinal(_t: number, _cache: CacheState): void {}

  stats(): PolicyStats {
    return { ...this.counters };
  }
}
