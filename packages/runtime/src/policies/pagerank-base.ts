import { type CacheState, DEFAULT_REFRESH_EVERY, DEFAULT_START_WINDOW, DEFAULT_TELEPORT, ScoredPolicy } from "./policy.js";

/**
 * Shared scheduling of the PageRank family: scores are recomputed lazily, when an eviction is
 * needed and the last refresh is `refreshEvery` or more steps old (so nothing is ranked before the
 * cache first fills); in between, evictions use the latest scores. Tokens appended after the last
 * refresh are unranked and are evicted only when no ranked candidate is left (with the defaults,
 * refreshEvery 32 < window 50, they are protected anyway). Sinks are kept and not ranked.
 */
export abstract class PageRankPolicy extends ScoredPolicy {
  /** Step of the last refresh (-1: never); it ranked tokens <= lastRefresh. */
  protected lastRefresh = -1;
  protected alive = new Uint8Array(0);

  protected get refreshEvery(): number {
    return this.options.refreshEvery ?? DEFAULT_REFRESH_EVERY;
  }
  protected get teleport(): number {
    return this.options.teleport ?? DEFAULT_TELEPORT;
  }
  protected get startWindow(): number {
    return this.options.startWindow ?? DEFAULT_START_WINDOW;
  }

  protected override reset(): void {
    this.lastRefresh = -1;
    this.alive = new Uint8Array(this.length);
    this.resetGraph();
  }

  /** Per-sequence reset of the subclass's graph state. */
  protected abstract resetGraph(): void;

  /** Releases per-sequence buffers (the triangle of the exact variants goes back to its pool). */
  protected endGraph(): void {}

  end(): void {
    this.endGraph();
  }

  /** Recomputes `scores` of every cached token at step t (rows of queries < t are recorded). */
  protected abstract refresh(t: number, cache: CacheState): void;

  protected override beforeSelect(t: number, cache: CacheState): void {
    if (this.lastRefresh < 0 || t - this.lastRefresh >= this.refreshEvery) this.runRefresh(t, cache);
  }

  protected override beforeFinal(t: number, cache: CacheState): void {
    this.runRefresh(t, cache);
  }

  private runRefresh(t: number, cache: CacheState): void {
    const t0 = performance.now();
    const alive = this.alive;
    alive.fill(0);
    for (let i = 0; i < cache.size; i++) alive[cache.tokens[i]] = 1;
    this.refresh(t, cache);
    this.lastRefresh = t;
    this.counters.refreshes++;
    this.counters.refreshMs += performance.now() - t0;
  }

  protected override pick(cache: CacheState, lo: number, hi: number): number {
    const rankedHi = Math.min(hi, cache.lowerBound(this.lastRefresh + 1));
    return super.pick(cache, lo, rankedHi > lo ? rankedHi : hi);
  }
}
