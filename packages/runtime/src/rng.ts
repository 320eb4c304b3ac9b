/**
 * Small deterministic PRNG for policies (random eviction, walker seeds): a Weyl sequence passed
 * through a 32-bit avalanche finalizer. Not cryptographic; fast and reproducible across platforms.
 */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Next uint32. */
  nextU32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    return avalanche(this.state);
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

function avalanche(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Combines integers into one uint32 seed (order matters), e.g. mixSeed(seed, layer, head). */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) h = avalanche((h ^ (p >>> 0)) + 0x9e3779b9);
  return h >>> 0;
}
