import { describe, expect, it } from "vitest";
import { logitsRowSource, retrospectiveEvict, runPolicy, type SimulationResult, visibleCounts } from "../simulate.js";
import { syntheticLogits } from "../synthetic.js";
import type { PolicyOptions } from "./policy.js";
import { createPolicy, EXPERIMENTAL_POLICY_NAMES, POLICY_NAMES } from "./registry.js";

// Every registered policy through the same invariants on random attention-like logits.
const T = 240;
const SINKS = 3;
const WINDOW = 16;
const HEADS = 2; // a GQA group of two query heads summed
const logits = syntheticLogits(T, HEADS, 7);
const base: Omit<PolicyOptions, "budget"> = { sinks: SINKS, window: WINDOW, refreshEvery: 8, walkers: 256, steps: 10 };

/** Runs a policy and checks, at every step, that the cache it was shown equals what evict[] says. */
function runChecked(name: string, opts: PolicyOptions): SimulationResult {
  const policy = createPolicy(name, opts);
  const inner = logitsRowSource(logits, T);
  const everEvicted = new Uint8Array(T);
  const seen: number[][] = [];
  const result = runPolicy(
    policy,
    T,
    (t, cache, out) => {
      seen[t] = Array.from(cache.tokens.subarray(0, cache.size));
      inner(t, cache, out);
    },
    5,
  );
  const { evict } = result;
  for (let t = 0; t < T; t++) {
    if (!seen[t]) continue;
    const expected: number[] = [];
    for (let j = 0; j <= t; j++) if (evict[j] > t) expected.push(j);
    expect(seen[t], `${name}: cache at step ${t}`).toEqual(expected);
    for (const j of seen[t]) expect(everEvicted[j], `${name}: token ${j} returned at step ${t}`).toBe(0);
    for (let j = 0; j <= t; j++) if (evict[j] <= t) everEvicted[j] = 1;
  }
  return result;
}

function checkBudgetAndProtected(name: string, r: SimulationResult, budget: number, window: number): void {
  const vis = visibleCounts(r.evict);
  for (let t = 0; t < T; t++) expect(vis[t], `${name}: keys visible to query ${t}`).toBeLessThanOrEqual(budget);
  for (let j = 0; j < T; j++) {
    expect(r.evict[j], `${name}: evict[${j}] after its own step`).toBeGreaterThan(j);
    if (j < SINKS) expect(r.evict[j], `${name}: sink ${j} evicted`).toBe(T);
    else expect(r.evict[j], `${name}: token ${j} evicted inside the window`).toBeGreaterThanOrEqual(Math.min(T, j + window));
  }
}

describe.each([...POLICY_NAMES, ...EXPERIMENTAL_POLICY_NAMES].map((n) => [n]))("policy %s: shared invariants", (name) => {
  it.each([[0.25], [60], [0.5]])("budget %s: never over budget, protected kept, evicted never return", (budget) => {
    const r = runChecked(name, { ...base, budget });
    const B = budget <= 1 ? Math.floor(budget * T) : budget;
    const window = name === "h2o-paper" ? Math.max(WINDOW, Math.floor(B / 2)) : WINDOW;
    if (name === "full") {
      expect(Array.from(r.evict).every((e) => e === T)).toBe(true);
      return;
    }
    checkBudgetAndProtected(name, r, B, window);
    // One eviction per step once the cache is full.
    expect(r.evictions).toBe(T - B);
    expect(r.firstEviction).toBe(B);
  });

  it("deterministic given a seed", () => {
    const a = runChecked(name, { ...base, budget: 0.3, seed: 11 });
    const b = runChecked(name, { ...base, budget: 0.3, seed: 11 });
    expect(Array.from(a.evict)).toEqual(Array.from(b.evict));
  });

  it("reproduces full when the budget covers the window", () => {
    const r = runChecked(name, { ...base, budget: T });
    expect(Array.from(r.evict).every((e) => e === T)).toBe(true);
    expect(r.evictions).toBe(0);
  });

  it("retrospective oracle: static keep-set within budget, protected kept", () => {
    const policy = createPolicy(name, { ...base, budget: 0.3 });
    const r = retrospectiveEvict(policy, T, logitsRowSource(logits, T));
    if (name === "full") return;
    const B = Math.floor(0.3 * T);
    checkBudgetAndProtected(name, r, B, policy.window);
    const kept = Array.from(r.evict).filter((e, j) => e === T && j >= SINKS && j < T - policy.window).length;
    expect(kept).toBeLessThanOrEqual(B - SINKS - policy.window);
  });
});

describe("seeded policies draw from the seed", () => {
  it.each([["random"], ["pagerank-walker"]])("%s: a different seed gives a different eviction order", (name) => {
    const a = runChecked(name, { ...base, budget: 0.3, seed: 1 });
    const b = runChecked(name, { ...base, budget: 0.3, seed: 2 });
    expect(Array.from(a.evict)).not.toEqual(Array.from(b.evict));
  });
});
