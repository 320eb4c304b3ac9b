import { InvalidArgumentError } from "@kvwalk/core";
import type { CacheState } from "./policy.js";
import { Code, type FunctionDef, KernelModule } from "./wasm-builder.js";

/**
 * The live attention graph of one (layer, KV head) as a packed lower-triangular matrix, for the exact
 * PageRank policies (pagerank-dense, pagerank-undirected), with their inner loops as WebAssembly SIMD
 * kernels.
 *
 * Why a dense triangle: a token j that is still cached at step t was cached at every step in
 * between (evicted tokens never return), so every live query u > j recorded an edge u -> j. The
 * graph restricted to the live tokens is therefore a complete lower triangle (a weight is 0 only
 * when its probability underflowed or fell under `epsilon`), and storing it as one packed float32
 * triangle in token order (row c = node c's edges to nodes 0..c-1, then its self-loop at column c)
 * replaces the per-row key arrays by contiguous rows that the kernels stream.
 *
 * Nodes are tokens in position order. A token becomes a node when its row is recorded (or when a
 * refresh needs it as a node before that); an evicted token stays in the triangle as a dead node
 * (its row skipped, its column read as weight x 0 or written into an unused slot) until `compact`
 * squeezes the dead nodes out in place. Capacity: live tokens + dead ones not yet compacted.
 */

// Kernel locals: params first, then the extra locals listed in each FunctionDef.
function symKernel(): FunctionDef {
  // sym(tri, n, f, y, live): for every live node c (rows in order), y[c] = f[c] w_cc + sum_{j<c} w_cj f[j],
  // then y[j] += f[c] w_cj for j < c: y = (L + L^T - diag(L)) f over the live nodes, with f = 0 on
  // dead nodes. y of dead nodes is garbage.
  const [tri, n, f, y, live, c, j, row, half, p, fc, d, w, acc, fc2, w2] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
  const b = new Code();
  b.get(tri).set(row);
  b.block().loop();
  b.get(c).get(n).i32GeS().brIf(1);
  b.get(live).get(c).i32(2).i32Shl().i32Add().i32Load().if();
  b.get(f).get(c).i32(3).i32Shl().i32Add().f64Load().tee(fc).f64x2Splat().set(fc2);
  b.f64(0).f64x2Splat().set(acc);
  b.get(c).i32(-2).i32And().set(half);
  b.i32(0).set(j);
  b.block().loop();
  b.get(j).get(half).i32GeS().brIf(1);
  b.get(row).get(j).i32(2).i32Shl().i32Add().v128Load64Zero().f64x2PromoteLowF32x4().set(w2);
  b.get(acc).get(w2).get(f).get(j).i32(3).i32Shl().i32Add().v128Load().f64x2Mul().f64x2Add().set(acc);
  b.get(y).get(j).i32(3).i32Shl().i32Add().tee(p);
  b.get(p).v128Load().get(fc2).get(w2).f64x2Mul().f64x2Add().v128Store();
  b.get(j).i32(2).i32Add().set(j);
  b.br(0).end().end();
  b.get(acc).f64x2ExtractLane(0).get(acc).f64x2ExtractLane(1).f64Add().set(d);
  b.get(c).i32(1).i32And().if();
  b.get(row).get(half).i32(2).i32Shl().i32Add().f32Load().f64PromoteF32().set(w);
  b.get(d).get(w).get(f).get(half).i32(3).i32Shl().i32Add().f64Load().f64Mul().f64Add().set(d);
  b.get(y).get(half).i32(3).i32Shl().i32Add().tee(p);
  b.get(p).f64Load().get(fc).get(w).f64Mul().f64Add().f64Store();
  b.end();
  b.get(y).get(c).i32(3).i32Shl().i32Add();
  b.get(fc).get(row).get(c).i32(2).i32Shl().i32Add().f32Load().f64PromoteF32().f64Mul().get(d).f64Add().f64Store();
  b.end(); // if live
  b.get(row).get(c).i32(1).i32Add().i32(2).i32Shl().i32Add().set(row);
  b.get(c).i32(1).i32Add().set(c);
  b.br(0).end().end();
  return { name: "sym", params: ["i32", "i32", "i32", "i32", "i32"], results: [], locals: ["i32", "i32", "i32", "i32", "i32", "f64", "f64", "f64", "v128", "v128", "v128"], body: b };
}

function sweepKernel(): FunctionDef {
  // sweep(tri, n, x, live, follow) -> sum: the causal backward sweep of personalizedPageRankCausal
  // on the live nodes, newest first: z_c = x[c] / (1 - follow w_cc), then x[j] += follow z_c w_cj for
  // j < c, x[c] = z_c; returns sum of z over live nodes (in sweep order). Same float64 operations
  // in the same order per element as the sparse sweep, so bit-identical.
  const [tri, n, x, live, follow, c, j, row, half, p, zc, fv, sum, f2] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
  const b = new Code();
  b.get(n).set(c);
  b.block().loop();
  b.get(c).i32Eqz().brIf(1);
  b.get(c).i32(1).i32Sub().set(c);
  b.get(live).get(c).i32(2).i32Shl().i32Add().i32Load().if();
  b.get(tri).get(c).get(c).i32(1).i32Add().i32Mul().i32(1).i32ShrU().i32(2).i32Shl().i32Add().set(row);
  b.get(x).get(c).i32(3).i32Shl().i32Add().f64Load();
  b.f64(1).get(follow).get(row).get(c).i32(2).i32Shl().i32Add().f32Load().f64PromoteF32().f64Mul().f64Sub();
  b.f64Div().set(zc);
  b.get(follow).get(zc).f64Mul().tee(fv).f64(0).f64Ne().if();
  b.get(fv).f64x2Splat().set(f2);
  b.get(c).i32(-2).i32And().set(half);
  b.i32(0).set(j);
  b.block().loop();
  b.get(j).get(half).i32GeS().brIf(1);
  b.get(x).get(j).i32(3).i32Shl().i32Add().tee(p);
  b.get(p).v128Load().get(f2).get(row).get(j).i32(2).i32Shl().i32Add().v128Load64Zero().f64x2PromoteLowF32x4().f64x2Mul().f64x2Add().v128Store();
  b.get(j).i32(2).i32Add().set(j);
  b.br(0).end().end();
  b.get(c).i32(1).i32And().if();
  b.get(x).get(half).i32(3).i32Shl().i32Add().tee(p);
  b.get(p).f64Load().get(fv).get(row).get(half).i32(2).i32Shl().i32Add().f32Load().f64PromoteF32().f64Mul().f64Add().f64Store();
  b.end();
  b.end(); // if fv != 0
  b.get(x).get(c).i32(3).i32Shl().i32Add().get(zc).f64Store();
  b.get(sum).get(zc).f64Add().set(sum);
  b.end(); // if live
  b.br(0).end().end();
  b.get(sum);
  return { name: "sweep", params: ["i32", "i32", "i32", "i32", "f64"], results: ["f64"], locals: ["i32", "i32", "i32", "i32", "i32", "f64", "f64", "f64", "v128"], body: b };
}

function compactKernel(): FunctionDef {
  // compact(tri, start, count, map): in place, row r (r = start..count-1) becomes old row map[r]
  // restricted to the old columns map[0..r-1], then its self-loop; map strictly increasing with
  // map[r] = r for r < start, so every read is at or after every earlier write.
  const [tri, start, count, map, r, a, j, src, dst] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const b = new Code();
  b.get(start).set(r);
  b.block().loop();
  b.get(r).get(count).i32GeS().brIf(1);
  b.get(map).get(r).i32(2).i32Shl().i32Add().i32Load().set(a);
  b.get(tri).get(a).get(a).i32(1).i32Add().i32Mul().i32(1).i32ShrU().i32(2).i32Shl().i32Add().set(src);
  b.get(tri).get(r).get(r).i32(1).i32Add().i32Mul().i32(1).i32ShrU().i32(2).i32Shl().i32Add().set(dst);
  b.i32(0).set(j);
  b.block().loop();
  b.get(j).get(r).i32GeS().brIf(1);
  b.get(dst).get(j).i32(2).i32Shl().i32Add();
  b.get(src).get(map).get(j).i32(2).i32Shl().i32Add().i32Load().i32(2).i32Shl().i32Add().i32Load();
  b.i32Store();
  b.get(j).i32(1).i32Add().set(j);
  b.br(0).end().end();
  b.get(dst).get(r).i32(2).i32Shl().i32Add().get(src).get(a).i32(2).i32Shl().i32Add().i32Load().i32Store();
  b.get(r).i32(1).i32Add().set(r);
  b.br(0).end().end();
  return { name: "compact", params: ["i32", "i32", "i32", "i32"], results: [], locals: ["i32", "i32", "i32", "i32", "i32"], body: b };
}

interface Kernels {
  sym(tri: number, n: number, f: number, y: number, live: number): void;
  sweep(tri: number, n: number, x: number, live: number, follow: number): number;
  compact(tri: number, start: number, count: number, map: number): void;
}

const triangleModule = new KernelModule<Kernels>(() => [symKernel(), sweepKernel(), compactKernel()]);

/** Largest node capacity of a TriangleGraph (packed float32 triangle of 512 MiB); policies fall back to sparse rows above it. */
export const MAX_TRIANGLE_NODES = 16384;

/** Whether a policy over `length` tokens uses a TriangleGraph (it may grow up to `length` nodes). */
export function triangleFits(length: number): boolean {
  return length <= MAX_TRIANGLE_NODES;
}

const align16 = (n: number) => (n + 15) & ~15;

/** Dead nodes tolerated before `refresh`-time compaction (and at least this fraction of the nodes). */
export const COMPACT_MIN_DEAD = 16;
export const COMPACT_DEAD_FRACTION = 0.125;

/**
 * A packed lower-triangular float32 attention graph over token positions with WebAssembly kernels.
 * Node vectors (x, y, f, mask) are float64 arrays indexed by node, shared with the kernels.
 */
export class TriangleGraph {
  /** Node index -> token position (ascending). */
  nodes: Int32Array;
  /** Token position -> node index, -1 when not a node. */
  index: Int32Array;
  /** Nodes in the triangle (live and dead). */
  count = 0;
  /** Dead nodes among them. */
  dead = 0;
  /** Float32Array [capacity (capacity + 1) / 2]: row c (c + 1 weights, self-loop last) at rowStart(c). */
  tri: Float32Array;
  /** Int32Array [capacity]: 1 for live nodes, 0 for dead ones. */
  live: Int32Array;
  /** Float64Array [capacity] node vectors shared with the kernels (sweep: x; sym: y = W f). */
  x: Float64Array;
  y: Float64Array;
  f: Float64Array;
  /** Int32Array [capacity]: compaction map (new node -> old node). */
  private map: Int32Array;
  private kernels: Kernels;
  private off: { tri: number; live: number; x: number; y: number; f: number; map: number };

  /** Nodes the memory holds (live + dead); grows on demand. */
  capacity: number;

  /** `capacity`: most nodes at once (live + dead; grows on demand); `length`: token positions 0..length-1. */
  constructor(capacity: number, length: number) {
    this.capacity = 0;
    this.nodes = new Int32Array(0);
    this.tri = new Float32Array(0);
    this.live = new Int32Array(0);
    this.x = new Float64Array(0);
    this.y = new Float64Array(0);
    this.f = new Float64Array(0);
    this.map = new Int32Array(0);
    this.kernels = null as unknown as Kernels;
    this.off = { tri: 0, live: 0, x: 0, y: 0, f: 0, map: 0 };
    this.allocate(capacity);
    this.index = new Int32Array(length).fill(-1);
  }

  /** (Re)allocates the memory for `capacity` nodes, keeping the current nodes and rows. */
  private allocate(capacity: number): void {
    if (!(Number.isInteger(capacity) && capacity >= 1 && capacity <= MAX_TRIANGLE_NODES)) {
      throw new InvalidArgumentError("capacity", `an integer in [1, ${MAX_TRIANGLE_NODES}]`, capacity);
    }
    const triBytes = align16(((capacity * (capacity + 1)) / 2) * 4 + 8);
    const vec = align16(capacity * 8 + 16);
    const ivec = align16(capacity * 4 + 16);
    let at = 0;
    const take = (bytes: number) => {
      const o = at;
      at += bytes;
      return o;
    };
    const off = { tri: take(triBytes), x: take(vec), y: take(vec), f: take(vec), live: take(ivec), map: take(ivec) };
    const { exports, buffer: buf } = triangleModule.instantiate(at);
    const tri = new Float32Array(buf, off.tri, (capacity * (capacity + 1)) / 2);
    const live = new Int32Array(buf, off.live, capacity);
    const nodes = new Int32Array(capacity);
    tri.set(this.tri.subarray(0, TriangleGraph.rowStart(this.count)));
    live.set(this.live.subarray(0, this.count));
    nodes.set(this.nodes.subarray(0, this.count));
    this.kernels = exports;
    this.off = off;
    this.tri = tri;
    this.live = live;
    this.nodes = nodes;
    this.x = new Float64Array(buf, off.x, capacity);
    this.y = new Float64Array(buf, off.y, capacity);
    this.f = new Float64Array(buf, off.f, capacity);
    this.map = new Int32Array(buf, off.map, capacity);
    this.capacity = capacity;
  }

  /** Empties the graph for a new sequence of `length` tokens (the memory is reused). */
  reset(length: number): void {
    if (this.index.length < length) this.index = new Int32Array(length);
    this.index.fill(-1, 0, length);
    this.count = 0;
    this.dead = 0;
  }

  /** Offset of row c in `tri` (its self-loop is at rowStart(c) + c). */
  static rowStart(c: number): number {
    return (c * (c + 1)) / 2;
  }

  /** Adds token `pos` (larger than every node) as a live node with an empty row; returns its index. */
  addNode(pos: number): number {
    if (this.count >= this.capacity && this.dead > 0) this.compact();
    // Only when a policy observes more rows than its budget without evicting (the retrospective oracle).
    if (this.count >= this.capacity) this.allocate(Math.min(MAX_TRIANGLE_NODES, Math.max(this.capacity + 1, Math.ceil(this.capacity * 1.5))));
    const c = this.count;
    if (c > 0 && this.nodes[c - 1] >= pos) throw new InvalidArgumentError("pos", `a position > ${this.nodes[c - 1]}`, pos);
    this.nodes[c] = pos;
    this.index[pos] = c;
    this.live[c] = 1;
    const start = TriangleGraph.rowStart(c);
    this.tri.fill(0, start, start + c + 1);
    this.count = c + 1;
    return c;
  }

  /** Node index of `pos`, adding it when it is not a node yet. */
  nodeOf(pos: number): number {
    const c = this.index[pos];
    return c >= 0 ? c : this.addNode(pos);
  }

  /** Marks token `pos` dead (evicted); no-op when it is not a node. */
  kill(pos: number): void {
    const c = this.index[pos];
    if (c < 0 || this.live[c] === 0) return;
    this.live[c] = 0;
    this.index[pos] = -1;
    this.dead++;
  }

  /** Squeezes dead nodes out (in place) when there are more than max(COMPACT_MIN_DEAD, fraction x count). */
  maybeCompact(): void {
    if (this.dead > Math.max(COMPACT_MIN_DEAD, COMPACT_DEAD_FRACTION * this.count)) this.compact();
  }

  /** Removes every dead node, keeping the live ones in order. */
  compact(): void {
    if (this.dead === 0) return;
    const map = this.map;
    let k = 0;
    let start = -1;
    for (let c = 0; c < this.count; c++) {
      if (this.live[c] === 0) continue;
      if (start < 0 && c !== k) start = k;
      map[k] = c;
      k++;
    }
    if (start < 0) start = k;
    this.kernels.compact(this.off.tri, start, k, this.off.map);
    for (let r = 0; r < k; r++) {
      const pos = this.nodes[map[r]];
      this.nodes[r] = pos;
      this.index[pos] = r;
      this.live[r] = 1;
    }
    this.count = k;
    this.dead = 0;
  }

  /** y = S f (S = L + L^T - diag(L), the undirected weights) on live nodes; f must be 0 on dead nodes. */
  sym(): void {
    this.kernels.sym(this.off.tri, this.count, this.off.f, this.off.y, this.off.live);
  }

  /** The causal backward sweep over live nodes on x (see the kernel); returns the sum of z. */
  sweep(follow: number): number {
    return this.kernels.sweep(this.off.tri, this.count, this.off.x, this.off.live, follow);
  }
}

/**
 * Node capacity a policy needs: the live tokens (at most min(length, budget + 1) at a refresh) plus
 * dead ones awaiting compaction (the compaction threshold plus the evictions between two refreshes).
 * `addNode` compacts early if it ever runs out.
 */
export function triangleCapacity(length: number, budget: number, refreshEvery: number): number {
  const live = Math.min(length, budget + 1);
  return Math.min(length, live + Math.ceil(Math.max(COMPACT_MIN_DEAD, COMPACT_DEAD_FRACTION * live)) + Math.min(refreshEvery, 64) + 2);
}

// Graphs of ended sequences, reused: a fresh WebAssembly memory is zero pages that fault in on
// first touch (~13 us per 4 KiB page on the development VM, 35 ms for a 50%-budget triangle), while
// a reused one is already mapped. At most POOL_SIZE kept per thread.
const pool: TriangleGraph[] = [];
const POOL_SIZE = 4;

/** A TriangleGraph of at least `capacity` nodes for `length` positions, from the pool when one fits. */
export function acquireTriangle(capacity: number, length: number): TriangleGraph {
  let best = -1;
  for (let i = 0; i < pool.length; i++) {
    if (pool[i].capacity >= capacity && (best < 0 || pool[i].capacity < pool[best].capacity)) best = i;
  }
  if (best < 0) return new TriangleGraph(capacity, length);
  const [g] = pool.splice(best, 1);
  g.reset(length);
  return g;
}

/** Returns a graph to the pool (the caller must not use it afterwards). */
export function releaseTriangle(g: TriangleGraph): void {
  if (pool.length < POOL_SIZE) pool.push(g);
  else {
    // Keep the largest ones.
    let min = 0;
    for (let i = 1; i < pool.length; i++) if (pool[i].capacity < pool[min].capacity) min = i;
    if (pool[min].capacity < g.capacity) pool[min] = g;
  }
}

/**
 * A policy's triangle, acquired from the pool on first use (`get`) and returned by `release` (the
 * policies' endGraph): shared by the exact PageRank policies.
 */
export class TriangleHolder {
  tg: TriangleGraph | null = null;

  get(length: number, budget: number, refreshEvery: number): TriangleGraph {
    this.tg ??= acquireTriangle(triangleCapacity(length, budget, refreshEvery), length);
    return this.tg;
  }

  release(): void {
    if (this.tg !== null) releaseTriangle(this.tg);
    this.tg = null;
  }
}

/**
 * Writes query t's attention row into its triangle row: the weights of the cached keys from cache
 * index `from` on, normalized over the whole row (sum of probs); a key enters when its normalized
 * weight is >= epsilon and positive. Stored values are the normalized weights, or the raw
 * probabilities with `normalized` false (the undirected graph keeps A[t, j] itself). Returns false
 * (nothing written) for a row without mass.
 */
export function writeTriangleRow(
  tg: TriangleGraph,
  t: number,
  cache: CacheState,
  probs: Float64Array,
  from: number,
  normalized: boolean,
  epsilon: number,
): boolean {
  const row = TriangleGraph.rowStart(tg.nodeOf(t));
  const n = cache.size;
  const tokens = cache.tokens;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += probs[i];
  if (!(sum > 0)) return false;
  const inv = 1 / sum;
  const tri = tg.tri;
  const index = tg.index;
  for (let i = from; i < n; i++) {
    const p = probs[i];
    if (p * inv >= epsilon && p > 0) tri[row + index[tokens[i]]] = normalized ? p * inv : p;
  }
  return true;
}
