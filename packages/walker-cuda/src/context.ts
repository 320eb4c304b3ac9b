/**
 * The CUDA walker: a WalkerContext owns the device buffers of one batch shape ([numGraphs, capacity])
 * and a private non-blocking CUDA stream. Every call enqueues work on that stream and returns at once;
 * Promises settle when the stream reaches the work (an AsyncWorker waits on a blocking-sync CUDA
 * event off the JavaScript thread), so the event loop and other streams (a decode step) proceed.
 *
 * Ordering against other GPU work: `recordEvent()` marks the stream's current position (give its
 * `handle()` to native code that calls cudaStreamWaitEvent), and `waitEvent(e)` makes the walker's
 * stream wait for an event recorded elsewhere (e.g. after KV compaction rewrote the graphs).
 */
import { BackendUnavailableError, CudaError, InvalidArgumentError, expectInt, expectNumber } from "@kvwalk/core";
import type { GraphBatch } from "@kvwalk/graph-cache";
import type { NativePagerankArgs, NativeWalkArgs, NativeWalkerContext, NativeWalkerEvent } from "./addon-types.js";
import { backendStatus, cudaAddon } from "./loader.js";
import { type BatchWalkOptions, checkBatch, type PagerankOptions, resolveWalkOptions, teleportThreshold, walkBatchReference } from "./reference.js";

/** Device graphs owned by other native code (e.g. the graph cache): BigInt device addresses. */
export interface DeviceGraphs {
  /** int32 [numGraphs, capacity, 4], 16-byte aligned. */
  neighbors: bigint;
  /** float32 [numGraphs, capacity, 4], 16-byte aligned. */
  weights: bigint;
}

/** Options of one batched walk on the device. */
export type DeviceWalkOptions = BatchWalkOptions & {
  /** Zero the counts first (default true); false adds this walk's visits to the previous counts. */
  reset?: boolean;
  /** When set, after the walk: scores = decay * scores + counts (float32, per node), decay in [0, 1]. */
  decay?: number;
  /** Walk these device graphs instead of the context's uploaded ones. */
  device?: DeviceGraphs;
  /** Kernel variant (all give identical counts); default "auto" (see resolveStaging). */
  staging?: WalkStaging;
};

/**
 * Kernel variants of the walk:
 * - "global": one thread per (graph, walker), graph read through the read-only cache, visits counted
 *   with global atomics (best for a few graphs: it spreads one graph's walkers over many SMs);
 * - "shared": one block per graph; the graph and a visit histogram live in shared memory, no global
 *   atomics (capacity <= maxSharedWalkCapacity().shared, about 6.4k nodes on an H100/H200);
 * - "shared-counts": one block per graph; histogram in shared memory, graph read from global memory
 *   (capacity <= maxSharedWalkCapacity().sharedCounts, about 58k nodes);
 * - "auto": resolveStaging(numGraphs, capacity).
 */
export type WalkStaging = "auto" | "global" | "shared" | "shared-counts";

/**
 * Batches with at least this many graphs use the block-per-graph walker under "auto" (H200 sweep,
 * bench/results/walker-cuda-bench.json: global wins up to 16-32 graphs, block-per-graph from 64).
 */
export const AUTO_BLOCK_PER_GRAPH_MIN_GRAPHS = 48;

/**
 * The variant "auto" picks: "shared-counts" (measured faster than "shared" at every shape) for
 * batches of at least AUTO_BLOCK_PER_GRAPH_MIN_GRAPHS graphs that fit, else "global".
 */
export function resolveStaging(numGraphs: number, capacity: number): Exclude<WalkStaging, "auto"> {
  if (numGraphs >= AUTO_BLOCK_PER_GRAPH_MIN_GRAPHS && capacity <= maxSharedWalkCapacity().sharedCounts) return "shared-counts";
  return "global";
}

/** Options of the batched exact PageRank on the device. */
export type DevicePagerankOptions = Omit<PagerankOptions, "numNodes" | "walkers" | "steps" | "seed" | "graphIndex"> & {
  numNodes: ArrayLike<number> | number;
  device?: DeviceGraphs;
  /**
   * "power" (default): power iteration, pagerankExact's twin. "causal": one backward sweep per graph
   * (pagerankCausal's twin; graphs whose every live edge points to the same or an earlier node, teleport
   * > 0; iterations 1). A graph that is not causal rejects the promise naming it.
   */
  method?: "power" | "causal";
};

/** A point on a context's stream. */
export class WalkerEvent {
  /** @internal */
  readonly native: NativeWalkerEvent;
  /** @internal */
  constructor(native: NativeWalkerEvent) {
    this.native = native;
  }
  /** True when all work enqueued before the event has completed. */
  query(): boolean {
    return wrapCuda(() => this.native.query());
  }
  /** Resolves when the event has completed. */
  synchronize(): Promise<void> {
    return wrapCudaAsync(() => this.native.synchronize());
  }
  /** The cudaEvent_t as a BigInt (valid while this object is alive). */
  get handle(): bigint {
    return this.native.handle();
  }
}

function toCudaError(err: unknown): unknown {
  const e = err as { code?: string; operation?: string; cudaMessage?: string; message?: string };
  if (e && e.code === "KVWALK_CUDA" && typeof e.operation === "string") return new CudaError(e.operation, e.cudaMessage ?? e.message ?? "");
  return err;
}

function wrapCuda<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    throw toCudaError(err);
  }
}

async function wrapCudaAsync<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    throw toCudaError(err);
  }
}

function numNodesArray(numNodes: ArrayLike<number> | number, numGraphs: number, capacity: number): Int32Array {
  const out = new Int32Array(numGraphs);
  if (typeof numNodes === "number") {
    out.fill(expectInt("numNodes", numNodes, 0, capacity));
    return out;
  }
  if (numNodes == null || numNodes.length !== numGraphs) throw new InvalidArgumentError("numNodes", `${numGraphs} per-graph node counts`, numNodes);
  for (let g = 0; g < numGraphs; g++) out[g] = expectInt(`numNodes[${g}]`, numNodes[g], 0, capacity);
  return out;
}

function deviceArgs(device: DeviceGraphs | undefined): { neighborsPtr?: bigint; weightsPtr?: bigint } {
  if (device === undefined) return {};
  if (device == null || typeof device.neighbors !== "bigint" || typeof device.weights !== "bigint") {
    throw new InvalidArgumentError("device", "{ neighbors: bigint, weights: bigint } device addresses", device);
  }
  return { neighborsPtr: device.neighbors, weightsPtr: device.weights };
}

export class WalkerContext {
  readonly numGraphs: number;
  readonly capacity: number;
  private readonly native: NativeWalkerContext;
  /** Reads share one pinned staging buffer per kind, so they are serialized. */
  private readChain: Promise<unknown> = Promise.resolve();

  private constructor(native: NativeWalkerContext, numGraphs: number, capacity: number) {
    this.native = native;
    this.numGraphs = numGraphs;
    this.capacity = capacity;
  }

  /** Allocates device buffers for `numGraphs` graphs of `capacity` nodes (all empty: -1 / 0). */
  static create(numGraphs: number, capacity: number): WalkerContext {
    const addon = cudaAddon();
    if (!addon?.WalkerContext) throw new BackendUnavailableError("WalkerContext", backendStatus().reason ?? "the addon has no CUDA");
    expectInt("numGraphs", numGraphs, 0, 2 ** 24);
    expectInt("capacity", capacity, 0, 2 ** 28);
    if (numGraphs * capacity * 4 > 2 ** 31 - 1) {
      throw new InvalidArgumentError("numGraphs * capacity * 4", "at most 2^31 - 1 entries", numGraphs * capacity * 4);
    }
    const Ctor = addon.WalkerContext;
    return new WalkerContext(
      wrapCuda(() => new Ctor(numGraphs, capacity)),
      numGraphs,
      capacity,
    );
  }

  /** Copies a host batch ([numGraphs, capacity, 4]) to the device, in stream order. */
  uploadGraphs(batch: GraphBatch): void {
    checkBatch(batch, 0);
    if (batch.numGraphs !== this.numGraphs || batch.capacity !== this.capacity) {
      throw new InvalidArgumentError("batch", `numGraphs ${this.numGraphs} and capacity ${this.capacity}`, `numGraphs ${batch.numGraphs}, capacity ${batch.capacity}`);
    }
    wrapCuda(() => this.native.uploadGraphs(batch.neighbors, batch.weights));
  }

  private walkArgs(opts: DeviceWalkOptions): NativeWalkArgs {
    if (opts == null || typeof opts !== "object") throw new InvalidArgumentError("opts", "an options object", opts);
    const numNodes = numNodesArray(opts.numNodes, this.numGraphs, this.capacity);
    const r = resolveWalkOptions({ ...opts, numNodes: 0 }, this.capacity);
    if (this.numGraphs > 0 && r.graphIndex + this.numGraphs - 1 > 0xffffffff) {
      throw new InvalidArgumentError("graphIndex", `at most ${2 ** 32 - this.numGraphs}`, r.graphIndex);
    }
    if (opts.reset !== undefined && typeof opts.reset !== "boolean") throw new InvalidArgumentError("reset", "a boolean", opts.reset);
    const args: NativeWalkArgs = {
      numNodes,
      walkers: r.walkers,
      steps: r.steps,
      teleportThreshold: r.teleportThreshold,
      startWindow: r.startWindow,
      excludeBelow: r.excludeBelow,
      seed: r.seed,
      graphIndex: r.graphIndex,
      reset: opts.reset ?? true,
      ...deviceArgs(opts.device),
    };
    const staging = opts.staging ?? "auto";
    if (!["auto", "global", "shared", "shared-counts"].includes(staging)) {
      throw new InvalidArgumentError("staging", 'one of "auto", "global", "shared", "shared-counts"', staging);
    }
    const resolved = staging === "auto" ? resolveStaging(this.numGraphs, this.capacity) : staging;
    if (resolved !== "global") {
      const max = resolved === "shared" ? maxSharedWalkCapacity().shared : maxSharedWalkCapacity().sharedCounts;
      if (this.capacity > max) {
        throw new InvalidArgumentError("staging", `"global" ("${resolved}" needs capacity <= ${max}, capacity is ${this.capacity})`, staging);
      }
    }
    args.staging = resolved;
    if (opts.decay !== undefined) args.decay = expectNumber("decay", opts.decay, 0, 1);
    return args;
  }

  /**
   * Walks every graph of the batch in one launch (graph g: numNodes[g], RNG graphIndex + g), adding
   * visits to the device counts [numGraphs, capacity] (zeroed first unless reset: false), then
   * optionally folds them into the decayed scores. Resolves when the walk has completed.
   */
  walk(opts: DeviceWalkOptions): Promise<void> {
    const args = this.walkArgs(opts);
    return wrapCudaAsync(() => this.native.walk(args));
  }

  private serialized<T>(f: () => Promise<T>): Promise<T> {
    const run = this.readChain.then(f, f);
    this.readChain = run.catch(() => undefined);
    return run;
  }

  /** The device counts [numGraphs, capacity] after all work enqueued so far. */
  readCounts(): Promise<Uint32Array> {
    return this.serialized(() => wrapCudaAsync(() => this.native.readCounts()));
  }

  /** The decayed scores [numGraphs, capacity] (float32) after all work enqueued so far. */
  readScores(): Promise<Float32Array> {
    return this.serialized(() => wrapCudaAsync(() => this.native.readScores()));
  }

  /** Zeroes the decayed scores (in stream order). */
  resetScores(): void {
    wrapCuda(() => this.native.resetScores());
  }

  /**
   * Exact personalized PageRank of every graph (the chain of pagerankExact, one thread block per
   * graph): ranks Float64Array [numGraphs, capacity] (0 beyond numNodes[g]) and the iterations run.
   */
  pagerank(opts: DevicePagerankOptions): Promise<{ ranks: Float64Array; iterations: Int32Array }> {
    if (opts == null || typeof opts !== "object") throw new InvalidArgumentError("opts", "an options object", opts);
    const numNodes = numNodesArray(opts.numNodes, this.numGraphs, this.capacity);
    const r = resolveWalkOptions({ ...opts, numNodes: 0 }, this.capacity);
    const args: NativePagerankArgs = {
      numNodes,
      teleportThreshold: teleportThreshold(r.teleport),
      startWindow: r.startWindow,
      excludeBelow: r.excludeBelow,
      tol: expectNumber("tol", opts.tol ?? 1e-12, 0),
      maxIter: expectInt("maxIter", opts.maxIter ?? 1000, 0, 0x7fffffff),
      method: opts.method === undefined || opts.method === "power" ? 0 : opts.method === "causal" ? 1 : expectMethod(opts.method),
      ...deviceArgs(opts.device),
    };
    if (args.method === 1 && !(r.teleport > 0)) throw new InvalidArgumentError("teleport", 'a number in (0, 1] for method "causal"', r.teleport);
    return this.serialized(async () => {
      const out = await wrapCudaAsync(() => this.native.pagerank(args));
      const bad = out.iterations.indexOf(-1);
      if (bad >= 0) throw new InvalidArgumentError(`graph ${bad}`, 'a causal graph (every live edge to the same or an earlier node) for method "causal"', "an edge to a later node");
      return out;
    });
  }

  /** Records an event at the stream's current position. */
  recordEvent(): WalkerEvent {
    return new WalkerEvent(wrapCuda(() => this.native.recordEvent()));
  }

  /** Makes later work on this stream wait for `event` (a WalkerEvent or a foreign cudaEvent_t BigInt). */
  waitEvent(event: WalkerEvent | bigint): void {
    if (!(event instanceof WalkerEvent) && typeof event !== "bigint") throw new InvalidArgumentError("event", "a WalkerEvent or a cudaEvent_t BigInt", event);
    const e = event instanceof WalkerEvent ? event.native : event;
    wrapCuda(() => this.native.waitEvent(e));
  }

  /** Resolves when everything enqueued so far has completed. */
  synchronize(): Promise<void> {
    return wrapCudaAsync(() => this.native.synchronize());
  }

  /** The cudaStream_t as a BigInt, for native code in this process that wants to enqueue behind the walker. */
  get streamHandle(): bigint {
    return wrapCuda(() => this.native.streamHandle());
  }

  /**
   * Benchmark helper (blocks): `repeats` walk launches timed with CUDA events, ms each. probe:
   * "walk" (default), "no-graph" (RNG + atomics, no graph loads), "rng-only" (these two need
   * staging "global"), "shared-counts-2" (staging "shared-counts" compiled for two blocks per SM).
   * The counts of the timed launches accumulate (zeroed once before the first).
   */
  timeWalk(opts: DeviceWalkOptions, repeats: number, probe: "walk" | "no-graph" | "rng-only" | "shared-counts-2" = "walk"): Float64Array {
    const args = this.walkArgs(opts);
    expectInt("repeats", repeats, 1, 100000);
    const mode = ["walk", "no-graph", "rng-only", "shared-counts-2"].indexOf(probe);
    if (mode < 0) throw new InvalidArgumentError("probe", 'one of "walk", "no-graph", "rng-only", "shared-counts-2"', probe);
    return wrapCuda(() => this.native.timeWalk(args, repeats, mode));
  }

  /**
   * BigInt device addresses of this context's graph buffers (int32 / float32 [numGraphs, capacity, 4]),
   * for native code that writes the graphs in place, or as `device` of another context's walk.
   */
  graphPointers(): DeviceGraphs {
    return wrapCuda(() => this.native.graphPointers());
  }

  /** Waits for the stream and frees the device buffers; later calls throw. */
  dispose(): void {
    this.native.dispose();
  }
}

/** Largest capacity each block-per-graph staging fits on this device (0 without CUDA). */
export function maxSharedWalkCapacity(): { shared: number; sharedCounts: number } {
  return cudaAddon()?.maxSharedWalkCapacity?.() ?? { shared: 0, sharedCounts: 0 };
}

/**
 * Walks a host batch and returns its counts [numGraphs, capacity]: on the GPU when CUDA is usable
 * (upload, walk, read back through a temporary context), else with the TypeScript twin. Both give
 * the same counts for the same options.
 */
export async function walkBatch(batch: GraphBatch, opts: BatchWalkOptions): Promise<Uint32Array> {
  if (!cudaAddon()?.WalkerContext) return walkBatchReference(batch, opts);
  checkBatch(batch, opts.numNodes);
  const ctx = WalkerContext.create(batch.numGraphs, batch.capacity);
  try {
    ctx.uploadGraphs(batch);
    await ctx.walk(opts);
    return await ctx.readCounts();
  } finally {
    ctx.dispose();
  }
}

function expectMethod(v: unknown): never {
  throw new InvalidArgumentError("method", '"power" or "causal"', v);
}
