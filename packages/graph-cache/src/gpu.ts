import { BackendUnavailableError, CudaError, expectInt, expectOneOf, InvalidArgumentError } from "@kvwalk/core";
import type { GraphCacheAddon, LayoutCode } from "./addon-types.js";
import { compactGraphBatch } from "./compact.js";
import {
  type DecodeAttentionInput,
  type DecodeAttentionOutput,
  decodeAttentionReference,
  validateDecodeAttention,
} from "./decode-attention.js";
import { createGraphBatch, type GraphBatch, validateGraphBatch } from "./graph.js";
import { backendStatus, compiledAddon, cudaAddon } from "./loader.js";
import { type TopKRows, validateTopKRows, writeTopKRows } from "./topk.js";

/**
 * Device layout of the graph cache. "aos" (default): one 32-byte struct per node
 * ({int neighbors[4]; float weights[4]}), chosen by benchmark (README: one sector per random node
 * read in the walker). "soa": all neighbours, then all weights. JS always sees SoA arrays (GraphView).
 */
export type GraphLayout = "aos" | "soa";

export interface CudaOptions {
  layout?: GraphLayout;
}

/**
 * Where the decode step's graph nodes are computed. "fused": the attention kernel tracks each query
 * head's top-4 logits and writes the node in its merge. "deferred": the attention kernel (the baseline
 * kernel, its launch bound and split rule) stores every logit (4 bytes per key and query head) and the
 * final log2-sum-exp; a selection kernel then writes the nodes, on the same stream here, on a side
 * stream in the engine. Nodes are bit-identical at the same split count.
 */
export type GraphWrite = "fused" | "deferred";
const GRAPH_WRITES = ["fused", "deferred"] as const;

/** A decode shape for `decodePlan`. */
export interface DecodePlanInput {
  batch: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  /** Longest sequence of the batch (keys). */
  maxLength: number;
  /** The variant that writes the graph (its own launch bound and split rule). */
  writeGraph: boolean;
  /**
   * How the graph is written (with writeGraph): "fused" (default), "deferred" (the baseline kernel's plan)
   * or "auto" (the engine's default rule: deferred with the grouped kernel or fewer (sequence, head)
   * blocks than SMs).
   */
  graphWrite?: GraphWrite | "auto";
  /** The grouped-query kernel: "never", "possible" (whenever the shape allows) or "auto" (the engine's default). */
  grouped?: "never" | "possible" | "auto";
  /** Streaming multiprocessors (default 132, an H200). */
  smCount?: number;
}

/**
 * Which decode kernel and how many key splits the launchers (and `@kvwalk/runtime`'s engine) choose
 * for a shape: the host heuristics of `native/src/decode_attention.cu`, callable without a device
 * (needs the addon compiled with CUDA). The grouped kernel serves 2 or 4 query heads per block (head
 * dim 64 or 128); "auto" takes it from 1.5 (sequence, KV head) pairs per SM. Splits: up to one wave of
 * blocks fill the wave (7 blocks per SM, 4 with the graph, 4 for the grouped kernel); beyond, 4 waves
 * without the graph and one split with it; at least 256 keys per split.
 */
export function decodePlan(input: DecodePlanInput): { grouped: boolean; deferred: boolean; numSplits: number } {
  const addon = compiledAddon();
  if (!addon) throw new BackendUnavailableError("decodePlan", backendStatus().reason ?? "unknown reason");
  const mode = expectOneOf("grouped", input.grouped ?? "never", ["never", "possible", "auto"] as const);
  return addon.decodePlan({
    batch: expectInt("batch", input.batch, 1, 1 << 20),
    numHeads: expectInt("numHeads", input.numHeads, 1, 4096),
    numKvHeads: expectInt("numKvHeads", input.numKvHeads, 1, 4096),
    headDim: expectInt("headDim", input.headDim, 1, 4096),
    maxLength: expectInt("maxLength", input.maxLength, 1, 1 << 24),
    writeGraph: input.writeGraph ? 1 : 0,
    graphWriteMode: ({ fused: 0, deferred: 1, auto: 2 } as const)[expectOneOf("graphWrite", input.graphWrite ?? "fused", [...GRAPH_WRITES, "auto"] as const)],
    groupedMode: mode === "never" ? 0 : mode === "possible" ? 1 : 2,
    smCount: expectInt("smCount", input.smCount ?? 132, 1, 100000),
  });
}

/** Which implementation a dispatching call uses: "auto" = CUDA when available, else the TypeScript twin. */
export type Backend = "auto" | "cuda" | "typescript";

function requireAddon(feature: string): GraphCacheAddon {
  const addon = cudaAddon();
  if (!addon) throw new BackendUnavailableError(feature, backendStatus().reason ?? "unknown reason");
  return addon;
}

function layoutCode(opts: CudaOptions | undefined): LayoutCode {
  return expectOneOf("layout", opts?.layout ?? "aos", ["aos", "soa"] as const) === "aos" ? 0 : 1;
}

/** Runs a binding call, turning its CUDA failures into CudaError (kernel name + CUDA's message). */
function callNative<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const e = err as { code?: string; operation?: string; cudaMessage?: string };
    if (e && e.code === "KVWALK_CUDA") throw new CudaError(e.operation ?? "unknown", e.cudaMessage ?? String(err));
    throw err;
  }
}

/**
 * CUDA top-4 writer: like writeTopKRows (bit-identical results), on the GPU. (graphId, node) pairs
 * must be distinct (rows run in parallel). Throws BackendUnavailableError without a usable device.
 */
export function writeTopKRowsCuda(batch: GraphBatch, rows: TopKRows, opts?: CudaOptions): void {
  const addon = requireAddon("writeTopKRowsCuda");
  validateTopKRows(batch, rows);
  const seen = new Set<number>();
  for (let r = 0; r < rows.nodes.length; r++) {
    const key = rows.graphIds[r] * batch.capacity + rows.nodes[r];
    if (seen.has(key)) throw new InvalidArgumentError(`rows.nodes[${r}]`, "a (graphId, node) pair not used by an earlier row", rows.nodes[r]);
    seen.add(key);
  }
  const layout = layoutCode(opts);
  callNative(() =>
    addon.writeTopK({
      probs: rows.probs,
      n: rows.n,
      graphIds: rows.graphIds,
      nodes: rows.nodes,
      neighbors: batch.neighbors,
      weights: batch.weights,
      numGraphs: batch.numGraphs,
      capacity: batch.capacity,
      layout,
    }),
  );
}

/** CUDA compaction remap (one kernel): same contract and bit-identical results as compactGraphBatch. */
export function compactGraphBatchCuda(batch: GraphBatch, keep: Uint8Array, opts?: CudaOptions): { batch: GraphBatch; kept: Int32Array } {
  const addon = requireAddon("compactGraphBatchCuda");
  validateGraphBatch("batch", batch);
  const n = batch.numGraphs * batch.capacity;
  if (!(keep instanceof Uint8Array) || keep.length !== n) throw new InvalidArgumentError("keep", `Uint8Array of length ${n} (numGraphs x capacity)`, keep);
  const out = createGraphBatch(batch.numGraphs, batch.capacity);
  const kept = new Int32Array(batch.numGraphs);
  const layout = layoutCode(opts);
  callNative(() =>
    addon.compact({
      neighbors: batch.neighbors,
      weights: batch.weights,
      numGraphs: batch.numGraphs,
      capacity: batch.capacity,
      keep,
      layout,
      outNeighbors: out.neighbors,
      outWeights: out.weights,
      kept,
    }),
  );
  return { batch: out, kept };
}

export interface DecodeCudaOptions extends CudaOptions {
  /** Key splits (split-K); default: chosen from the SM count and the longest sequence (>= 256 keys per split). */
  numSplits?: number;
  /** Also return the output rounded to bf16 by the kernel (`outputBf16`, raw bits; what the engine feeds its next GEMM). */
  outputBf16?: boolean;
  /**
   * Launch with programmatic dependent launch (compute capability >= 9.0; ignored below): the kernel
   * requests its first K/V tile before waiting for the preceding kernel. Results are identical.
   */
  pdl?: boolean;
  /**
   * One block per KV head serving its query heads (grouped-query attention with groups of 2 or 4, head
   * dim 64 or 128), reading each K/V row once. Same results within the twin tolerances. Faster only with
   * enough (sequence, KV head) pairs to fill the GPU (H200, 32/8 heads x 4k: batch 32 yes, 1 and 8 no).
   */
  grouped?: boolean;
  /** With input.graph: how the nodes are written (see GraphWrite); default "fused". */
  graphWrite?: GraphWrite;
}

/**
 * CUDA fused decode attention (flash-decoding, split-K, bf16 K/V, float32 accumulation); with
 * input.graph the top-4 keys of each query head are written into the graph (same rule as
 * decodeAttentionReference). Results agree with the twin within the README's tolerances; graph
 * indices are identical except where logits tie within float32 rounding. Returns also the split count used.
 */
export function decodeAttentionCuda(
  input: DecodeAttentionInput,
  opts?: DecodeCudaOptions,
): DecodeAttentionOutput & { numSplits: number; outputBf16?: Uint16Array } {
  const addon = requireAddon("decodeAttentionCuda");
  validateDecodeAttention(input, true);
  const numSplits = opts?.numSplits === undefined ? 0 : expectInt("numSplits", opts.numSplits, 1, 256);
  const deferred = expectOneOf("graphWrite", opts?.graphWrite ?? "fused", GRAPH_WRITES) === "deferred";
  const perKv = input.graph !== undefined && input.graphHeads === "kv";
  if (perKv && !deferred) throw new InvalidArgumentError("graphWrite", '"deferred" when input.graphHeads is "kv" (per-KV-head nodes need every head\'s final log-sum-exp)', opts?.graphWrite ?? "fused");
  const output = new Float32Array(input.batch * input.numHeads * input.headDim);
  const lse = new Float32Array(input.batch * input.numHeads);
  const outputBf16 = opts?.outputBf16 ? new Uint16Array(output.length) : undefined;
  const r = callNative(() =>
    addon.decodeAttention({
      q: input.q,
      k: input.k,
      v: input.v,
      lengths: input.lengths,
      out: output,
      lse,
      batch: input.batch,
      numHeads: input.numHeads,
      numKvHeads: input.numKvHeads,
      headDim: input.headDim,
      kvCapacity: input.kvCapacity,
      scale: input.scale ?? 1 / Math.sqrt(input.headDim),
      numSplits,
      layout: layoutCode(opts),
      ...(input.graph
        ? { graphNeighbors: input.graph.neighbors, graphWeights: input.graph.weights, graphCapacity: input.graph.capacity }
        : {}),
      ...(input.nodes ? { nodes: input.nodes } : {}),
      ...(outputBf16 ? { outBf16: outputBf16 } : {}),
      ...(opts?.pdl ? { pdl: 1 } : {}),
      ...(opts?.grouped ? { grouped: 1 } : {}),
      ...(deferred ? { graphWrite: 1 } : {}),
      ...(perKv ? { graphGroup: input.numHeads / input.numKvHeads } : {}),
    }),
  );
  return { output, lse, numSplits: r.numSplits, ...(outputBf16 ? { outputBf16 } : {}) };
}

function useCuda(backend: Backend | undefined, feature: string): boolean {
  const b = expectOneOf("backend", backend ?? "auto", ["auto", "cuda", "typescript"] as const);
  if (b === "typescript") return false;
  if (b === "cuda") {
    requireAddon(feature);
    return true;
  }
  return backendStatus().backend === "cuda";
}

/**
 * Decode attention on the best backend: CUDA when available (backend "auto", the default), else the
 * TypeScript twin (documented fallback: same results within the stated tolerances, much slower).
 * backend "cuda" throws BackendUnavailableError instead of falling back.
 */
export function decodeAttention(input: DecodeAttentionInput, opts?: DecodeCudaOptions & { backend?: Backend }): DecodeAttentionOutput {
  return useCuda(opts?.backend, "decodeAttention") ? decodeAttentionCuda(input, opts) : decodeAttentionReference(input);
}

/** Top-4 writer on the best backend (see decodeAttention for the fallback rule). */
export function writeTopKBatch(batch: GraphBatch, rows: TopKRows, opts?: CudaOptions & { backend?: Backend }): void {
  if (useCuda(opts?.backend, "writeTopKBatch")) writeTopKRowsCuda(batch, rows, opts);
  else writeTopKRows(batch, rows);
}

/** Compaction on the best backend (see decodeAttention for the fallback rule). */
export function compactGraphs(batch: GraphBatch, keep: Uint8Array, opts?: CudaOptions & { backend?: Backend }): { batch: GraphBatch; kept: Int32Array } {
  return useCuda(opts?.backend, "compactGraphs") ? compactGraphBatchCuda(batch, keep, opts) : compactGraphBatch(batch, keep);
}
