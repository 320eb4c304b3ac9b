import type { BaseAddon } from "@kvwalk/core";

/** Walk settings as the binding takes them (already validated and resolved by src/context.ts). */
export interface NativeWalkArgs {
  /** [numGraphs] live nodes per graph. */
  numNodes: Int32Array;
  walkers: number;
  steps: number;
  /** floor(teleport * 2^32), in [0, 2^32]. */
  teleportThreshold: number;
  startWindow: number;
  excludeBelow: number;
  seed: number;
  /** RNG graph index of graph 0 of the batch. */
  graphIndex: number;
  /** Zero the counts before walking (default true). */
  reset?: boolean;
  /** "global" (default), "shared" (graph + histogram in shared memory) or "shared-counts" (histogram only). */
  staging?: "global" | "shared" | "shared-counts";
  /** When set: scores = decay * scores + counts after the walk. */
  decay?: number;
  /** External device graphs (BigInt addresses of [numGraphs, capacity, 4] int32 / float32, 16-byte aligned). */
  neighborsPtr?: bigint;
  weightsPtr?: bigint;
}

export interface NativePagerankArgs {
  numNodes: Int32Array;
  teleportThreshold: number;
  startWindow: number;
  excludeBelow: number;
  tol: number;
  maxIter: number;
  /** 0 power iteration, 1 the causal backward sweep */
  method: 0 | 1;
  neighborsPtr?: bigint;
  weightsPtr?: bigint;
}

/** A cudaEvent_t recorded on a context's stream. */
export interface NativeWalkerEvent {
  /** True when the work before the event has completed. */
  query(): boolean;
  /** Resolves when the event has completed (waits off the JavaScript thread). */
  synchronize(): Promise<void>;
  /** The cudaEvent_t as a BigInt, for other native code in this process. */
  handle(): bigint;
}

/** Device buffers of a batch of graphs and a private non-blocking CUDA stream. */
export interface NativeWalkerContext {
  uploadGraphs(neighbors: Int32Array, weights: Float32Array): void;
  walk(args: NativeWalkArgs): Promise<void>;
  readCounts(): Promise<Uint32Array>;
  readScores(): Promise<Float32Array>;
  resetScores(): void;
  pagerank(args: NativePagerankArgs): Promise<{ ranks: Float64Array; iterations: Int32Array }>;
  recordEvent(): NativeWalkerEvent;
  waitEvent(event: NativeWalkerEvent | bigint): void;
  synchronize(): Promise<void>;
  streamHandle(): bigint;
  /**
   * Blocking benchmark helper: per-launch kernel times (ms) from CUDA events. mode 0 = the walk,
   * 1 = RNG + atomics without graph loads, 2 = RNG only (probes of what bounds the walk).
   */
  timeWalk(args: NativeWalkArgs, repeats: number, mode?: number): Float64Array;
  /** BigInt device addresses of the context's graph buffers ([numGraphs, capacity, 4]). */
  graphPointers(): { neighbors: bigint; weights: bigint };
  dispose(): void;
}

/** The contract of build/Release/walker.node (see native/binding/addon.cc). */
export interface WalkerAddon extends BaseAddon {
  /** Host build of native/kernels/philox.cuh (present in CPU-only builds too). */
  philox4x32(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number): Uint32Array;
  /** Present when CUDA was compiled. */
  WalkerContext?: new (numGraphs: number, capacity: number) => NativeWalkerContext;
  /**
   * Same-run hardware baselines (CUDA events, ms per repeat): device-to-device copies of `bytes`, empty
   * kernel launches, and one thread chasing `chaseLoads` dependent loads through a `bytes` buffer.
   */
  benchBaselines?(bytes: number, repeats: number, chaseLoads: number): { memcpyMs: Float64Array; emptyKernelMs: Float64Array; chaseMs: Float64Array };
  /** Largest capacity each block-per-graph staging fits on this device. */
  maxSharedWalkCapacity?(): { shared: number; sharedCounts: number };
}
