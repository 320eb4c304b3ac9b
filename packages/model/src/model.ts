import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { InvalidArgumentError, KvwalkError } from "@kvwalk/core";
import ort from "onnxruntime-node";
import { Checkpoint } from "./checkpoint/checkpoint.js";
import { loadConfig, type ModelConfig } from "./config.js";
import {
  ATTENTION_BLOCKS,
  attentionBlockBounds,
  buildAttentionGraph,
  buildBlockedAttentionGraph,
  buildBlockedScoresGraph,
  buildFinalGraph,
  buildHeadLogitsGraph,
  buildPostGraph,
  buildQkvGraph,
  buildScoresAttentionGraph,
} from "./graphs.js";
import { ropeTables } from "./rope.js";
import { loadTokenizer, type Tokenizer } from "./tokenizer.js";
import { loadWeights, type ModelWeights } from "./weights.js";

/** A model ready to run: config, tokenizer and the CPU forward. */
export interface LoadedModel {
  config: ModelConfig;
  dir: string;
  tokenizer: Tokenizer;
  /**
   * Full-cache forward (with the model's sliding window, if any): logits [T, vocab] (or [P, vocab]
   * at `positions`, in that order), per-token NLL of tokens 1..T-1 ([T-1], natural log), and the
   * attention probabilities [numHeads, T, T] of each layer in `captureAttention`.
   */
  forward(
    tokens: Int32Array,
    opts?: { positions?: number[]; captureAttention?: number[] },
  ): Promise<{ logits: Float32Array; nll: Float32Array; attention?: Map<number, Float32Array> }>;
  /** Layer-stepped forward for studies. */
  stepper(tokens: Int32Array): Promise<LayerStepper>;
  dispose(): Promise<void>;
}

/**
 * Causally blocked scaled logits of one query head (what the blocked attention computes): query rows
 * are cut into blocks [bounds[i], bounds[i+1]) and block i holds the logits of its rows against keys
 * [0, bounds[i+1]): `blocks[i]` is Float32Array [bounds[i+1] - bounds[i], bounds[i+1]], entry (t, j)
 * at (t - bounds[i]) * bounds[i+1] + j. Only entries j <= t are meaningful (no mask is applied);
 * they equal `logits(head)` bit for bit.
 */
export interface ScoreBlocks {
  /** Int32Array [blocks + 1]: 0 = bounds[0] < ... < bounds[blocks] = T. */
  bounds: Int32Array;
  blocks: Float32Array[];
}

/**
 * Walks the layers of one sequence. At most one layer's q/k/v and attention are alive at a time.
 * Returned arrays are owned by the caller but q/k/v are shared with the stepper (do not modify).
 */
export interface LayerStepper {
  /** T */
  readonly length: number;
  /** Index of the layer whose q/k/v are current (0..numLayers-1); numLayers when done. */
  readonly layer: number;
  /** Post-RoPE queries [numHeads, T, headDim], keys [numKvHeads, T, headDim], values [numKvHeads, T, headDim]. */
  qkv(): Promise<{ q: Float32Array; k: Float32Array; v: Float32Array }>;
  /** Scaled logits q.k/sqrt(headDim) of query head `head`: [T, T], row t = query t, -Infinity for j > t (no sliding window). */
  logits(head: number): Promise<Float32Array>;
  /**
   * The same logits in causal blocks (ScoreBlocks; 56% of the work and memory of `logits`, no mask
   * pass). The stepper keeps them until `attend`, which then reuses them instead of recomputing the
   * scores (bit-identical). Optional: implementations without it are driven through `logits`.
   */
  scores?(head: number): Promise<ScoreBlocks>;
  /**
   * Attends the current layer with per-KV-head eviction times `evict` ([numKvHeads, T]: key j is
   * visible to query t iff j <= t < evict[h*T + j]; every evict[h*T + j] must be > j). Omitted:
   * full causal cache plus the model's sliding window. Returns the probabilities used for
   * `captureHeads` ([T, T] each). Advances to the next layer.
   */
  attend(evict?: Int32Array, opts?: { captureHeads?: number[] }): Promise<{ probs?: Map<number, Float32Array> }>;
  /** After the last layer: NLL of tokens 1..T-1 ([T-1]) and logits [P, vocab] at `positions` if given. */
  finish(opts?: { positions?: number[] }): Promise<{ nll: Float32Array; logits?: Float32Array }>;
}

export interface LoadOptions {
  /** ORT intra-op threads; default: all cores. */
  threads?: number;
}

type Session = ort.InferenceSession;

function f32(data: Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor("float32", data, dims);
}

/** Loads config, tokenizer and weights of a Hugging Face Llama/Mistral directory and builds the ORT sessions. */
export async function loadModel(dir: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  const threads = opts.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) throw new InvalidArgumentError("threads", "an integer >= 1", threads);
  const abs = resolve(dir);
  const config = loadConfig(abs);
  const tokenizer = loadTokenizer(abs, config.vocabSize, config.bosTokenId);
  const ckpt = new Checkpoint(abs);
  let weights: ModelWeights;
  try {
    weights = loadWeights(ckpt, config);
  } finally {
    ckpt.close();
  }
  return OrtModel.create(abs, config, tokenizer, weights, threads);
}

/** Sessions for the five graphs, shared by every layer and sequence length. */
interface Sessions {
  qkv: Session;
  /** Dense attention, used for T < ATTENTION_BLOCKS. */
  attention: Session;
  /** Causally blocked attention, without and with probabilities. */
  attentionBlocked: Session;
  attentionBlockedProbs: Session;
  /** The scores of attentionBlocked alone, and the rest of it from those scores. */
  scoresBlocked: Session;
  attentionFromScores: Session;
  headLogits: Session;
  post: Session;
  final: Session;
}

export class OrtModel implements LoadedModel {
  private rope: { T: number; cos: Float32Array; sin: Float32Array } = { T: 0, cos: new Float32Array(0), sin: new Float32Array(0) };
  private disposed = false;

  private constructor(
    readonly dir: string,
    readonly config: ModelConfig,
    readonly tokenizer: Tokenizer,
    readonly weights: ModelWeights,
    private readonly sessions: Sessions,
  ) {}

  /** Builds the model from weights already in memory (used by loadModel and by tests). */
  static async create(dir: string, config: ModelConfig, tokenizer: Tokenizer, weights: ModelWeights, threads: number): Promise<OrtModel> {
    const options: ort.InferenceSession.SessionOptions = {
      executionProviders: ["cpu"],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: "all",
      executionMode: "sequential",
      // Idle ORT workers sleep instead of spinning between ops: on a shared 2-core machine spinning
      // burned ~4x the CPU time of the work itself on small ops (measured 946 vs 246 ms CPU).
      extra: { session: { intra_op: { allow_spinning: "0" } } },
    };
    const make = (bytes: Uint8Array) => ort.InferenceSession.create(bytes, options);
    const [qkv, attention, attentionBlocked, attentionBlockedProbs, scoresBlocked, attentionFromScores, headLogits, post, final] = await Promise.all([
      make(buildQkvGraph(config)),
      make(buildAttentionGraph(config)),
      make(buildBlockedAttentionGraph(config, false)),
      make(buildBlockedAttentionGraph(config, true)),
      make(buildBlockedScoresGraph(config)),
      make(buildScoresAttentionGraph(config)),
      make(buildHeadLogitsGraph(config)),
      make(buildPostGraph(config)),
      make(buildFinalGraph(config)),
    ]);
    return new OrtModel(dir, config, tokenizer, weights, {
      qkv,
      attention,
      attentionBlocked,
      attentionBlockedProbs,
      scoresBlocked,
      attentionFromScores,
      headLogits,
      post,
      final,
    });
  }

  /** The sessions (for benchmarks). */
  get ortSessions(): Readonly<Sessions> {
    return this.sessions;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await Promise.all(Object.values(this.sessions).map((s: Session) => s.release()));
  }

  checkTokens(tokens: Int32Array): void {
    if (this.disposed) throw new KvwalkError("KVWALK_DISPOSED", "model was disposed");
    if (!(tokens instanceof Int32Array)) throw new InvalidArgumentError("tokens", "an Int32Array", tokens);
    const c = this.config;
    if (tokens.length < 1 || tokens.length > c.maxPositions) {
      throw new InvalidArgumentError("tokens", `a sequence of 1 to ${c.maxPositions} tokens (max_position_embeddings)`, `${tokens.length} tokens`);
    }
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      if (t < 0 || t >= c.vocabSize) throw new InvalidArgumentError(`tokens[${i}]`, `a token id in [0, ${c.vocabSize - 1}]`, t);
    }
  }

  /** cos/sin [T, headDim] (prefix of a cached table). */
  ropeFor(T: number): { cos: Float32Array; sin: Float32Array } {
    const d = this.config.headDim;
    if (this.rope.T < T) {
      const t = ropeTables(Math.max(T, Math.min(this.config.maxPositions, 4096)), d, this.config.ropeTheta);
      this.rope = { T: t.cos.length / d, cos: t.cos, sin: t.sin };
    }
    return { cos: this.rope.cos.subarray(0, T * d), sin: this.rope.sin.subarray(0, T * d) };
  }

  /** Embedding rows of `tokens`: [T, hidden]. */
  embed(tokens: Int32Array): Float32Array {
    const H = this.config.hiddenSize;
    const h = new Float32Array(tokens.length * H);
    for (let t = 0; t < tokens.length; t++) h.set(this.weights.embed.subarray(tokens[t] * H, (tokens[t] + 1) * H), t * H);
    return h;
  }

  async runQkv(layer: number, h: Float32Array, T: number): Promise<{ q: Float32Array; k: Float32Array; v: Float32Array }> {
    const c = this.config;
    const w = this.weights.layers[layer];
    const { cos, sin } = this.ropeFor(T);
    const d = c.headDim;
    const r = await this.sessions.qkv.run({
      h: f32(h, [T, c.hiddenSize]),
      ln: f32(w.inputNorm, [c.hiddenSize]),
      wq: f32(w.wq, [c.numHeads * d, c.hiddenSize]),
      wk: f32(w.wk, [c.numKvHeads * d, c.hiddenSize]),
      wv: f32(w.wv, [c.numKvHeads * d, c.hiddenSize]),
      cos: f32(cos, [T, d]),
      sin: f32(sin, [T, d]),
    });
    return { q: r.q.data as Float32Array, k: r.k.data as Float32Array, v: r.v.data as Float32Array };
  }

  /**
   * Attention of every query head; `evict` is [numKvHeads, T]. Writes outputs [numHeads, T, d] and
   * returns probabilities of `capture` heads.
   */
  async runAttention(
    qkv: { q: Float32Array; k: Float32Array; v: Float32Array },
    evict: Int32Array,
    T: number,
    capture: ReadonlySet<number>,
    scores?: ReadonlyMap<number, ort.Tensor[]>,
  ): Promise<{ out: Float32Array; probs: Map<number, Float32Array> }> {
    const c = this.config;
    const d = c.headDim;
    const G = c.numHeads / c.numKvHeads;
    const out = new Float32Array(c.numHeads * T * d);
    const probs = new Map<number, Float32Array>();
    // One call per query head (G = 1): a broadcast Where over [G, T, T] measured slower than G
    // separate calls, and it keeps a single [T, T] score matrix alive.
    for (let hq = 0; hq < c.numHeads; hq++) {
      const kh = Math.floor(hq / G);
      const want = capture.has(hq);
      const s = scores?.get(hq);
      if (s && !want && T >= ATTENTION_BLOCKS) {
        const feeds: Record<string, ort.Tensor> = {
          v: f32(qkv.v.subarray(kh * T * d, (kh + 1) * T * d), [T, d]),
          evict: new ort.Tensor("int32", evict.subarray(kh * T, (kh + 1) * T), [T]),
        };
        s.forEach((t, i) => {
          feeds[`s${i}`] = t;
        });
        const r = await this.sessions.attentionFromScores.run(feeds);
        out.set(r.o.data as Float32Array, hq * T * d);
        continue;
      }
      const session = T < ATTENTION_BLOCKS ? this.sessions.attention : want ? this.sessions.attentionBlockedProbs : this.sessions.attentionBlocked;
      const r = await session.run(
        {
          q: f32(qkv.q.subarray(hq * T * d, (hq + 1) * T * d), [1, T, d]),
          k: f32(qkv.k.subarray(kh * T * d, (kh + 1) * T * d), [T, d]),
          v: f32(qkv.v.subarray(kh * T * d, (kh + 1) * T * d), [T, d]),
          evict: new ort.Tensor("int32", evict.subarray(kh * T, (kh + 1) * T), [T]),
        },
        want ? ["o", "probs"] : ["o"],
      );
      out.set(r.o.data as Float32Array, hq * T * d);
      if (want) probs.set(hq, r.probs.data as Float32Array);
    }
    return { out, probs };
  }

  /** Blocked scores of one query head (q [T, d], k [T, d]); T >= ATTENTION_BLOCKS. */
  async runScores(q: Float32Array, k: Float32Array, T: number): Promise<{ tensors: ort.Tensor[]; blocks: ScoreBlocks }> {
    const d = this.config.headDim;
    const r = await this.sessions.scoresBlocked.run({ q: f32(q, [1, T, d]), k: f32(k, [T, d]) });
    const tensors = Array.from({ length: ATTENTION_BLOCKS }, (_, i) => r[`s${i}`]);
    return { tensors, blocks: { bounds: attentionBlockBounds(T), blocks: tensors.map((t) => t.data as Float32Array) } };
  }

  async runHeadLogits(q: Float32Array, k: Float32Array, T: number): Promise<Float32Array> {
    const d = this.config.headDim;
    const r = await this.sessions.headLogits.run({ q: f32(q, [T, d]), k: f32(k, [T, d]) });
    return r.logits.data as Float32Array;
  }

  async runPost(layer: number, h: Float32Array, attn: Float32Array, T: number): Promise<Float32Array> {
    const c = this.config;
    const w = this.weights.layers[layer];
    const H = c.hiddenSize;
    const r = await this.sessions.post.run({
      h: f32(h, [T, H]),
      attn: f32(attn, [c.numHeads, T, c.headDim]),
      wo: f32(w.wo, [H, c.numHeads * c.headDim]),
      ln: f32(w.postNorm, [H]),
      wg: f32(w.wGate, [c.intermediateSize, H]),
      wu: f32(w.wUp, [c.intermediateSize, H]),
      wd: f32(w.wDown, [H, c.intermediateSize]),
    });
    return r.out.data as Float32Array;
  }

  async runFinal(h: Float32Array, tokens: Int32Array, positions: number[] | undefined): Promise<{ nll: Float32Array; logits?: Float32Array }> {
    const c = this.config;
    const T = tokens.length;
    // Row T-1 predicts nothing: its target is a dummy 0 and its NLL is dropped below.
    const targets = new BigInt64Array(T);
    for (let i = 1; i < T; i++) targets[i - 1] = BigInt(tokens[i]);
    const wantLogits = positions !== undefined && positions.length > 0;
    const pos = BigInt64Array.from(wantLogits ? positions : [0], (p) => BigInt(p));
    const r = await this.sessions.final.run(
      {
        h: f32(h, [T, c.hiddenSize]),
        ln: f32(this.weights.norm, [c.hiddenSize]),
        w: f32(this.weights.lmHead, [c.vocabSize, c.hiddenSize]),
        targets: new ort.Tensor("int64", targets, [T]),
        positions: new ort.Tensor("int64", pos, [pos.length]),
      },
      wantLogits ? ["logits", "nll"] : ["nll"],
    );
    const logits = wantLogits ? (r.logits.data as Float32Array) : positions ? new Float32Array(0) : undefined;
    return { nll: (r.nll.data as Float32Array).subarray(0, T - 1), logits };
  }

  /** Default eviction times: T for every key, or j + slidingWindow (capped at T) for Mistral. */
  defaultEvict(T: number): Int32Array {
    const c = this.config;
    const e = new Int32Array(c.numKvHeads * T);
    const W = c.slidingWindow;
    for (let h = 0; h < c.numKvHeads; h++) for (let j = 0; j < T; j++) e[h * T + j] = W === null ? T : Math.min(T, j + W);
    return e;
  }

  async stepper(tokens: Int32Array): Promise<LayerStepper> {
    this.checkTokens(tokens);
    return new OrtStepper(this, tokens, this.embed(tokens));
  }

  async forward(
    tokens: Int32Array,
    opts: { positions?: number[]; captureAttention?: number[] } = {},
  ): Promise<{ logits: Float32Array; nll: Float32Array; attention?: Map<number, Float32Array> }> {
    const c = this.config;
    const capture = new Set(checkIndexList("captureAttention", opts.captureAttention ?? [], c.numLayers));
    const T = tokens.length;
    const positions = opts.positions ?? Array.from({ length: T }, (_, i) => i);
    const st = await this.stepper(tokens);
    checkIndexList("positions", positions, T);
    const allHeads = Array.from({ length: c.numHeads }, (_, h) => h);
    const attention = capture.size > 0 ? new Map<number, Float32Array>() : undefined;
    for (let l = 0; l < c.numLayers; l++) {
      const { probs } = await st.attend(undefined, capture.has(l) ? { captureHeads: allHeads } : undefined);
      if (attention && probs) {
        const all = new Float32Array(c.numHeads * T * T);
        for (const h of allHeads) all.set(probs.get(h)!, h * T * T);
        attention.set(l, all);
      }
    }
    const { nll, logits } = await st.finish({ positions });
    return { logits: logits!, nll, attention };
  }
}

function checkIndexList(name: string, list: unknown, n: number): number[] {
  if (!Array.isArray(list)) throw new InvalidArgumentError(name, "an array of integers", list);
  list.forEach((v, i) => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v >= n) throw new InvalidArgumentError(`${name}[${i}]`, `an integer in [0, ${n - 1}]`, v);
  });
  return list as number[];
}

class OrtStepper implements LayerStepper {
  private layerIndex = 0;
  private current: Promise<{ q: Float32Array; k: Float32Array; v: Float32Array }> | null = null;
  private busy = false;
  /** Score tensors fetched by scores() for the current layer, by query head (reused by attend). */
  private scoreTensors = new Map<number, ort.Tensor[]>();

  constructor(
    private readonly model: OrtModel,
    private readonly tokens: Int32Array,
    private h: Float32Array,
  ) {}

  get length(): number {
    return this.tokens.length;
  }

  get layer(): number {
    return this.layerIndex;
  }

  private requireLayer(what: string): void {
    if (this.layerIndex >= this.model.config.numLayers) {
      throw new KvwalkError("KVWALK_STEPPER_DONE", `${what}: all ${this.model.config.numLayers} layers were attended; call finish()`);
    }
  }

  qkv(): Promise<{ q: Float32Array; k: Float32Array; v: Float32Array }> {
    this.requireLayer("qkv()");
    if (!this.current) {
      this.current = this.model.runQkv(this.layerIndex, this.h, this.length);
      this.current.catch(() => {
        this.current = null;
      });
    }
    return this.current;
  }

  async logits(head: number): Promise<Float32Array> {
    const c = this.model.config;
    this.requireLayer("logits()");
    if (!Number.isInteger(head) || head < 0 || head >= c.numHeads) throw new InvalidArgumentError("head", `an integer in [0, ${c.numHeads - 1}]`, head);
    const { q, k } = await this.qkv();
    const T = this.length;
    const d = c.headDim;
    const kh = Math.floor(head / (c.numHeads / c.numKvHeads));
    return this.model.runHeadLogits(q.subarray(head * T * d, (head + 1) * T * d), k.subarray(kh * T * d, (kh + 1) * T * d), T);
  }

  async scores(head: number): Promise<ScoreBlocks> {
    const c = this.model.config;
    this.requireLayer("scores()");
    if (!Number.isInteger(head) || head < 0 || head >= c.numHeads) throw new InvalidArgumentError("head", `an integer in [0, ${c.numHeads - 1}]`, head);
    const { q, k } = await this.qkv();
    const T = this.length;
    const d = c.headDim;
    const kh = Math.floor(head / (c.numHeads / c.numKvHeads));
    if (T < ATTENTION_BLOCKS) {
      // Too short to block: one block holding the dense logits.
      const lg = await this.model.runHeadLogits(q.subarray(head * T * d, (head + 1) * T * d), k.subarray(kh * T * d, (kh + 1) * T * d), T);
      return { bounds: Int32Array.of(0, T), blocks: [lg] };
    }
    const layer = this.layerIndex;
    const r = await this.model.runScores(q.subarray(head * T * d, (head + 1) * T * d), k.subarray(kh * T * d, (kh + 1) * T * d), T);
    if (this.layerIndex === layer) this.scoreTensors.set(head, r.tensors);
    return r.blocks;
  }

  async attend(evict?: Int32Array, opts: { captureHeads?: number[] } = {}): Promise<{ probs?: Map<number, Float32Array> }> {
    const c = this.model.config;
    this.requireLayer("attend()");
    if (this.busy) throw new KvwalkError("KVWALK_STEPPER_BUSY", "attend(): a previous attend() of this stepper is still running");
    const T = this.length;
    const capture = checkIndexList("captureHeads", opts.captureHeads ?? [], c.numHeads);
    const ev = evict === undefined ? this.model.defaultEvict(T) : checkEvict(evict, c.numKvHeads, T);
    this.busy = true;
    try {
      const qkv = await this.qkv();
      const scores = this.scoreTensors;
      this.scoreTensors = new Map();
      const { out, probs } = await this.model.runAttention(qkv, ev, T, new Set(capture), scores);
      this.h = await this.model.runPost(this.layerIndex, this.h, out, T);
      this.layerIndex++;
      this.current = null;
      return capture.length > 0 ? { probs } : {};
    } finally {
      this.busy = false;
    }
  }

  async finish(opts: { positions?: number[] } = {}): Promise<{ nll: Float32Array; logits?: Float32Array }> {
    const c = this.model.config;
    if (this.layerIndex !== c.numLayers) {
      throw new KvwalkError("KVWALK_STEPPER_NOT_DONE", `finish(): expected all ${c.numLayers} layers attended but the stepper is at layer ${this.layerIndex}`);
    }
    if (opts.positions !== undefined) checkIndexList("positions", opts.positions, this.length);
    return this.model.runFinal(this.h, this.tokens, opts.positions);
  }
}

/** Validates eviction times: Int32Array [numKvHeads * T] with evict[h*T + j] > j (key j visible to its own query). */
export function checkEvict(evict: unknown, numKvHeads: number, T: number): Int32Array {
  if (!(evict instanceof Int32Array)) throw new InvalidArgumentError("evict", `an Int32Array of length numKvHeads*T = ${numKvHeads * T}`, evict);
  if (evict.length !== numKvHeads * T) throw new InvalidArgumentError("evict", `length numKvHeads*T = ${numKvHeads}*${T} = ${numKvHeads * T}`, `length ${evict.length}`);
  for (let h = 0; h < numKvHeads; h++) {
    const base = h * T;
    for (let j = 0; j < T; j++) {
      if (evict[base + j] <= j) {
        throw new InvalidArgumentError(
          `evict[${base + j}] (kv head ${h}, key ${j})`,
          `an eviction time > ${j} (a key must be visible to its own query)`,
          evict[base + j],
        );
      }
    }
  }
  return evict;
}
