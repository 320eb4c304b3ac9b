import type { TextTokenizer } from "../tokenizer.js";
import type { PolicySpec } from "./config.js";

/** One window to evaluate under one policy and budget. */
export interface WindowRequest {
  /** Token ids [T]; the first is BOS for every dataset here. */
  tokens: Int32Array;
  policy: PolicySpec;
  /** Fraction of T in (0, 1]; 1 with policy `full`. */
  budget: number;
  /** Query positions whose next-token logits are needed (needle answers), in this order. */
  logitPositions?: number[];
}

/** What a backend returns for a window. */
export interface WindowResult {
  /** Per-token NLL in nats of tokens 1..T-1 ([T-1]); entry i is predicted by query position i. */
  nll: Float32Array;
  /** Logits [P, vocab] at `logitPositions` (row p for logitPositions[p]). */
  logits?: Float32Array;
}

/**
 * An evaluation backend: the CPU causal eviction simulation (`cpu-sim`, @kvwalk/oracle) or the GPU
 * decode engine (`gpu`). One window at a time; results must not depend on the order of calls.
 */
export interface EvalBackend {
  readonly name: string;
  /** Short model name for results (the model directory's base name). */
  readonly model: string;
  readonly vocabSize: number;
  readonly tokenizer: TextTokenizer;
  run(req: WindowRequest): Promise<WindowResult>;
  dispose(): Promise<void>;
}
