import { basename } from "node:path";
import { InvalidArgumentError } from "@kvwalk/core";
import { type LayerStepper, type LoadedModel, loadModel } from "@kvwalk/model";
import { causalPass } from "@kvwalk/oracle";
import { createPolicy, queryHeadsOf, simulateHead } from "@kvwalk/runtime";
import { type StreamTrace, TracingPolicy } from "../traces/tracing-policy.js";
import type { EvalBackend, WindowRequest, WindowResult } from "./backend.js";
import { numericOptions } from "./config.js";

/** What a traced pass recorded: per layer, per KV head, the tracked tokens' scores, ranks and eviction steps. */
export interface PassTrace {
  policy: string;
  budget: number;
  /** streams[layer][kvHead] */
  streams: StreamTrace[][];
}

interface CaptureRequest {
  positions?: number[];
  trace?: { positions: number[]; every: number; policy: string; budget: number; options: Record<string, number> };
}

/**
 * A LoadedModel that forwards everything to `inner` and, on the stepper it hands out:
 * - adds `positions` to `finish()` and keeps the logits there (the oracle's causal pass asks only
 *   for the NLL);
 * - for traces, replays the policy on the very logits the pass fetched, one KV-head group at a
 *   time, through a TracingPolicy, and checks at `attend` that the replay evicted exactly as the
 *   pass did (same logits, options and stream id give the same decisions).
 */
class CapturingModel implements LoadedModel {
  logits: Float32Array | undefined;
  readonly streams: StreamTrace[][] = [];
  constructor(
    private readonly inner: LoadedModel,
    private readonly req: CaptureRequest,
  ) {}
  get config() {
    return this.inner.config;
  }
  get dir() {
    return this.inner.dir;
  }
  get tokenizer() {
    return this.inner.tokenizer;
  }
  forward(tokens: Int32Array, opts?: { positions?: number[]; captureAttention?: number[] }) {
    return this.inner.forward(tokens, opts);
  }
  dispose(): Promise<void> {
    return Promise.resolve();
  }

  async stepper(tokens: Int32Array): Promise<LayerStepper> {
    const st = await this.inner.stepper(tokens);
    const cfg = this.inner.config;
    const T = tokens.length;
    const nKv = cfg.numKvHeads;
    const trace = this.req.trace;
    const positions = this.req.positions;
    let pending = new Map<number, Float32Array>();
    let layerStreams: StreamTrace[] = [];
    let replayEvict: Int32Array | null = null;
    const self = this;
    const groupOf = (h: number) => Math.floor(h / (cfg.numHeads / nKv));
    return {
      get length() {
        return st.length;
      },
      get layer() {
        return st.layer;
      },
      qkv: () => st.qkv(),
      async logits(head: number) {
        const l = await st.logits(head);
        if (trace) {
          pending.set(head, l);
          const kvh = groupOf(head);
          const heads = queryHeadsOf(kvh, cfg.numHeads, nKv);
          if (heads.every((h) => pending.has(h))) {
            const tp = new TracingPolicy(createPolicy(trace.policy, { ...trace.options, budget: trace.budget }), trace.positions, trace.every);
            const r = simulateHead(
              tp,
              heads.map((h) => pending.get(h)!),
              T,
              st.layer * nKv + kvh,
            );
            if (!replayEvict) replayEvict = new Int32Array(nKv * T).fill(T);
            replayEvict.set(r.evict, kvh * T);
            layerStreams[kvh] = tp.result();
            for (const h of heads) pending.delete(h);
          }
        }
        return l;
      },
      async attend(evict?: Int32Array, opts?: { captureHeads?: number[] }) {
        if (trace) {
          if (evict && replayEvict) {
            for (let i = 0; i < evict.length; i++) {
              if (evict[i] !== replayEvict[i]) {
                throw new Error(`trace replay of ${trace.policy} diverged from the pass at layer ${st.layer}, KV head ${Math.floor(i / T)}, key ${i % T}`);
              }
            }
          } else if (evict) {
            // Policies that read no attention (streaming, random): eviction times only, from the pass.
            layerStreams = Array.from({ length: nKv }, (_, h) => ({
              positions: trace.positions.slice(),
              evictedAt: trace.positions.map((p) => evict[h * T + p]),
              steps: [],
              rank: null,
              score: null,
              candidates: [],
            }));
          }
          self.streams.push(layerStreams);
          layerStreams = [];
          replayEvict = null;
          pending = new Map();
        }
        return st.attend(evict, opts);
      },
      async finish(opts?: { positions?: number[] }) {
        const r = await st.finish(positions ? { ...opts, positions } : opts);
        self.logits = r.logits;
        return r;
      },
    };
  }
}

/** The `cpu-sim` backend with a trace method for needle traces. */
export interface CpuSimBackend extends EvalBackend {
  /** Runs one window like `run` and also traces the tokens at `positions` in every layer and KV head. */
  trace(req: WindowRequest, positions: number[], every: number): Promise<WindowResult & { trace: PassTrace }>;
}

/**
 * The `cpu-sim` backend: @kvwalk/oracle's causal pass (`causalPass`: per layer, the policy simulated
 * per KV head on the scaled q.k logits, then attention with the resulting eviction times) over
 * @kvwalk/model's CPU forward.
 */
export async function openCpuSimBackend(modelDir: string, opts: { threads?: number } = {}): Promise<CpuSimBackend> {
  const model = await loadModel(modelDir, opts.threads ? { threads: opts.threads } : {});
  return cpuSimBackend(model, basename(modelDir));
}

/** The backend over an already loaded model (tests use @kvwalk/oracle's fake model). */
export function cpuSimBackend(model: LoadedModel, name: string): CpuSimBackend {
  const run = async (req: WindowRequest, capture: CaptureRequest) => {
    if (req.tokens.length < 2) throw new InvalidArgumentError("tokens", "at least 2 tokens", req.tokens.length);
    const cm = new CapturingModel(model, capture);
    const budget = req.policy.name === "full" ? 1 : req.budget;
    const r = await causalPass(cm, req.tokens, req.policy.name, budget, numericOptions(req.policy.options, "policy.options"));
    return { nll: r.nll, logits: cm.logits, streams: cm.streams };
  };
  return {
    name: "cpu-sim",
    model: name,
    vocabSize: model.config.vocabSize,
    tokenizer: model.tokenizer,
    async run(req) {
      const r = await run(req, { positions: req.logitPositions });
      return { nll: r.nll, logits: r.logits };
    },
    async trace(req, positions, every) {
      const r = await run(req, {
        positions: req.logitPositions,
        trace: { positions, every, policy: req.policy.name, budget: req.policy.name === "full" ? 1 : req.budget, options: numericOptions(req.policy.options, "policy.options") },
      });
      return { nll: r.nll, logits: r.logits, trace: { policy: req.policy.label ?? req.policy.name, budget: req.budget, streams: r.streams } };
    },
    dispose: () => model.dispose(),
  };
}
