/**
 * CUDA-vs-TypeScript cases shared by the vitest GPU suite (src/gpu/gpu.test.ts) and the plain-node
 * check (src/gpu/check.ts, also run under compute-sanitizer with `quick`). Every case returns a
 * report instead of throwing, so one failure does not hide the others.
 *
 * Tolerances: visit counts and decayed scores must be bit-identical (integer sums do not depend on
 * atomic order; the float32 accumulation is rounded identically); PageRank differs only by the order
 * of double-precision atomic adds, so 1e-5 absolute (the brief's bound) is generous; the measured
 * maximum is reported.
 */
import type { GpuCase } from "@kvwalk/core";
import { seededRandom } from "@kvwalk/core/testing";
import type { GraphBatch } from "@kvwalk/graph-cache";
import { maxSharedWalkCapacity, WalkerContext, type WalkStaging } from "../context.js";
import { accumulateScores, type BatchWalkOptions, pagerankCausal, pagerankExact, walkBatchReference } from "../reference.js";
import { causalWithSelfLoops, type GraphKind, randomBatch } from "../testing/graphs.js";

export const TOLERANCES = { counts: 0, scores: 0, pagerankAbs: 1e-5, causalAbs: 1e-12 } as const;

export type { GpuCase, MetricCaseReport as CaseReport } from "@kvwalk/core";

interface WalkShape {
  name: string;
  kind: GraphKind | "dead-ends";
  numGraphs: number;
  capacity: number;
  /** Per-graph live nodes; "full" = capacity; "mixed" = random in [0, capacity] with 0, 1 and capacity included. */
  numNodes: "full" | "mixed";
  opts: Omit<BatchWalkOptions, "numNodes">;
  quick: boolean;
}

function makeBatch(shape: WalkShape, seed: number): { batch: GraphBatch; numNodes: Int32Array } {
  const batch =
    shape.kind === "dead-ends"
      ? {
          numGraphs: shape.numGraphs,
          capacity: shape.capacity,
          neighbors: new Int32Array(shape.numGraphs * shape.capacity * 4).fill(-1),
          weights: new Float32Array(shape.numGraphs * shape.capacity * 4).fill(0.25),
        }
      : randomBatch(shape.kind, shape.numGraphs, shape.capacity, seed);
  const rnd = seededRandom(seed + 17);
  const numNodes = new Int32Array(shape.numGraphs);
  for (let g = 0; g < shape.numGraphs; g++) {
    if (shape.numNodes === "full") numNodes[g] = shape.capacity;
    else numNodes[g] = g === 0 ? 0 : g === 1 ? Math.min(1, shape.capacity) : g === 2 ? shape.capacity : Math.floor(rnd() * (shape.capacity + 1));
  }
  return { batch, numNodes };
}

function diffCounts(a: ArrayLike<number>, b: ArrayLike<number>): { mismatches: number; first: number } {
  let mismatches = 0;
  let first = -1;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) {
      mismatches++;
      if (first < 0) first = i;
    }
  }
  return { mismatches: a.length === b.length ? mismatches : Math.max(a.length, b.length), first };
}

const SHAPES: WalkShape[] = [
  { name: "uniform 1x1000", kind: "uniform", numGraphs: 1, capacity: 1000, numNodes: "full", opts: {}, quick: true },
  {
    name: "attention 8x333 mixed numNodes, sinks excluded",
    kind: "attention",
    numGraphs: 8,
    capacity: 333,
    numNodes: "mixed",
    opts: { excludeBelow: 4, walkers: 700, steps: 17, seed: 5 },
    quick: true,
  },
  {
    name: "adversarial 5x257 (bad indices, NaN/negative/Inf weights)",
    kind: "adversarial",
    numGraphs: 5,
    capacity: 257,
    numNodes: "mixed",
    opts: { teleport: 0.3, startWindow: 40, excludeBelow: 2, seed: 0xffffffff },
    quick: true,
  },
  { name: "all dead ends 3x100", kind: "dead-ends", numGraphs: 3, capacity: 100, numNodes: "full", opts: { steps: 7 }, quick: true },
  { name: "capacity 0 (3 graphs)", kind: "uniform", numGraphs: 3, capacity: 0, numNodes: "full", opts: {}, quick: true },
  { name: "capacity 1 (4 graphs)", kind: "uniform", numGraphs: 4, capacity: 1, numNodes: "mixed", opts: { walkers: 33 }, quick: true },
  { name: "excludeBelow >= numNodes", kind: "attention", numGraphs: 2, capacity: 50, numNodes: "full", opts: { excludeBelow: 50 }, quick: true },
  { name: "teleport 0, startWindow 1", kind: "attention", numGraphs: 3, capacity: 64, numNodes: "full", opts: { teleport: 0, startWindow: 1 }, quick: true },
  { name: "teleport 1", kind: "uniform", numGraphs: 2, capacity: 64, numNodes: "full", opts: { teleport: 1, walkers: 100 }, quick: true },
  {
    name: "graphIndex at the top of uint32",
    kind: "uniform",
    numGraphs: 4,
    capacity: 32,
    numNodes: "full",
    opts: { graphIndex: 2 ** 32 - 4, seed: 77 },
    quick: true,
  },
  { name: "attention 32x4096", kind: "attention", numGraphs: 32, capacity: 4096, numNodes: "mixed", opts: { excludeBelow: 4, seed: 11 }, quick: false },
  { name: "attention 256x4096 (32 layers x 8 KV heads)", kind: "attention", numGraphs: 256, capacity: 4096, numNodes: "full", opts: { excludeBelow: 4, seed: 12 }, quick: false },
  { name: "uniform 4x16384, 4096 walkers x 40 steps", kind: "uniform", numGraphs: 4, capacity: 16384, numNodes: "full", opts: { walkers: 4096, steps: 40, seed: 13 }, quick: false },
];

function walkCase(shape: WalkShape, staging: WalkStaging, seed: number): GpuCase {
  return {
    name: `counts == TS: ${shape.name} [${staging}]`,
    async run() {
      const { batch, numNodes } = makeBatch(shape, seed);
      const opts = { ...shape.opts, numNodes };
      const t0 = performance.now();
      const expected = walkBatchReference(batch, opts);
      const tsMs = performance.now() - t0;
      const ctx = WalkerContext.create(batch.numGraphs, batch.capacity);
      try {
        ctx.uploadGraphs(batch);
        await ctx.walk({ ...opts, staging });
        const got = await ctx.readCounts();
        const d = diffCounts(got, expected);
        let total = 0;
        for (const c of got) total += c;
        return {
          name: this.name,
          ok: d.mismatches === 0,
          detail: d.mismatches === 0 ? undefined : `${d.mismatches} counts differ; first at ${d.first}: cuda ${got[d.first]}, ts ${expected[d.first]}`,
          numGraphs: batch.numGraphs,
          capacity: batch.capacity,
          totalVisits: total,
          mismatches: d.mismatches,
          tsMs,
        };
      } finally {
        ctx.dispose();
      }
    },
  };
}

/** The benchmark's two-blocks-per-SM variant of "shared-counts" must count like the others. */
function twoBlockCase(shape: WalkShape, seed: number): GpuCase {
  return {
    name: `counts == TS: ${shape.name} [shared-counts, 2 blocks/SM variant]`,
    async run() {
      const { batch, numNodes } = makeBatch(shape, seed);
      const opts = { ...shape.opts, numNodes };
      const expected = walkBatchReference(batch, opts);
      const ctx = WalkerContext.create(batch.numGraphs, batch.capacity);
      try {
        ctx.uploadGraphs(batch);
        ctx.timeWalk({ ...opts, staging: "shared-counts" }, 1, "shared-counts-2");
        const got = await ctx.readCounts();
        const d = diffCounts(got, expected);
        return { name: this.name, ok: d.mismatches === 0, detail: d.mismatches ? `${d.mismatches} counts differ` : undefined, mismatches: d.mismatches };
      } finally {
        ctx.dispose();
      }
    },
  };
}

function accumulateCase(): GpuCase {
  return {
    name: "decayed scores == TS over 4 refreshes (decay 0.5), reset:false sums two walks",
    async run() {
      const shape = SHAPES[1];
      const { batch, numNodes } = makeBatch(shape, 21);
      const ctx = WalkerContext.create(batch.numGraphs, batch.capacity);
      try {
        ctx.uploadGraphs(batch);
        const scores = new Float32Array(batch.numGraphs * batch.capacity);
        for (let r = 0; r < 4; r++) {
          const opts = { numNodes, walkers: 300, steps: 9, seed: 100 + r };
          await ctx.walk({ ...opts, decay: 0.5 });
          accumulateScores(scores, walkBatchReference(batch, opts), 0.5);
        }
        const got = await ctx.readScores();
        const ds = diffCounts(new Uint32Array(got.buffer), new Uint32Array(scores.buffer));
        await ctx.walk({ numNodes, seed: 1 });
        await ctx.walk({ numNodes, seed: 2, reset: false });
        const sum = await ctx.readCounts();
        const a = walkBatchReference(batch, { numNodes, seed: 1 });
        const b = walkBatchReference(batch, { numNodes, seed: 2 });
        const expectedSum = a.map((x, i) => x + b[i]);
        const dc = diffCounts(sum, expectedSum);
        ctx.resetScores();
        const zero = await ctx.readScores();
        const zeroOk = zero.every((x) => x === 0);
        return {
          name: this.name,
          ok: ds.mismatches === 0 && dc.mismatches === 0 && zeroOk,
          detail: ds.mismatches || dc.mismatches || !zeroOk ? `score bits differ: ${ds.mismatches}; summed counts differ: ${dc.mismatches}; resetScores zeroes: ${zeroOk}` : undefined,
          scoreMismatches: ds.mismatches,
          sumMismatches: dc.mismatches,
        };
      } finally {
        ctx.dispose();
      }
    },
  };
}

function pagerankCase(shape: WalkShape, seed: number): GpuCase {
  return {
    name: `pagerank within ${TOLERANCES.pagerankAbs} of TS: ${shape.name}`,
    async run() {
      const { batch, numNodes } = makeBatch(shape, seed);
      const opts = { teleport: shape.opts.teleport, startWindow: shape.opts.startWindow, excludeBelow: shape.opts.excludeBelow };
      const ctx = WalkerContext.create(batch.numGraphs, batch.capacity);
      try {
        ctx.uploadGraphs(batch);
        const { ranks, iterations } = await ctx.pagerank({ ...opts, numNodes });
        let maxAbs = 0;
        const stride = batch.capacity * 4;
        for (let g = 0; g < batch.numGraphs; g++) {
          const view = {
            capacity: batch.capacity,
            neighbors: batch.neighbors.subarray(g * stride, (g + 1) * stride),
            weights: batch.weights.subarray(g * stride, (g + 1) * stride),
          };
          const ts = pagerankExact(view, { ...opts, numNodes: numNodes[g] });
          for (let v = 0; v < batch.capacity; v++) {
            const e = v < numNodes[g] ? ts[v] : 0;
            const d = Math.abs(ranks[g * batch.capacity + v] - e);
            if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
          }
        }
        return {
          name: this.name,
          ok: maxAbs <= TOLERANCES.pagerankAbs,
          detail: maxAbs <= TOLERANCES.pagerankAbs ? undefined : `max |cuda - ts| = ${maxAbs}`,
          maxAbsDiff: maxAbs,
          maxIterations: Math.max(0, ...iterations),
        };
      } finally {
        ctx.dispose();
      }
    },
  };
}

/**
 * The causal backward sweep (method "causal") against its TS twin pagerankCausal and against the power
 * iteration's twin pagerankExact, on causal attention graphs with self-loops (sinks excluded, mixed node
 * counts, two teleports); then a graph with an edge to a later node must be refused.
 */
function pagerankCausalCase(numGraphs: number, capacity: number, seed: number): GpuCase {
  return {
    name: `pagerank causal sweep within ${TOLERANCES.causalAbs} of TS (sweep and power iteration): ${numGraphs}x${capacity}`,
    async run() {
      const views = Array.from({ length: numGraphs }, (_, g) => causalWithSelfLoops(capacity, seed + g));
      const batch: GraphBatch = {
        numGraphs,
        capacity,
        neighbors: new Int32Array(numGraphs * capacity * 4),
        weights: new Float32Array(numGraphs * capacity * 4),
      };
      views.forEach((v, g) => {
        batch.neighbors.set(v.neighbors, g * capacity * 4);
        batch.weights.set(v.weights, g * capacity * 4);
      });
      const rnd = seededRandom(seed);
      const numNodes = Int32Array.from({ length: numGraphs }, (_, g) => (g === 0 ? capacity : g === 1 ? 0 : Math.floor(rnd() * (capacity + 1))));
      const ctx = WalkerContext.create(numGraphs, capacity);
      try {
        ctx.uploadGraphs(batch);
        let maxSweep = 0;
        let maxPower = 0;
        for (const opts of [{ excludeBelow: 4, startWindow: 64 }, { teleport: 0.4, startWindow: 7 }]) {
          const { ranks, iterations } = await ctx.pagerank({ ...opts, numNodes, method: "causal" });
          for (let g = 0; g < numGraphs; g++) {
            const twin = pagerankCausal(views[g], { ...opts, numNodes: numNodes[g] });
            const power = pagerankExact(views[g], { ...opts, numNodes: numNodes[g], tol: 1e-15, maxIter: 20000 });
            for (let v = 0; v < capacity; v++) {
              const got = ranks[g * capacity + v];
              const a = Math.abs(got - (v < numNodes[g] ? twin[v] : 0));
              const b = Math.abs(got - (v < numNodes[g] ? power[v] : 0));
              maxSweep = Number.isNaN(a) ? Number.POSITIVE_INFINITY : Math.max(maxSweep, a);
              maxPower = Number.isNaN(b) ? Number.POSITIVE_INFINITY : Math.max(maxPower, b);
            }
            if (iterations[g] < 0) throw new Error(`graph ${g} reported a non-causal edge`);
          }
        }
        // an edge to a later node: the promise must reject naming the graph
        const bad = causalWithSelfLoops(capacity, seed);
        bad.neighbors[5 * 4] = 9;
        bad.weights[5 * 4] = 0.5;
        const one = WalkerContext.create(1, capacity);
        let refused = "";
        try {
          one.uploadGraphs({ numGraphs: 1, capacity, neighbors: bad.neighbors, weights: bad.weights });
          await one.pagerank({ numNodes: capacity, method: "causal" });
        } catch (e) {
          refused = (e as Error).message;
        } finally {
          one.dispose();
        }
        const ok = maxSweep <= TOLERANCES.causalAbs && maxPower <= TOLERANCES.causalAbs && /graph 0/.test(refused);
        return { name: this.name, ok, maxAbsDiffSweep: maxSweep, maxAbsDiffPower: maxPower, refused, detail: ok ? undefined : `sweep ${maxSweep}, power ${maxPower}, refusal "${refused}"` };
      } finally {
        ctx.dispose();
      }
    },
  };
}

function interopCase(quick: boolean): GpuCase {
  return {
    name: "device-pointer graphs, events across contexts, event loop free while walking",
    async run() {
      const shape = SHAPES[1];
      const { batch, numNodes } = makeBatch(shape, 31);
      const a = WalkerContext.create(batch.numGraphs, batch.capacity);
      const b = WalkerContext.create(batch.numGraphs, batch.capacity);
      try {
        a.uploadGraphs(batch);
        const ev = a.recordEvent();
        b.waitEvent(ev);
        b.waitEvent(ev.handle);
        await b.walk({ numNodes, seed: 3, device: a.graphPointers() });
        const got = await b.readCounts();
        const d = diffCounts(got, walkBatchReference(batch, { numNodes, seed: 3 }));
        await ev.synchronize();
        const queried = ev.query();
        // A longer walk: count event-loop turns while it runs (the Promise must not block the loop).
        let ticks = 0;
        let running = true;
        const spin = () => {
          if (!running) return;
          ticks++;
          setImmediate(spin);
        };
        setImmediate(spin);
        const t0 = performance.now();
        await a.walk({ numNodes, walkers: quick ? 1 << 12 : 1 << 16, steps: quick ? 40 : 200, seed: 4 });
        const walkMs = performance.now() - t0;
        running = false;
        return {
          name: this.name,
          ok: d.mismatches === 0 && queried && ticks > 0,
          detail: d.mismatches === 0 && queried && ticks > 0 ? undefined : `device-pointer mismatches ${d.mismatches}, event done ${queried}, ticks ${ticks}`,
          deviceGraphMismatches: d.mismatches,
          eventLoopTicksDuringWalk: ticks,
          longWalkMs: walkMs,
        };
      } finally {
        a.dispose();
        b.dispose();
      }
    },
  };
}

function badInputCase(): GpuCase {
  return {
    name: "bad input throws typed errors naming the parameter; the process survives",
    async run() {
      const seen: Record<string, string> = {};
      const expectThrow = async (label: string, f: () => unknown, pattern: RegExp) => {
        try {
          await f();
          seen[label] = "NO ERROR";
        } catch (err) {
          const m = (err as Error).message;
          seen[label] = pattern.test(m) ? "ok" : `wrong message: ${m}`;
        }
      };
      const ctx = WalkerContext.create(2, 8);
      const cap = maxSharedWalkCapacity().shared;
      // The binding validates on its own too (for native callers that skip the TS layer).
      const nativeBase = { numNodes: new Int32Array([8, 8]), walkers: 1, steps: 1, teleportThreshold: 0, startWindow: 1, excludeBelow: 0, seed: 0, graphIndex: 0 };
      const native = (ctx as unknown as { native: { walk(a: object): unknown; uploadGraphs(a: unknown, b: unknown): void } }).native;
      try {
        await expectThrow("bogus device pointer", () => ctx.walk({ numNodes: 8, device: { neighbors: 4096n, weights: 4096n } }), /neighborsPtr/);
        await expectThrow("misaligned device pointer", () => ctx.walk({ numNodes: 8, device: { neighbors: 4100n, weights: 4096n } }), /neighborsPtr/);
        await expectThrow("numNodes > capacity", () => ctx.walk({ numNodes: [8, 9] }), /numNodes\[1\]/);
        await expectThrow("numNodes wrong length", () => ctx.walk({ numNodes: [8] }), /numNodes/);
        await expectThrow("walkers * steps overflow", () => ctx.walk({ numNodes: 8, walkers: 2 ** 20, steps: 2 ** 13 }), /walkers \* steps/);
        await expectThrow("staging", () => ctx.walk({ numNodes: 8, staging: "texture" as "global" }), /staging/);
        await expectThrow("binding: staging", () => native.walk({ ...nativeBase, staging: "texture" }), /staging/);
        await expectThrow("binding: numNodes dtype", () => native.walk({ ...nativeBase, numNodes: new Float32Array(2) }), /numNodes/);
        await expectThrow("binding: numNodes range", () => native.walk({ ...nativeBase, numNodes: new Int32Array([8, -1]) }), /numNodes\[1\]/);
        await expectThrow("binding: teleportThreshold", () => native.walk({ ...nativeBase, teleportThreshold: 2 ** 33 }), /teleportThreshold/);
        await expectThrow("binding: graph length", () => native.uploadGraphs(new Int32Array(3), new Float32Array(64)), /neighbors/);
        const big = WalkerContext.create(1, cap + 1);
        await expectThrow("shared staging too large", () => big.walk({ numNodes: 1, staging: "shared" }), /staging/);
        big.dispose();
        const d = WalkerContext.create(1, 4);
        d.dispose();
        await expectThrow("disposed context", () => d.walk({ numNodes: 4 }), /disposed/);
        // The context still works after all of the above.
        await ctx.walk({ numNodes: 8 });
        const counts = await ctx.readCounts();
        const total = counts.reduce((x, y) => x + y, 0);
        const ok = Object.values(seen).every((v) => v === "ok") && total === 2 * 1024 * 20;
        return { name: this.name, ok, detail: ok ? undefined : JSON.stringify({ seen, total }), errors: seen };
      } finally {
        ctx.dispose();
      }
    },
  };
}

/** All cases; quick = the small ones (for compute-sanitizer runs). */
export function allCases(quick: boolean): GpuCase[] {
  const cases: GpuCase[] = [];
  const cap = maxSharedWalkCapacity();
  SHAPES.forEach((shape, i) => {
    if (quick && !shape.quick) return;
    cases.push(walkCase(shape, "global", 1000 + i));
    if (shape.capacity <= cap.shared) cases.push(walkCase(shape, "shared", 1000 + i));
    if (shape.capacity <= cap.sharedCounts) cases.push(walkCase(shape, "shared-counts", 1000 + i));
  });
  for (const i of quick ? [1, 2] : [1, 2, 11, 12]) cases.push(twoBlockCase(SHAPES[i], 1000 + i));
  cases.push(accumulateCase());
  for (const i of quick ? [1, 2, 3] : [1, 2, 3, 10]) cases.push(pagerankCase(SHAPES[i], 2000 + i));
  cases.push(pagerankCausalCase(6, 333, 3000));
  if (!quick) cases.push(pagerankCausalCase(4, 4096, 3100));
  cases.push(interopCase(quick));
  cases.push(badInputCase());
  return cases;
}
