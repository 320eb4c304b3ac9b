import { H2OPolicy } from "./h2o.js";

/**
 * `h2o-paper`: H2O with the paper's own split (Zhang et al., 2023, arXiv:2306.14048, Sec. 5: equal
 * heavy-hitter and recent budgets): the recent window is half the budget, floor(B / 2) (never less
 * than the configured window), and the other half holds the sinks and the heavy hitters by causal
 * accumulated attention.
 */
export class H2OPaperPolicy extends H2OPolicy {
  override readonly name: string = "h2o-paper";

  protected override effectiveWindow(budget: number, sinks: number, window: number): number {
    if (budget >= this.length) return window;
    return Math.min(budget - sinks - 1, Math.max(window, Math.floor(budget / 2)));
  }
}
