/**
 * The decode-step loop the eviction benchmarks share (engine bench's eviction modes, step-kernels):
 * a 20% budget of `ctx`-token contexts with lazy compactions 64 slots apart, or the full cache;
 * sequences start at staggered lengths so their compactions do not coincide.
 */
import type { Engine, EnginePolicy } from "../engine/engine.js";

/**
 * How a 20% budget becomes an engine shape (capacity = the cache's slots, budget = the slots a
 * compaction keeps):
 * - "cap" (the default since session 13): the budget is the cache's capacity, as in the design ("Capacity:
 *   Fixed Budget") and in the eval harness's GPU runs (capacity = 20% of the window): 20% of the context
 *   in slots, a sequence that fills them is compacted to 64 fewer. The cache never holds more than 20%
 *   of the context (18.4-20% of it between compactions at 4k).
 * - "slack" (the bench of sessions 4-12): compaction to 20% of the context, 64 slots of slack above it
 *   (20.0-21.6% at 4k), kept to compare with the figures recorded then.
 * $KVWALK_EVICT_SHAPE picks the default.
 */
export type EvictionShapeKind = "cap" | "slack";

export function defaultShapeKind(): EvictionShapeKind {
  const v = process.env.KVWALK_EVICT_SHAPE;
  if (v === undefined || v === "" || v === "cap") return "cap";
  if (v === "slack") return "slack";
  throw new Error(`KVWALK_EVICT_SHAPE: expected "cap" or "slack", received "${v}"`);
}

/** Compactions of a sequence are this many slots apart. */
export const COMPACTION_SLACK = 64;

/** Slots a compaction keeps (budget) and the cache capacity of a policy at `ctx` tokens. */
export function evictionShape(policy: EnginePolicy, ctx: number, kind: EvictionShapeKind = defaultShapeKind()): { budget: number; capacity: number } {
  const slots = Math.floor(0.2 * ctx);
  if (policy === "full") return { budget: slots, capacity: ctx + COMPACTION_SLACK };
  return kind === "cap" ? { budget: slots - COMPACTION_SLACK, capacity: slots } : { budget: slots, capacity: slots + COMPACTION_SLACK };
}

/**
 * Mean wall time of `steps` decode steps of `B` sequences (each awaited), after 4 warm-up steps;
 * `beforeTiming` runs between the two (e.g. to read counters). The full cache is held at `ctx` keys.
 */
export async function timeDecodeSteps(
  e: Engine,
  policy: EnginePolicy,
  ctx: number,
  B: number,
  steps: number,
  beforeTiming: () => void = () => {},
  kind: EvictionShapeKind = defaultShapeKind(),
): Promise<number> {
  const full = policy === "full";
  const { budget } = evictionShape(policy, ctx, kind);
  for (let b = 0; b < B; b++) e.native.setLength(b, full ? ctx : budget + ((b * 37) % COMPACTION_SLACK));
  const tokens = Int32Array.from({ length: B }, (_, b) => (b * 31 + 7) % e.shape.vocab);
  const temp = new Float32Array(B);
  const topP = new Float32Array(B).fill(1);
  for (let i = 0; i < 4; i++) await e.native.decode(tokens, temp, topP, 0, false);
  if (full) for (let b = 0; b < B; b++) e.native.setLength(b, ctx);
  beforeTiming();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) {
    if (full && i % 32 === 0) for (let b = 0; b < B; b++) e.native.setLength(b, ctx);
    await e.native.decode(tokens, temp, topP, 0, false);
  }
  return (performance.now() - t0) / steps;
}
