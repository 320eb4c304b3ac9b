import type { BaseAddon } from "@kvwalk/core";

/** Model dimensions the native engine is created with (see native/src/engine.h, ModelShape). */
export interface NativeShape {
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  intermediate: number;
  vocab: number;
  maxPositions: number;
  ropeTheta: number;
  rmsEps: number;
  /** 0 = none. */
  slidingWindow: number;
  tiedEmbeddings: boolean;
}

export interface NativeOptions {
  maxBatch: number;
  capacity: number;
  maxPrefillTokens: number;
  maxLogitRows: number;
  graph: boolean;
  profile: boolean;
  /** Replay decode steps as CUDA graphs (default true; off while profiling). */
  cudaGraphs: boolean;
  /** Record CUDA events around decode steps, walker refreshes and compactions (timeline()). */
  timeline?: boolean;
  /** 0 auto, 1 built-in kernels, 2 cuBLAS (loaded at run time). */
  gemm: 0 | 1 | 2;
  /** Decode steps of at most this many sequences use the fused GEMV kernels; 0 = never. Default 1, at most 8. */
  gemvRows?: number;
  /** K slices of the O and down projections in decode steps of 2..64 rows: -1 auto, 0 off, 2..8 forced. */
  gemmSplitK?: number;
  /** Decode attention through the grouped-query kernel (groups of 2 or 4): 0 never, 1 where allowed, 2 auto (default). */
  groupedDecode?: 0 | 1 | 2;
  /** How decode steps write the graph cache: 0 fused in the attention kernel, 1 deferred (selection on a side stream), 2 auto (default), 3 lazy (batched from stored queries). */
  graphWrite?: 0 | 1 | 2 | 3;
  /** Graphs per (layer, sequence): 1 one per KV head (default; group-summed probabilities), 0 one per query head. */
  graphHeads?: 0 | 1;
  /** Decode stream at the highest stream priority, the walker's at the lowest (default false). */
  streamPriorities?: boolean;
  /**
   * Score the prompt during prefill (graph nodes when the graph cache exists, H2O / TOVA scores): what
   * decode steps over the prompt would have written. Default: on for policies h2o, tova and walker.
   */
  scorePrompt?: boolean;
  evict?: NativeEvictOptions;
}

/** Live eviction (native/src/engine.h, EvictOptions). policy: 0 none, 1 streaming, 2 h2o, 3 tova, 4 walker, 5 pagerank-top4. */
export interface NativeEvictOptions {
  policy: 0 | 1 | 2 | 3 | 4 | 5;
  budget: number;
  sinks?: number;
  recent?: number;
  refresh?: number;
  walkers?: number;
  steps?: number;
  startWindow?: number;
  seed?: number;
  teleport?: number;
  scoreDecay?: number;
  h2oDecay?: number;
}

export interface NativeEvictStats {
  compactions: number;
  evictedSlots: number;
  /** Walker refreshes (pagerank-top4: exact PageRank rankings); walkerMs their GPU time. */
  walkerLaunches: number;
  walkerMs: number;
  compactionMs: number;
}

/** Weight kinds of `NativeEngine.upload` (native/src/engine.h, WeightKind). */
export const WEIGHT_KIND = { embed: 0, lmHead: 1, finalNorm: 2, attnNorm: 3, mlpNorm: 4, wqkv: 5, wo: 6, wgu: 7, wdown: 8 } as const;

export interface NativeEngine {
  upload(kind: number, layer: number, rowOffset: number, rows: number, cols: number, data: Float32Array | Uint16Array): void;
  randomize(seed: number, amplitude: number): void;
  /** Prefill prompts tokens[offsets[i]..offsets[i+1]) into regions[i]; logits of each last token [n, vocab]. */
  prefill(regions: Int32Array, tokens: Int32Array, offsets: Int32Array, allLogits: boolean): Promise<{ last: Float32Array; all?: Float32Array }>;
  /** One decode step of regions 0..B-1. */
  decode(
    tokens: Int32Array,
    temperature: Float32Array,
    topP: Float32Array,
    seed: number,
    wantLogits: boolean,
  ): Promise<{ next: Int32Array; logprob: Float32Array; logits?: Float32Array }>;
  /**
   * One mixed step: sequences 0..B-1 (tokens [B]) decode one token while `prompt` is prefilled into
   * region B, sharing the weight passes; with `promptOffsets` (n + 1 strictly increasing offsets from 0 to
   * prompt.length) n prompts are prefilled into regions B..B+n-1. temperature/topP [B + n]; next/logprob
   * [B + n] (the last n are the new sequences' first tokens); logits [B + n, vocab] when asked. It equals a
   * decode step of the B sequences followed by a prefill of the prompts, with eviction on too (compaction,
   * attention mass, graph nodes or the lazy write's query rows, walker refresh).
   */
  mixed(
    tokens: Int32Array,
    prompt: Int32Array,
    temperature: Float32Array,
    topP: Float32Array,
    seed: number,
    wantLogits: boolean,
    promptOffsets?: Int32Array,
  ): Promise<{ next: Int32Array; logprob: Float32Array; logits?: Float32Array }>;
  reset(region: number): void;
  setLength(region: number, length: number): void;
  lengths(): Int32Array;
  fillCacheRandom(seed: number): void;
  info(): {
    gemm: string;
    /** Decode steps of up to this many sequences use the fused GEMV kernels (0: none). */
    gemvRows: number;
    /** K slices of the O and down projections in a 32-row decode step (1: not split). */
    gemmSplitK: { o: number; down: number };
    weightBytes: number;
    kvBytes: number;
    graphBytes: number;
    activationBytes: number;
    deviceFreeBytes: number;
    deviceTotalBytes: number;
    steps: number;
  };
  takeTimes(): { gemmMs: number; attentionMs: number; otherMs: number; steps: number };
  /** Eviction counters (synchronizes both streams to read the event timings). */
  evictStats(): NativeEvictStats;
  /** Timeline since the last call: kind 0 decode step, 1 walker refresh, 2 compaction; ms since the first event. */
  timeline(): { kind: Int32Array; start: Float64Array; end: Float64Array };
  /** Next position of each region (differs from its length once something was evicted). */
  positions(): Int32Array;
  /**
   * Debug/test accessor (synchronizes the device): a copy of one (layer, region) slice of the eviction
   * state. graph: int32 [H, capacity, 8] (per node 4 neighbour slots, -1 invalid, then the 4 float32
   * weights as bit patterns; a cleared node is all -1), null without the graph cache; scores: f32
   * [KVH, capacity], null unless a scored policy (h2o, tova, walker) is on.
   */
  /** One (layer, region) slice: graph [graphHeads x capacity x 8] ints (per KV head by default), scores [KVH x capacity]. */
  debugEvictionState(layer: number, region: number): { graph: Int32Array | null; scores: Float32Array | null };
  dispose(): void;
}

export interface EngineAddon extends BaseAddon {
  memInfo(): { free: number; total: number };
  Engine: new (shape: NativeShape, options: NativeOptions) => NativeEngine;
}
