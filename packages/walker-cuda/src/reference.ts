/**
 * The walker's semantics, written once in TypeScript: the CUDA kernel (native/kernels/walker.cuh)
 * reproduces `walkReference` bit for bit, and `expectedVisits` / `pagerankExact` are the exact
 * quantities the walk estimates.
 *
 * The walk, for one graph with `numNodes` live nodes, W = min(startWindow, numNodes - excludeBelow)
 * start nodes (the last W live nodes) and T = floor(teleport * 2^32):
 *
 *   RNG     Philox4x32-10, key (seed, 0), counter (walker, step, graphIndex, 0) -> words x0..x3.
 *           Every draw is an integer comparison on these words, so TS and CUDA agree exactly.
 *   start   counter step 0: start node = numNodes - 1 - floor(x2 * W / 2^32)  (exact 64-bit product).
 *   step s  (s = 1..steps) from node u, counter step s:
 *           - teleport when x0 < T (probability T / 2^32);
 *           - else draw the edge: walk u's 4 entries in stored order, skipping entries whose weight
 *             is not a finite number > 0, accumulating c = fround(c + w) in float32; the first entry
 *             with x1 < c * 2^32 is drawn. Weights are NOT renormalized: when they sum to less than
 *             1 (evicted neighbours after compaction), the missing mass is a dead end;
 *           - the drawn entry's neighbour v is followed when excludeBelow <= v < numNodes;
 *             no entry drawn, or any other v (-1, out of range, a sink), teleports;
 *           - a teleport goes to numNodes - 1 - floor(x2 * W / 2^32) (same rule as the start);
 *           - the node arrived at (by edge or teleport) gets one visit.
 *   So each walker records exactly `steps` visits; the start node itself is not counted.
 *   When W <= 0 (numNodes <= excludeBelow, or numNodes == 0) nothing is walked and counts are 0.
 */
import { InvalidArgumentError, expectInt, expectNumber } from "@kvwalk/core";
import type { GraphBatch, GraphView } from "@kvwalk/graph-cache";
import { mulhi32, philox4x32 } from "./philox.js";

export interface WalkOptions {
  /** Walkers per graph; default 1024. */
  walkers?: number;
  /** Steps per walker (visits recorded per walker); default 20. */
  steps?: number;
  /** Probability of jumping to a start node at each step, in [0, 1]; default 0.15. */
  teleport?: number;
  /** Nodes 0..numNodes-1 are live (the most recent token is numNodes-1); <= graph capacity. */
  numNodes: number;
  /** Start/teleport targets are uniform over the last startWindow live nodes (>= 1); default 64. */
  startWindow?: number;
  /** Nodes < excludeBelow (sinks) are never entered: an edge into them is a dead end; default 0. */
  excludeBelow?: number;
  /** uint32 key of the RNG; default 0. */
  seed?: number;
  /** Which graph of a batch (third word of the RNG counter, uint32); default 0. */
  graphIndex?: number;
}

/** Options with defaults applied and derived integer thresholds. */
export interface ResolvedWalk {
  walkers: number;
  steps: number;
  teleport: number;
  numNodes: number;
  startWindow: number;
  excludeBelow: number;
  seed: number;
  graphIndex: number;
  /** floor(teleport * 2^32), in [0, 2^32]: a step teleports when x0 < teleportThreshold. */
  teleportThreshold: number;
  /** Number of start nodes W = min(startWindow, numNodes - excludeBelow); <= 0 means no walk. */
  window: number;
}

export const DEFAULT_WALKERS = 1024;
export const DEFAULT_STEPS = 20;
export const DEFAULT_TELEPORT = 0.15;
export const DEFAULT_START_WINDOW = 64;
/** Largest walkers * steps per graph: visit counts are uint32. */
export const MAX_VISITS_PER_GRAPH = 0xffffffff;

const TWO32 = 4294967296;
/** Largest finite float32: weights above it (Infinity) or not > 0 (NaN, 0, negative) are skipped. */
const FLT_MAX = 3.4028234663852886e38;

/** floor(p * 2^32): the integer teleport threshold shared by TS and CUDA (exact in a double). */
export function teleportThreshold(p: number): number {
  return Math.min(TWO32, Math.floor(p * TWO32));
}

/** Validates options against a graph capacity and applies defaults. */
export function resolveWalkOptions(opts: WalkOptions, capacity: number): ResolvedWalk {
  if (opts == null || typeof opts !== "object") throw new InvalidArgumentError("opts", "an options object", opts);
  const walkers = expectInt("walkers", opts.walkers ?? DEFAULT_WALKERS, 0, 0x7fffffff);
  const steps = expectInt("steps", opts.steps ?? DEFAULT_STEPS, 0, 0x7fffffff);
  if (walkers * steps > MAX_VISITS_PER_GRAPH) {
    throw new InvalidArgumentError("walkers * steps", `at most ${MAX_VISITS_PER_GRAPH} (uint32 counts)`, walkers * steps);
  }
  const teleport = expectNumber("teleport", opts.teleport ?? DEFAULT_TELEPORT, 0, 1);
  const numNodes = expectInt("numNodes", opts.numNodes, 0, capacity);
  const startWindow = expectInt("startWindow", opts.startWindow ?? DEFAULT_START_WINDOW, 1, 0x7fffffff);
  const excludeBelow = expectInt("excludeBelow", opts.excludeBelow ?? 0, 0, 0x7fffffff);
  const seed = expectInt("seed", opts.seed ?? 0, 0, 0xffffffff);
  const graphIndex = expectInt("graphIndex", opts.graphIndex ?? 0, 0, 0xffffffff);
  return {
    walkers,
    steps,
    teleport,
    numNodes,
    startWindow,
    excludeBelow,
    seed,
    graphIndex,
    teleportThreshold: teleportThreshold(teleport),
    window: Math.min(startWindow, numNodes - excludeBelow),
  };
}

function checkGraph(graph: GraphView): void {
  if (graph == null || typeof graph !== "object") throw new InvalidArgumentError("graph", "a GraphView", graph);
  expectInt("graph.capacity", graph.capacity, 0, 0x7fffffff);
  if (!(graph.neighbors instanceof Int32Array) || graph.neighbors.length < graph.capacity * 4) {
    throw new InvalidArgumentError("graph.neighbors", `an Int32Array of length ${graph.capacity * 4}`, graph.neighbors);
  }
  if (!(graph.weights instanceof Float32Array) || graph.weights.length < graph.capacity * 4) {
    throw new InvalidArgumentError("graph.weights", `a Float32Array of length ${graph.capacity * 4}`, graph.weights);
  }
}

/**
 * Walks one graph whose 4 entries per node start at `nodeBase` (in entries of 4) of `neighbors` /
 * `weights`, adding visits to `counts[countBase + v]`. Shared by the single and batched walkers.
 */
function walkInto(
  neighbors: Int32Array,
  weights: Float32Array,
  nodeBase: number,
  r: ResolvedWalk,
  counts: Uint32Array,
  countBase: number,
): void {
  const W = r.window;
  if (W <= 0 || r.walkers === 0 || r.steps === 0) return;
  const last = r.numNodes - 1;
  const T = r.teleportThreshold;
  const lo = r.excludeBelow;
  const hi = r.numNodes;
  const x = new Uint32Array(4);
  for (let w = 0; w < r.walkers; w++) {
    philox4x32(w, 0, r.graphIndex, 0, r.seed, 0, x);
    let cur = last - mulhi32(x[2], W);
    for (let s = 1; s <= r.steps; s++) {
      philox4x32(w, s, r.graphIndex, 0, r.seed, 0, x);
      let next = -1;
      if (x[0] >= T) {
        const e = (nodeBase + cur) * 4;
        const x1 = x[1];
        let c = 0;
        for (let j = 0; j < 4; j++) {
          const wt = weights[e + j];
          if (!(wt > 0 && wt <= FLT_MAX)) continue;
          c = Math.fround(c + wt);
          if (x1 < c * TWO32) {
            const v = neighbors[e + j];
            if (v >= lo && v < hi) next = v;
            break;
          }
        }
      }
      cur = next >= 0 ? next : last - mulhi32(x[2], W);
      counts[countBase + cur]++;
    }
  }
}

/**
 * Reference walker with exactly the kernel's semantics and RNG (see the file comment): visit
 * counts [numNodes] (Uint32Array); they sum to walkers * steps (0 when no start node exists).
 */
export function walkReference(graph: GraphView, opts: WalkOptions): Uint32Array {
  checkGraph(graph);
  const r = resolveWalkOptions(opts, graph.capacity);
  const counts = new Uint32Array(r.numNodes);
  walkInto(graph.neighbors, graph.weights, 0, r, counts, 0);
  return counts;
}

/**
 * Options of a batched walk over a GraphBatch ([numGraphs, capacity, 4]): numNodes per graph
 * ([numGraphs], each <= capacity) or one number for all; graph g uses RNG graphIndex
 * (opts.graphIndex ?? 0) + g.
 */
export type BatchWalkOptions = Omit<WalkOptions, "numNodes"> & { numNodes: ArrayLike<number> | number };

/** Validates a batch and its per-graph node counts, naming the offending field; returns numNodes. */
export function checkBatch(batch: GraphBatch, numNodes: ArrayLike<number> | number): Int32Array {
  if (batch == null || typeof batch !== "object") throw new InvalidArgumentError("batch", "a GraphBatch", batch);
  const g = expectInt("batch.numGraphs", batch.numGraphs, 0, 0x7fffffff);
  const cap = expectInt("batch.capacity", batch.capacity, 0, 0x7fffffff);
  if (!(batch.neighbors instanceof Int32Array) || batch.neighbors.length !== g * cap * 4) {
    throw new InvalidArgumentError("batch.neighbors", `an Int32Array of length numGraphs*capacity*4 = ${g * cap * 4}`, batch.neighbors);
  }
  if (!(batch.weights instanceof Float32Array) || batch.weights.length !== g * cap * 4) {
    throw new InvalidArgumentError("batch.weights", `a Float32Array of length numGraphs*capacity*4 = ${g * cap * 4}`, batch.weights);
  }
  const out = new Int32Array(g);
  if (typeof numNodes === "number") {
    out.fill(expectInt("numNodes", numNodes, 0, cap));
    return out;
  }
  if (numNodes == null || numNodes.length !== g) throw new InvalidArgumentError("numNodes", `${g} per-graph node counts`, numNodes);
  for (let i = 0; i < g; i++) out[i] = expectInt(`numNodes[${i}]`, numNodes[i], 0, cap);
  return out;
}

/**
 * Batched reference walker (the CUDA launch's twin): counts Uint32Array [numGraphs, capacity];
 * graph g is walked like walkReference with numNodes[g] and RNG graphIndex (opts.graphIndex ?? 0) + g;
 * entries at v >= numNodes[g] stay 0.
 */
export function walkBatchReference(batch: GraphBatch, opts: BatchWalkOptions): Uint32Array {
  const numNodes = checkBatch(batch, opts?.numNodes);
  const base = expectInt("graphIndex", opts.graphIndex ?? 0, 0, 0xffffffff);
  if (base + batch.numGraphs - 1 > 0xffffffff) {
    throw new InvalidArgumentError("graphIndex", `at most ${0xffffffff - batch.numGraphs + 1} for ${batch.numGraphs} graphs`, base);
  }
  const counts = new Uint32Array(batch.numGraphs * batch.capacity);
  for (let g = 0; g < batch.numGraphs; g++) {
    const r = resolveWalkOptions({ ...opts, numNodes: numNodes[g], graphIndex: base + g }, batch.capacity);
    walkInto(batch.neighbors, batch.weights, g * batch.capacity, r, counts, g * batch.capacity);
  }
  return counts;
}

/**
 * Decayed accumulation across refreshes, in place: scores[i] = fround(fround(decay * scores[i]) +
 * fround(counts[i])) (float32 multiply then add, no fused multiply-add; the CUDA twin does the same).
 * scores and counts have the same length (e.g. [numGraphs, capacity]); decay in [0, 1].
 */
export function accumulateScores(scores: Float32Array, counts: Uint32Array, decay: number): Float32Array {
  if (!(scores instanceof Float32Array)) throw new InvalidArgumentError("scores", "a Float32Array", scores);
  if (!(counts instanceof Uint32Array) || counts.length !== scores.length) {
    throw new InvalidArgumentError("counts", `a Uint32Array of length ${scores.length}`, counts);
  }
  const d = Math.fround(expectNumber("decay", decay, 0, 1));
  for (let i = 0; i < scores.length; i++) scores[i] = Math.fround(Math.fround(d * scores[i]) + Math.fround(counts[i]));
  return scores;
}

/**
 * The walk as a Markov chain on nodes 0..numNodes-1, with the exact probabilities of the integer
 * draws (e.g. an edge with cumulative float bounds (a, b] is drawn with probability
 * (min(2^32, ceil(b*2^32)) - min(2^32, ceil(a*2^32))) / 2^32).
 */
interface Chain {
  n: number;
  /** start[v]: probability that a start or teleport lands on v. */
  start: Float64Array;
  /** P(teleport decision). */
  pTeleport: number;
  /** Per node, per entry: followed target (or -1) and probability given no teleport decision. */
  target: Int32Array;
  prob: Float64Array;
  /** Per node: probability (given no teleport decision) that the edge draw dead-ends. */
  dead: Float64Array;
}

function startDistribution(numNodes: number, W: number): Float64Array {
  const start = new Float64Array(numNodes);
  if (W <= 0) return start;
  // Offset k = floor(x * W / 2^32) is taken by x in [ceil(k 2^32 / W), ceil((k+1) 2^32 / W)).
  if (W <= 1 << 21) {
    for (let k = 0; k < W; k++) {
      const a = Math.ceil((k * TWO32) / W);
      const b = Math.ceil(((k + 1) * TWO32) / W);
      start[numNodes - 1 - k] = (b - a) / TWO32;
    }
  } else {
    const w = BigInt(W);
    const t = BigInt(TWO32);
    const ceilDiv = (p: bigint) => (p + w - 1n) / w;
    for (let k = 0; k < W; k++) {
      const a = ceilDiv(BigInt(k) * t);
      const b = ceilDiv(BigInt(k + 1) * t);
      start[numNodes - 1 - k] = Number(b - a) / TWO32;
    }
  }
  return start;
}

function buildChain(graph: GraphView, r: ResolvedWalk): Chain {
  const n = r.numNodes;
  const target = new Int32Array(n * 4).fill(-1);
  const prob = new Float64Array(n * 4);
  const dead = new Float64Array(n);
  const bound = (c: number) => Math.min(TWO32, Math.ceil(c * TWO32));
  for (let u = 0; u < n; u++) {
    let c = 0;
    let taken = 0;
    for (let j = 0; j < 4; j++) {
      const wt = graph.weights[u * 4 + j];
      if (!(wt > 0 && wt <= FLT_MAX)) continue;
      c = Math.fround(c + wt);
      const b = bound(c);
      const p = (b - taken) / TWO32;
      taken = b;
      const v = graph.neighbors[u * 4 + j];
      if (v >= r.excludeBelow && v < n) {
        target[u * 4 + j] = v;
        prob[u * 4 + j] = p;
      } else {
        dead[u] += p;
      }
    }
    dead[u] += (TWO32 - taken) / TWO32;
  }
  return { n, start: startDistribution(n, r.window), pTeleport: r.teleportThreshold / TWO32, target, prob, dead };
}

/** One step of the chain: y = x P (y is overwritten). */
function stepChain(ch: Chain, x: Float64Array, y: Float64Array): void {
  y.fill(0);
  let tele = 0;
  const keep = 1 - ch.pTeleport;
  for (let u = 0; u < ch.n; u++) {
    const m = x[u];
    if (m === 0) continue;
    const rest = m * keep;
    tele += m * ch.pTeleport + rest * ch.dead[u];
    for (let j = 0; j < 4; j++) {
      const v = ch.target[u * 4 + j];
      if (v >= 0) y[v] += rest * ch.prob[u * 4 + j];
    }
  }
  if (tele !== 0) for (let v = 0; v < ch.n; v++) y[v] += tele * ch.start[v];
}

/**
 * The walk's chain as dense matrices (for exact statistics on small graphs): transition
 * P [numNodes, numNodes] row-major (P[u*n + v] = probability of moving from u to v in one step,
 * teleports included) and the start distribution [numNodes].
 */
export function denseTransition(graph: GraphView, opts: WalkOptions): { n: number; P: Float64Array; start: Float64Array } {
  checkGraph(graph);
  const r = resolveWalkOptions(opts, graph.capacity);
  const n = r.numNodes;
  const ch = buildChain(graph, r);
  const P = new Float64Array(n * n);
  const keep = 1 - ch.pTeleport;
  for (let u = 0; u < n; u++) {
    const tele = ch.pTeleport + keep * ch.dead[u];
    for (let v = 0; v < n; v++) P[u * n + v] = tele * ch.start[v];
    for (let j = 0; j < 4; j++) {
      const v = ch.target[u * 4 + j];
      if (v >= 0) P[u * n + v] += keep * ch.prob[u * 4 + j];
    }
  }
  return { n, P, start: ch.start };
}

/**
 * Exact expectation of walkReference's counts [numNodes] (Float64Array): walkers * sum over
 * s = 1..steps of the distribution after s steps, starting from the start distribution.
 */
export function expectedVisits(graph: GraphView, opts: WalkOptions): Float64Array {
  checkGraph(graph);
  const r = resolveWalkOptions(opts, graph.capacity);
  const out = new Float64Array(r.numNodes);
  if (r.window <= 0) return out;
  const ch = buildChain(graph, r);
  let x = ch.start.slice();
  let y = new Float64Array(r.numNodes);
  for (let s = 1; s <= r.steps; s++) {
    stepChain(ch, x, y);
    for (let v = 0; v < r.numNodes; v++) out[v] += y[v];
    [x, y] = [y, x];
  }
  for (let v = 0; v < r.numNodes; v++) out[v] *= r.walkers;
  return out;
}

/** Options of pagerankExact: the walk's options plus the stopping rule. */
export type PagerankOptions = WalkOptions & {
  /** Stop when the L1 change of one iteration is below tol; default 1e-12. */
  tol?: number;
  /** At most this many iterations; default 1000. */
  maxIter?: number;
};

/**
 * Exact personalized PageRank of the walk's chain (same graph, teleport and start distribution;
 * dead ends teleport): power iteration from the start distribution, x <- x P, until the L1 change
 * is < tol or maxIter iterations. Returns the distribution [numNodes] (sums to 1; all zeros when
 * there is no start node). With teleport p the error after k iterations is <= 2 (1 - p)^k.
 */
export function pagerankExact(graph: GraphView, opts: PagerankOptions): Float64Array {
  checkGraph(graph);
  const r = resolveWalkOptions(opts, graph.capacity);
  const tol = expectNumber("tol", opts.tol ?? 1e-12, 0);
  const maxIter = expectInt("maxIter", opts.maxIter ?? 1000, 0, 0x7fffffff);
  if (r.window <= 0) return new Float64Array(r.numNodes);
  const ch = buildChain(graph, r);
  let x = ch.start.slice();
  let y = new Float64Array(r.numNodes);
  for (let it = 0; it < maxIter; it++) {
    stepChain(ch, x, y);
    let diff = 0;
    for (let v = 0; v < r.numNodes; v++) diff += Math.abs(y[v] - x[v]);
    [x, y] = [y, x];
    if (diff < tol) break;
  }
  return x;
}

/**
 * pagerankExact's distribution for a causal graph (every live edge u -> v has v <= u, as attention
 * graphs do) in one backward sweep: with keep = 1 - teleport and Q the chain's edge probabilities,
 * x = F (start + keep x Q) for the teleport flow F, so y_u (1 - keep Q_uu) = start_u + keep
 * sum_{w > u} y_w Q_wu, solved from the newest node down, and x = y / sum(y). The twin of the CUDA
 * `pagerank_causal_kernel` (same edge probabilities, pushes in increasing edge order). Throws when a
 * live edge points to a later node (not causal) or a node's only way out is itself with teleport 0.
 */
export function pagerankCausal(graph: GraphView, opts: WalkOptions): Float64Array {
  checkGraph(graph);
  const r = resolveWalkOptions(opts, graph.capacity);
  const n = r.numNodes;
  if (r.window <= 0) return new Float64Array(n);
  const ch = buildChain(graph, r);
  const keep = 1 - ch.pTeleport;
  const y = ch.start.slice();
  for (let u = n - 1; u >= r.excludeBelow; u--) {
    let self = 0;
    for (let j = 0; j < 4; j++) {
      const v = ch.target[u * 4 + j];
      if (v === u) self += ch.prob[u * 4 + j];
      else if (v > u) throw new InvalidArgumentError("graph", `a causal graph (every edge to the same or an earlier node) for pagerankCausal`, `node ${u} -> ${v}`);
    }
    const denom = 1 - keep * self;
    if (!(denom > 0)) throw new InvalidArgumentError("teleport", `> 0 for pagerankCausal when node ${u} only leads to itself`, r.teleport);
    const yu = y[u] / denom;
    y[u] = yu;
    for (let j = 0; j < 4; j++) {
      const v = ch.target[u * 4 + j];
      if (v >= 0 && v < u) y[v] += keep * yu * ch.prob[u * 4 + j];
    }
  }
  let sum = 0;
  for (let v = r.excludeBelow; v < n; v++) sum += y[v];
  const inv = sum > 0 ? 1 / sum : 0;
  const out = new Float64Array(n);
  for (let v = r.excludeBelow; v < n; v++) out[v] = y[v] * inv;
  return out;
}
