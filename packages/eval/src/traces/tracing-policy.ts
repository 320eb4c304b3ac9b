import type { CacheState, EvictionPolicy, PolicyStats, SequenceContext } from "@kvwalk/runtime";

/** What a traced (layer, KV head) stream recorded about the tracked token positions. */
export interface StreamTrace {
  /** Tracked positions (the needle's tokens), ascending. */
  positions: number[];
  /** Eviction step of each tracked position (T: kept to the end). */
  evictedAt: number[];
  /** Steps at which scores were sampled. */
  steps: number[];
  /**
   * rank[s][i]: rank of positions[i] at steps[s] among the cached tokens the policy could evict
   * (0 = the most important; tied scores get their mean rank); -1 not yet appended, -2 evicted or protected
   * (sink or inside the local window: not a candidate). null when the policy exposes no scores.
   */
  rank: number[][] | null;
  /** score[s][i]: the policy's score of positions[i] at steps[s] (NaN where not cached); null as above. */
  score: number[][] | null;
  /** Number of eviction candidates at each sampled step (the rank's denominator). */
  candidates: number[];
}

/**
 * The policy's current score vector ([T], by position) without side effects. Uses `peekScores()`
 * when a policy offers it; otherwise the `scores` array of @kvwalk/runtime's ScoredPolicy (a
 * protected field, read here because no public accessor exists: calling `finalScores` would force a
 * PageRank refresh and change the run). Undefined for policies without scores.
 */
export function peekScores(policy: EvictionPolicy): Float64Array | undefined {
  const p = policy as unknown as { peekScores?: () => Float64Array; scores?: unknown };
  if (typeof p.peekScores === "function") return p.peekScores();
  return p.scores instanceof Float64Array && p.scores.length > 0 ? p.scores : undefined;
}

/**
 * Wraps a policy and records, for a set of token positions, when each was evicted and, every
 * `every` steps (and at the last step), its score and rank among the eviction candidates.
 * Behaviour is unchanged: every call is forwarded, and scores are only read.
 */
export class TracingPolicy implements EvictionPolicy {
  private trace: StreamTrace = { positions: [], evictedAt: [], steps: [], rank: null, score: null, candidates: [] };
  private length = 0;
  private readonly tracked: number[];

  constructor(
    readonly inner: EvictionPolicy,
    positions: readonly number[],
    private readonly every: number,
  ) {
    this.tracked = [...new Set(positions)].sort((a, b) => a - b);
  }

  get name(): string {
    return this.inner.name;
  }
  get budget(): number {
    return this.inner.budget;
  }
  get sinks(): number {
    return this.inner.sinks;
  }
  get window(): number {
    return this.inner.window;
  }
  get needsAttention(): boolean {
    return this.inner.needsAttention;
  }

  begin(ctx: SequenceContext): void {
    this.inner.begin(ctx);
    this.length = ctx.length;
    const scored = peekScores(this.inner) !== undefined;
    this.trace = {
      positions: this.tracked.slice(),
      evictedAt: this.tracked.map(() => ctx.length),
      steps: [],
      rank: scored ? [] : null,
      score: scored ? [] : null,
      candidates: [],
    };
  }

  selectVictim(t: number, cache: CacheState): number {
    const v = this.inner.selectVictim(t, cache);
    const i = this.tracked.indexOf(v);
    if (i >= 0) this.trace.evictedAt[i] = t;
    return v;
  }

  observe(t: number, cache: CacheState, probs: Float64Array): void {
    this.inner.observe(t, cache, probs);
    if (t % this.every === 0 || t === this.length - 1) this.sample(t, cache);
  }

  /** Records scores and ranks at step t (after query t's row was observed). */
  private sample(t: number, cache: CacheState): void {
    const scores = peekScores(this.inner);
    const { sinks, window } = this.inner;
    // Candidates: cached positions that are neither sinks nor in the local window of step t+1.
    const cand: number[] = [];
    for (let i = 0; i < cache.size; i++) {
      const p = cache.tokens[i];
      if (p >= sinks && p <= t + 1 - window) cand.push(p);
    }
    this.trace.steps.push(t);
    this.trace.candidates.push(cand.length);
    if (!scores || !this.trace.rank || !this.trace.score) return;
    const key = (p: number) => (Number.isNaN(scores[p]) ? Number.NEGATIVE_INFINITY : scores[p]);
    const sorted = cand.map(key).sort((a, b) => b - a);
    // Mid-rank: tokens with equal scores share the mean of their positions, so a policy that has not
    // ranked anything yet (all scores equal) puts every token at the middle, not at the top.
    const countAbove = (v: number, strict: boolean) => {
      let lo = 0;
      let hi = sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (strict ? sorted[mid] > v : sorted[mid] >= v) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    const rankOf = (v: number) => {
      const above = countAbove(v, true);
      const equal = countAbove(v, false) - above;
      return above + (equal - 1) / 2;
    };
    const candSet = new Set(cand);
    this.trace.rank.push(this.tracked.map((p) => (p > t ? -1 : candSet.has(p) ? rankOf(key(p)) : -2)));
    this.trace.score.push(this.tracked.map((p) => (p <= t && cache.indexOf(p) >= 0 ? scores[p] : Number.NaN)));
  }

  finalScores(t: number, cache: CacheState): Float64Array {
    return this.inner.finalScores(t, cache);
  }

  stats(): PolicyStats {
    return this.inner.stats();
  }

  /** The trace of the last sequence (copy). */
  result(): StreamTrace {
    return structuredClone(this.trace);
  }
}
