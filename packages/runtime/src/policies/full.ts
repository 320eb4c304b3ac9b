import { expectInt } from "@kvwalk/core";
import type { CacheState, EvictionPolicy, PolicyStats, SequenceContext } from "./policy.js";
import { DEFAULT_SINKS, DEFAULT_WINDOW } from "./policy.js";

/**
 * `full`: no eviction; the reference every other policy is compared with. Its budget is the
 * sequence length whatever the options say.
 */
export class FullPolicy implements EvictionPolicy {
  readonly name = "full";
  readonly needsAttention = false;
  budget = 0;
  readonly sinks = DEFAULT_SINKS;
  readonly window = DEFAULT_WINDOW;
  private length = 0;

  begin(ctx: SequenceContext): void {
    this.length = expectInt("length", ctx?.length, 1);
    this.budget = this.length;
  }

  selectVictim(t: number): number {
    throw new Error(`full policy asked to evict at step ${t}: the cache can never exceed the sequence length`);
  }

  observe(): void {}

  finalScores(_t: number, _cache: CacheState): Float64Array {
    return new Float64Array(this.length).fill(Number.POSITIVE_INFINITY);
  }

  stats(): PolicyStats {
    return { refreshes: 0, refreshMs: 0, iterations: 0 };
  }
}
