import type { TextTokenizer } from "../tokenizer.js";
import type { PolicySpec } from "./config.js";

/** Greedy generation after a prompt (LongBench generation; backends with `generates` only). */
export interface GenerateRequest {
  /** Most tokens to generate (the stop token, when hit, is not counted or returned). */
  maxNewTokens: number;
  /** Generation stops at the first of these ids (the model's EOS). */
  stopIds: number[];
}

/** One window to evaluate under one policy and budget. */
export interface WindowRequest {
  /** Token ids [T]; the first is BOS for every dataset here. With `generate`, the prompt. */
  tokens: Int32Array;
  policy: PolicySpec;
  /** Fraction of T in (0, 1]; 1 with policy `full`. */
  budget: number;
  /** Query positions whose next-token logits are needed (needle answers), in this order. */
  logitPositions?: number[];
  /**
   * Query positions whose NLL is needed. Absent: all of them. When given, a backend may skip the
   * others and leave NaN there (the GPU backend then copies logits off the device only at these
   * steps); the CPU simulation computes every position anyway.
   */
  nllPositions?: number[];
  /** After teacher-forcing `tokens`, generate greedily (no NLL is needed then: pass `nllPositions: []`). */
  generate?: GenerateRequest;
}

/** What a backend returns for a window. */
export interface WindowResult {
  /** Per-token NLL in nats of tokens 1..T-1 ([T-1]); entry i is predicted by query position i (NaN where not asked for). */
  nll: Float32Array;
  /** Logits [P, vocab] at `logitPositions` (row p for logitPositions[p]). */
  logits?: Float32Array;
  /** With `generate`: the generated ids (the stop token excluded) and whether a stop token ended it. */
  generated?: { ids: Int32Array; stopped: boolean };
}

/**
 * An evaluation backend: the CPU causal eviction simulation (`cpu-sim`, @kvwalk/oracle) or the GPU
 * decode engine (`gpu`). Results must not depend on the order of calls.
 */
export interface EvalBackend {
  readonly name: string;
  /** Short model name for results (the model directory's base name). */
  readonly model: string;
  readonly vocabSize: number;
  readonly tokenizer: TextTokenizer;
  /** End-of-sequence id of the model (generation stops there), if it has one. */
  readonly eosId?: number | null;
  /** Whether `generate` requests are supported (the GPU backend). */
  readonly generates?: boolean;
  run(req: WindowRequest): Promise<WindowResult>;
  /**
   * Optional batched path: several windows of the same policy, budget and length (and generation
   * settings) at once, results in request order. The runner uses it when present, in batches of
   * at most `maxBatch`.
   */
  runMany?(reqs: WindowRequest[]): Promise<WindowResult[]>;
  /** Largest batch `runMany` takes (default batch of the runner when absent). */
  readonly maxBatch?: number;
  dispose(): Promise<void>;
}
