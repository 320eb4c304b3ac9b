import { InvalidArgumentError } from "@kvwalk/core";
import type { GraphView } from "@kvwalk/graph-cache";
import { resolveWalkOptions, type WalkOptions } from "@kvwalk/walker-cuda";
import { Code, type FunctionDef, KernelModule } from "./wasm-builder.js";

// Philox4x32-10 constants (Salmon et al., 2011), as in @kvwalk/walker-cuda's philox.ts.
const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const FLT_MAX = 3.4028234663852886e38;

/**
 * walk(nb, wt, counts, numNodes, lo, W, T, walkers, steps, seed, g): @kvwalk/walker-cuda's
 * walkInto for one graph, as WebAssembly: Philox4x32-10 of counter (walker, step, g, 0) and key
 * (seed, 0) with exact 64-bit products (i64.mul), the start/teleport offset floor(x2 W / 2^32), the
 * teleport test x0 >= T, the edge draw x1 < c 2^32 with c accumulated in float32 (f32.add is the
 * correctly rounded float32 sum, as Math.fround of the float64 sum is), then counts[node]++.
 */
function walkKernel(): FunctionDef {
  const [nb, wt, counts, numNodes, lo, W, T, walkers, steps, seed, g] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const [w, s, cur, x0, x1, x2, x3, k0, k1, r, next, e, j, v, jump, hi0, lo0] = [11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27];
  const [p, q] = [28, 29];
  const [c, wv] = [30, 31];
  const b = new Code();
  b.i32(0).set(w);
  b.block().loop();
  b.get(w).get(walkers).i32GeS().brIf(1);
  b.i32(0).set(s);
  b.block().loop();
  b.get(s).get(steps).i32GtS().brIf(1);
  b.get(w).set(x0).get(s).set(x1).get(g).set(x2).i32(0).set(x3).get(seed).set(k0).i32(0).set(k1).i32(0).set(r);
  b.block().loop();
  b.get(x0).i64ExtendI32U().i32(M0 | 0).i64ExtendI32U().i64Mul().set(p);
  b.get(x2).i64ExtendI32U().i32(M1 | 0).i64ExtendI32U().i64Mul().set(q);
  b.get(p).i64Const32(32).i64ShrU().i32WrapI64().set(hi0);
  b.get(p).i32WrapI64().set(lo0);
  b.get(q).i64Const32(32).i64ShrU().i32WrapI64().get(x1).i32Xor().get(k0).i32Xor().set(x0);
  b.get(q).i32WrapI64().set(x1);
  b.get(hi0).get(x3).i32Xor().get(k1).i32Xor().set(x2);
  b.get(lo0).set(x3);
  b.get(k0).i32(W0 | 0).i32Add().set(k0);
  b.get(k1).i32(W1 | 0).i32Add().set(k1);
  b.get(r).i32(1).i32Add().tee(r).i32(10).i32LtS().brIf(0);
  b.end().end();
  b.get(numNodes).i32(1).i32Sub();
  b.get(x2).i64ExtendI32U().get(W).i64ExtendI32U().i64Mul().i64Const32(32).i64ShrU().i32WrapI64();
  b.i32Sub().set(jump);
  b.get(s).i32Eqz().if();
  b.get(jump).set(cur);
  b.else();
  b.i32(-1).set(next);
  b.get(x0).f64ConvertI32U().get(T).f64Ge().if();
  b.get(cur).i32(4).i32Shl().set(e);
  b.f32(0).set(c);
  b.i32(0).set(j);
  b.block().loop();
  b.get(j).i32(4).i32GeS().brIf(1);
  b.get(wt).get(e).i32Add().get(j).i32(2).i32Shl().i32Add().f32Load().tee(wv);
  b.f32(0).f32Gt().get(wv).f32(FLT_MAX).f32Le().i32And().if();
  b.get(c).get(wv).f32Add().set(c);
  b.get(x1).f64ConvertI32U().get(c).f64PromoteF32().f64(4294967296).f64Mul().f64Lt().if();
  b.get(nb).get(e).i32Add().get(j).i32(2).i32Shl().i32Add().i32Load().tee(v);
  b.get(next);
  b.get(v).get(lo).i32GeS().get(v).get(numNodes).i32LtS().i32And();
  b.select().set(next);
  b.br(3);
  b.end();
  b.end();
  b.get(j).i32(1).i32Add().set(j);
  b.br(0).end().end();
  b.end(); // teleport test
  b.get(next).get(jump).get(next).i32(0).i32GeS().select().set(cur);
  b.get(counts).get(cur).i32(2).i32Shl().i32Add().tee(e);
  b.get(e).i32Load().i32(1).i32Add().i32Store();
  b.end(); // s == 0
  b.get(s).i32(1).i32Add().set(s);
  b.br(0).end().end();
  b.get(w).i32(1).i32Add().set(w);
  b.br(0).end().end();
  return {
    name: "walk",
    params: ["i32", "i32", "i32", "i32", "i32", "i32", "f64", "i32", "i32", "i32", "i32"],
    results: [],
    locals: [...new Array<"i32">(17).fill("i32"), "i64", "i64", "f32", "f32"],
    body: b,
  };
}


type WalkFn = (nb: number, wt: number, counts: number, numNodes: number, lo: number, W: number, T: number, walkers: number, steps: number, seed: number, g: number) => void;
const walkModule = new KernelModule<{ walk: WalkFn }>(() => [walkKernel()]);

/**
 * Walks a top-4 graph of up to `capacity` nodes with the WebAssembly walker: visit counts bit-identical
 * to @kvwalk/walker-cuda's `walkReference` (the walk is the contract with the CUDA kernel and is
 * unchanged; tests compare the two on random graphs and options). The graph's first numNodes nodes
 * are copied into the walker's memory per call (16 bytes per node and array).
 */
export class Walker {
  private readonly walkFn: WalkFn;
  private readonly nb: Int32Array;
  private readonly wt: Float32Array;
  private readonly counts: Uint32Array;
  private readonly off: { nb: number; wt: number; counts: number };

  constructor(readonly capacity: number) {
    if (!(Number.isInteger(capacity) && capacity >= 1 && capacity <= 1 << 24)) throw new InvalidArgumentError("capacity", "an integer in [1, 2^24]", capacity);
    const bytes = capacity * 16;
    this.off = { nb: 0, wt: bytes, counts: 2 * bytes };
    const { exports, buffer } = walkModule.instantiate(2 * bytes + capacity * 4);
    this.walkFn = exports.walk;
    this.nb = new Int32Array(buffer, this.off.nb, capacity * 4);
    this.wt = new Float32Array(buffer, this.off.wt, capacity * 4);
    this.counts = new Uint32Array(buffer, this.off.counts, capacity);
  }

  /** Visit counts [numNodes] of walkReference(graph, opts); a view valid until the next call. */
  walk(graph: GraphView, opts: WalkOptions): Uint32Array {
    const r = resolveWalkOptions(opts, graph.capacity);
    const n = r.numNodes;
    if (n > this.capacity) throw new InvalidArgumentError("numNodes", `at most ${this.capacity} (the Walker's capacity)`, n);
    const counts = this.counts.subarray(0, n);
    counts.fill(0);
    if (r.window <= 0 || r.walkers === 0 || r.steps === 0) return counts;
    this.nb.set(graph.neighbors.subarray(0, n * 4));
    this.wt.set(graph.weights.subarray(0, n * 4));
    this.walkFn(this.off.nb, this.off.wt, this.off.counts, n, r.excludeBelow, r.window, r.teleportThreshold, r.walkers, r.steps, r.seed | 0, r.graphIndex | 0);
    return counts;
  }
}

let sharedWalker: Walker | null = null;
/**
 * The thread's Walker of at least `capacity` nodes (grown as needed). Safe to share: a walk is
 * synchronous and its counts are read before the next walk.
 */
export function walkerFor(capacity: number): Walker {
  if (sharedWalker === null || sharedWalker.capacity < capacity) sharedWalker = new Walker(Math.max(capacity, sharedWalker?.capacity ?? 0));
  return sharedWalker;
}
