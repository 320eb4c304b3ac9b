import { Code, type FunctionDef, KernelModule } from "./wasm-builder.js";

/**
 * exp for softmax rows, two lanes at a time in WebAssembly SIMD (float64), for arguments d = x - max
 * in [-700, 0] (callers fall back to Math.exp otherwise):
 *   k = nearest(d / ln 2), taken from the low bits of d log2(e) + (1.5 2^52 + 1023), whose bit
 *       pattern shifted left by 52 is also 2^k;
 *   r = (d - k ln2_hi) - k ln2_lo (Cody-Waite split of ln 2: ln2_hi has 21 significant bits, so
 *       k ln2_hi is exact), |r| <= ln(2)/2;
 *   exp(r) by its Taylor polynomial to degree 13 (truncation < 5e-18), Horner in float64;
 *   exp(d) = exp(r) 2^k.
 * Within a few units in the last place of Math.exp (tests: at most 2 ulp over 1e6 random arguments),
 * so a softmax row differs from the Math.exp one by rounding only.
 */
const LOG2E = Math.LOG2E;
const LN2_HI = 0.6931471803691238; // 0x3fe62e42fee00000
const LN2_LO = 1.9082149292705877e-10; // ln 2 - LN2_HI
const SHIFT = 6755399441055744 + 1023; // 1.5 * 2^52 + exponent bias
const DEGREE = 13;

function expKernel(): FunctionDef {
  // exp(x, n, m) -> sum: x[i] = exp(x[i] - m) for i < n (n a multiple of 4), x float64 at byte
  // offset `x`, and the sum of the results (four partial sums, added at the end); two independent
  // pairs per iteration so their polynomial chains overlap; constants splatted once.
  const [x, n, m, p, end] = [0, 1, 2, 3, 4];
  const lane = [
    { d: 5, t: 6, k: 7, r: 8, q: 9 },
    { d: 10, t: 11, k: 12, r: 13, q: 14 },
  ];
  const [vm, vlog2e, vshift, vhi, vlo] = [15, 16, 17, 18, 19];
  const coef = (j: number) => 20 + j; // 1/j!, j = 0..DEGREE
  const acc = [21 + DEGREE, 22 + DEGREE];
  const e = [23 + DEGREE, 24 + DEGREE];
  const b = new Code();
  b.get(m).f64x2Splat().set(vm);
  b.f64(LOG2E).f64x2Splat().set(vlog2e);
  b.f64(SHIFT).f64x2Splat().set(vshift);
  b.f64(LN2_HI).f64x2Splat().set(vhi);
  b.f64(LN2_LO).f64x2Splat().set(vlo);
  let fact = 1;
  for (let j = 0; j <= DEGREE; j++) {
    if (j > 0) fact *= j;
    b.f64(1 / fact).f64x2Splat().set(coef(j));
  }
  b.get(x).set(p);
  b.get(x).get(n).i32(3).i32Shl().i32Add().set(end);
  b.block().loop();
  b.get(p).get(end).i32GeS().brIf(1);
  lane.forEach(({ d, t, k, r }, h) => {
    b.get(p).v128Load(16 * h).get(vm).f64x2Sub().set(d);
    b.get(d).get(vlog2e).f64x2Mul().get(vshift).f64x2Add().set(t);
    b.get(t).get(vshift).f64x2Sub().set(k);
    b.get(d).get(k).get(vhi).f64x2Mul().f64x2Sub().get(k).get(vlo).f64x2Mul().f64x2Sub().set(r);
  });
  for (const { q } of lane) b.get(coef(DEGREE)).set(q);
  for (let j = DEGREE - 1; j >= 0; j--) {
    for (const { r, q } of lane) b.get(q).get(r).f64x2Mul().get(coef(j)).f64x2Add().set(q);
  }
  lane.forEach(({ t, q }, h) => {
    b.get(q).get(t).i32(52).i64x2Shl().f64x2Mul().set(e[h]);
    b.get(p).get(e[h]).v128Store(16 * h);
    b.get(acc[h]).get(e[h]).f64x2Add().set(acc[h]);
  });
  b.get(p).i32(32).i32Add().set(p);
  b.br(0).end().end();
  b.get(acc[0]).get(acc[1]).f64x2Add().tee(acc[0]).f64x2ExtractLane(0).get(acc[0]).f64x2ExtractLane(1).f64Add();
  return { name: "exp", params: ["i32", "i32", "f64"], results: ["f64"], locals: ["i32", "i32", ...new Array<"v128">(15 + DEGREE + 1 + 4).fill("v128")], body: b };
}

const expModule = new KernelModule<{ exp: (x: number, n: number, m: number) => number }>(() => [expKernel()]);

/** Smallest argument the kernel handles (2^k stays a normal number); rows reaching below use Math.exp. */
export const FAST_EXP_MIN = -700;

/** A float64 scratch row in WebAssembly memory with the vectorized exp. */
export class ExpRow {
  /** The row; callers fill x[0..n) and call `exp(n, m)`. */
  readonly x: Float64Array;
  private readonly fn: (x: number, n: number, m: number) => number;

  constructor(readonly capacity: number) {
    const { exports, buffer } = expModule.instantiate((capacity + 4) * 8);
    this.fn = exports.exp;
    this.x = new Float64Array(buffer, 0, capacity + 4);
  }

  /**
   * x[i] = exp(x[i] - m) for i < n, returning their sum; every x[i] - m must be in [FAST_EXP_MIN, 0]
   * and some x[i] = m (the row's max). Padding to a multiple of 4 uses exp(FAST_EXP_MIN) ~ 1e-304,
   * which cannot change a sum >= 1.
   */
  exp(n: number, m: number): number {
    const n4 = (n + 3) & ~3;
    for (let i = n; i < n4; i++) this.x[i] = m + FAST_EXP_MIN;
    return this.fn(0, n4, m);
  }
}

let shared: ExpRow | null = null;
/** A per-thread ExpRow of at least `capacity` entries (reused by every row source of the thread). */
export function expRow(capacity: number): ExpRow {
  if (shared === null || shared.capacity < capacity) shared = new ExpRow(Math.max(capacity, 2 * (shared?.capacity ?? 0)));
  return shared;
}
