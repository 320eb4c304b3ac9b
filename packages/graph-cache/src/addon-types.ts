import type { BaseAddon } from "@kvwalk/core";

/** Device layout code: 0 = AoS (32-byte node structs), 1 = SoA (all neighbours, then all weights). */
export type LayoutCode = 0 | 1;

/** Arguments of the binding's writeTopK; neighbors/weights ([numGraphs, capacity, 4]) are updated in place. */
export interface NativeTopKArgs {
  probs: Float32Array;
  n: number;
  graphIds: Int32Array;
  nodes: Int32Array;
  neighbors: Int32Array;
  weights: Float32Array;
  numGraphs: number;
  capacity: number;
  layout: LayoutCode;
}

/** Arguments of the binding's compact; results land in outNeighbors/outWeights/kept. */
export interface NativeCompactArgs {
  neighbors: Int32Array;
  weights: Float32Array;
  numGraphs: number;
  capacity: number;
  keep: Uint8Array;
  layout: LayoutCode;
  outNeighbors: Int32Array;
  outWeights: Float32Array;
  kept: Int32Array;
}

/** Arguments of the binding's decodeAttention (shapes as in DecodeAttentionInput); out/lse/graph updated in place. */
export interface NativeDecodeArgs {
  q: Float32Array;
  k: Uint16Array;
  v: Uint16Array;
  lengths: Int32Array;
  out: Float32Array;
  lse: Float32Array;
  batch: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  kvCapacity: number;
  scale: number;
  /** 0 = choose from the SM count and the longest sequence. */
  numSplits: number;
  layout: LayoutCode;
  graphNeighbors?: Int32Array;
  graphWeights?: Float32Array;
  graphCapacity?: number;
  nodes?: Int32Array;
  /**
   * With a graph: 0 = fused (the attention kernel tracks the top-4 and writes the node), 1 = deferred (the
   * attention kernel stores its logits, a selection kernel writes the node; bit-identical at the same split count).
   */
  graphWrite?: 0 | 1;
  /**
   * Query heads per graph: 1 (default, a graph per query head) or numHeads / numKvHeads (a graph per KV
   * head from the group's summed probabilities; deferred write only).
   */
  graphGroup?: number;
  /** Filled with the output rounded to bf16 (raw bits) when given. */
  outBf16?: Uint16Array;
  /** 1: programmatic dependent launch. */
  pdl?: 0 | 1;
  /** 1 = the grouped kernel (one block per KV head; groups of 2 or 4 query heads, head dim 64 or 128). */
  grouped?: 0 | 1;
}

export type BenchKind = "decode" | "memcpy" | "compact" | "gather" | "topk";

export interface BenchSessionInfo {
  id: number;
  /** Bytes one launch must move (K+V+q+out for decode; read+write for memcpy). */
  bytes: number;
  numSplits: number;
  operation: string;
}

/** The contract of build/Release/graph_cache.node (see native/binding/addon.cc). */
export interface GraphCacheAddon extends BaseAddon {
  writeTopK(args: NativeTopKArgs): void;
  compact(args: NativeCompactArgs): void;
  decodeAttention(args: NativeDecodeArgs): { numSplits: number };
  /** The launch plan of the decode kernels (host heuristics; works without a device). */
  decodePlan(args: {
    batch: number;
    numHeads: number;
    numKvHeads: number;
    headDim: number;
    maxLength: number;
    writeGraph: 0 | 1;
    groupedMode: 0 | 1 | 2;
    /** 0 fused (default), 1 deferred, 2 auto (the engine's rule). */
    graphWriteMode?: 0 | 1 | 2;
    smCount: number;
  }): { grouped: boolean; deferred: boolean; numSplits: number };
  /** Allocates device-resident synthetic inputs for one benchmark case. */
  benchCreate(kind: BenchKind, opts: Record<string, number>): BenchSessionInfo;
  /** Milliseconds per launch, CUDA events around `launches` back-to-back launches (synchronizes). */
  benchRun(id: number, launches: number): number;
  benchDestroy(id: number): void;
}
