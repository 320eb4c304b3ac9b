/**
 * The decode-step loop the eviction benchmarks share (engine bench's eviction modes, step-kernels):
 * a 20% budget of `ctx`-token contexts with 64 slots of slack before a lazy compaction, or the full
 * cache; sequences start at staggered lengths so their compactions do not coincide.
 */
import type { Engine, EnginePolicy } from "../engine/engine.js";

/** Slots kept (20% of the context) and the cache capacity of a policy at `ctx` tokens. */
export function evictionShape(policy: EnginePolicy, ctx: number): { budget: number; capacity: number } {
  const budget = Math.floor(0.2 * ctx);
  return { budget, capacity: policy === "full" ? ctx + 64 : budget + 64 };
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
): Promise<number> {
  const full = policy === "full";
  const { budget } = evictionShape(policy, ctx);
  for (let b = 0; b < B; b++) e.native.setLength(b, full ? ctx : budget + ((b * 37) % 64));
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
