/**
 * The GPU decode engine's library API: `createEngine`, `engine.generate` (an async iterator of tokens),
 * `engine.generateBatch`, `engine.logits`, `engine.stats()`. Calls on one engine are queued: a call
 * starts when the previous one (a whole generate iteration included) has finished.
 */
import { expectInt, expectNumber, expectOneOf, InvalidArgumentError, KvwalkError, Progress } from "@kvwalk/core";
import { Checkpoint, layerTensorNames, loadConfig, loadTokenizer, type Tokenizer } from "@kvwalk/model/checkpoint";
import { DEFAULT_REFRESH_EVERY, DEFAULT_WINDOW } from "../policies/policy.js";
import { type NativeEngine, type NativeEvictOptions, type NativeEvictStats, type NativeShape, WEIGHT_KIND } from "./addon-types.js";
import { sampleHost } from "./kernels/sample-host.js";
import { requireEngineAddon } from "./loader.js";
import { presetShape, shapeFromConfig } from "./shapes.js";

export type GemmChoice = "auto" | "builtin" | "cublas";

export const ENGINE_POLICIES = ["full", "streaming", "h2o", "tova", "walker", "pagerank-top4"] as const;
export type EnginePolicy = (typeof ENGINE_POLICIES)[number];

/**
 * Live eviction: when a sequence's cache reaches `capacity` slots it is compacted, per layer and KV
 * head, to `budget` slots (the sinks and the most recent tokens always kept, the rest by the policy's
 * scores: H2O accumulated attention, TOVA the last query's attention, walker visit counts over the
 * graph cache (refreshed every `refresh` steps on its own stream), pagerank-top4 the exact personalized
 * PageRank of the walker's chain on the graph cache (the oracle's pagerank-top4: computed when a compaction
 * is due and the last ranking is `refresh` or more tokens old, on the decode stream), streaming none).
 */
export interface EvictionOptions {
  policy: EnginePolicy;
  /** Slots kept by a compaction: an integer < capacity, or a fraction of capacity in (0, 1). */
  budget: number;
  sinks?: number;
  /** Protected most recent tokens (default 50). */
  recent?: number;
  refresh?: number;
  /**
   * Walkers per graph (one graph per layer, sequence and query head) and refresh. Default: as many as
   * give 5 walker visits per cache slot, `defaultWalkers(capacity, steps)` (1024 at 4096 slots and 20
   * steps, the density `@kvwalk/walker-cuda`'s accuracy study recommends; 224 at a 20% budget of 4096).
   */
  walkers?: number;
  /** Steps per walker (default 20). */
  steps?: number;
  teleport?: number;
  /** Walker scores: decay * previous + new counts at each refresh (default 0.5; pagerank-top4: 0, the oracle's replacement). */
  scoreDecay?: number;
  /** H2O: decay of the accumulated attention per step (default 1 = plain sum). */
  h2oDecay?: number;
  /**
   * Teleport targets of the walk: the last startWindow live non-sink tokens (default 50). pagerank-top4 counts the token
   * being appended among them, as the oracle's policies do.
   */
  startWindow?: number;
  seed?: number;
}

export interface CreateEngineOptions {
  /** A Hugging Face Llama/Mistral checkpoint directory, or a random-weight model of a preset shape. */
  model: string | { preset: "llama2-7b" | "mistral-7b"; seed?: number; amplitude?: number } | { shape: NativeShape; seed?: number; amplitude?: number };
  /** Concurrent sequences (KV regions). Default 1. */
  maxBatch?: number;
  /** KV slots per sequence. Default: min(model positions, 4096). */
  capacity?: number;
  /** Tokens one prefill call may hold (all prompts of a batch together). Default: capacity. */
  maxPrefillTokens?: number;
  /** Rows of the device logits buffer (the `logits()` call runs the LM head in chunks of this). Default max(maxBatch, 512). */
  maxLogitRows?: number;
  gemm?: GemmChoice;
  /**
   * Decode steps of at most this many sequences run their matrix products as fused GEMV kernels
   * (RMSNorm, f32 -> bf16 and SwiGLU folded into the weight stream; native/kernels/gemv.cuh) instead of
   * GEMMs plus element-wise kernels. 0 = never. Default 1 (or $KVWALK_GEMV_ROWS; measured on an H200:
   * faster than cuBLAS + element-wise kernels at batch 1, slower from batch 2); at most 8.
   */
  gemvRows?: number;
  /**
   * Split-K for the O and down projections of decode steps of 2..64 sequences on the GEMM path: the
   * product is cut into K slices (one strided-batched cuBLAS call) whose sum joins the residual stream
   * inside the next RMSNorm kernel, so these narrow products (N = hidden) use every SM at no extra
   * launch. "auto" (default): 4 slices with cuBLAS for K >= 2048; 0 or 1: off; 2..8: that many slices.
   */
  gemmSplitK?: "auto" | number;
  /**
   * Decode attention through graph-cache's grouped-query kernel: one block per KV head serving its 2 or
   * 4 query heads, so each K/V row is read once instead of once per query head. "auto" (default): for
   * steps with at least 1.5 (sequence, KV head) pairs per SM (H200, Mistral-7B: batch 32 faster with and
   * without the graph write, batch 1 and 8 slower); true: whenever the group (2 or 4) and head dim (64 or
   * 128) allow; false: never. Multi-head models (one query head per KV head) never use it.
   */
  groupedDecode?: boolean | "auto";
  /**
   * How decode steps write the graph cache (with `graph`). "fused": the attention kernel tracks each
   * query head's top-4 and writes the nodes. "deferred": the attention kernel (the baseline kernel)
   * stores its logits and graph-cache's selection kernel writes each layer's nodes on a side stream,
   * beside the following GEMMs. "auto" (default): deferred where it measured faster on the H200 (steps
   * on the grouped-query kernel, or with fewer (sequence, head) pairs than SMs, e.g. batch 1), fused
   * elsewhere. Same nodes (bit-identical at the same split count). Deferred and auto need a logits
   * buffer of layers x maxBatch x heads x capacity floats. "lazy": decode steps write no node; the RoPE
   * kernel also stores each row's rotated query (bf16) in a ring of 2 x min(eviction.refresh, 64) rows, and prompt
   * scoring's tensor-core kernels write the pending rows' nodes in batches -- on the walker's stream
   * before each refresh, before a compaction, when a ring half of rows is pending, and before
   * debugEvictionState. Its nodes are prompt scoring's for the same rows (bf16 q), which differ from the
   * decode kernel's (f32 q) by that rounding; with a graph per KV head the group pass takes the decode
   * steps' own log-sum-exp (stored per row) instead of recomputing it. In a mixed prefill + decode step
   * the decode rows store their queries and the prompt rows are scored as in a prefill. "auto" takes "lazy" for the walker policy's graphs per KV head on a grouped-query model
   * (measured faster than deferred at every batch and context on the H200).
   */
  graphWrite?: "fused" | "deferred" | "auto" | "lazy";
  /**
   * Which heads own a graph. "kv" (default): one graph per KV head, whose node t holds the top-4 keys of
   * the group's summed attention probabilities -- the row the CPU oracle's policies observe for a KV
   * head, so the GPU walker ranks what the study ranks, with a quarter (Mistral-7B) of the graphs, node
   * writes and walker work. "query": one graph per query head, the walker's counts summed over each
   * group. The same graphs for MHA models (Llama-2). "kv" on a grouped-query model always takes the
   * deferred write (the sum needs every head's final log-sum-exp): graphWrite "fused" is refused there.
   */
  graphHeads?: "kv" | "query";
  /**
   * Stream priorities: decode steps run on a stream of the device's highest priority and the walker on
   * one of the lowest, so the walker's blocks would fill what the decode step leaves instead of competing
   * with it for SMs. Default false (both at the default priority): not yet measured on a GPU; the engine
   * bench's `--priority` mode compares the two.
   */
  streamPriorities?: boolean;
  /** Write the top-4 attention graph during decode (the graph cache of @kvwalk/graph-cache). */
  graph?: boolean;
  /** Time GEMM / attention / other with CUDA events (adds event records to every step; disables CUDA graphs). */
  profile?: boolean;
  /** Replay each decode step as one CUDA graph (per batch size). Default true. */
  cudaGraphs?: boolean;
  /** Record CUDA events for `engine.native.timeline()` (decode steps, walker refreshes, compactions). */
  timeline?: boolean;
  /**
   * Score the prompt during prefill: graph nodes of every prompt token (when the graph cache is on) and
   * H2O / TOVA attention mass, exactly what decode steps over the prompt would have written, so a long
   * prompt is not evicted blind. Default: true when the eviction policy reads scores or the graph (h2o,
   * tova, walker), false otherwise (a prefill then writes no eviction state).
   */
  scorePrompt?: boolean;
  /** Progress on stderr while loading a checkpoint. Default true. */
  progress?: boolean;
  eviction?: EvictionOptions;
}

export interface GenerateBatchOptions extends GenerateOptions {
  /**
   * "together" (default): every prompt is prefilled first, then one decode step advances all.
   * "staggered": prompts arrive one per step, as in serving: prompt 0 is prefilled, then each step
   * decodes the running sequences and prefills the next prompt in the same weight pass (a mixed
   * prefill + decode step, `native.mixed`). With eviction on, a mixed step equals a decode step followed
   * by a prefill (compactions, scores, graph nodes and walker refreshes included). The new sequence's first token is
   * sampled on the device (same rule as decode steps), so sampled (temperature > 0) runs differ from
   * "together"; greedy runs agree up to f32 summation order.
   */
  arrivals?: "together" | "staggered";
}

export interface GenerateOptions {
  /** Default 128. */
  maxNewTokens?: number;
  /** 0 = greedy (default). */
  temperature?: number;
  /** Nucleus mass, (0, 1]. Default 1. */
  topP?: number;
  /** Sampling seed. Default 0. */
  seed?: number;
  /** Stop at the model's end-of-sequence token. Default true. */
  stopAtEos?: boolean;
}

export interface GeneratedToken {
  /** 0-based index among the generated tokens. */
  index: number;
  id: number;
  /** Log-probability under the model's plain softmax. */
  logprob: number;
  /** The text this token adds (empty for a model without a tokenizer). */
  text: string;
}

export interface EngineStats {
  gemm: string;
  /** Decode steps of up to this many sequences run the fused GEMV kernels (0: GEMMs only). */
  gemvRows: number;
  /** K slices of the O and down projections in a 32-sequence decode step (1: not split). */
  gemmSplitK: { o: number; down: number };
  memory: { weightBytes: number; kvBytes: number; graphBytes: number; activationBytes: number; deviceFreeBytes: number; deviceTotalBytes: number };
  prefillTokens: number;
  prefillSeconds: number;
  decodeSteps: number;
  decodeTokens: number;
  decodeSeconds: number;
  /** Generated tokens per second of decode time (all sequences). */
  decodeTokensPerSecond: number;
  prefillTokensPerSecond: number;
  /** Per-phase GPU time since the last stats() call (profile: true only). */
  phases?: { gemmMs: number; attentionMs: number; otherMs: number; steps: number };
  /** Live eviction counters (eviction on only). */
  eviction?: NativeEvictStats & { policy: EnginePolicy; budget: number };
}

/** log softmax(row)[target] in f64 (max-shifted): the per-token log-likelihood evaluations score with. */
export function tokenLogProb(row: ArrayLike<number>, target: number): number {
  let m = Number.NEGATIVE_INFINITY;
  for (let v = 0; v < row.length; v++) if (row[v] > m) m = row[v];
  let s = 0;
  for (let v = 0; v < row.length; v++) s += Math.exp(row[v] - m);
  return row[target] - m - Math.log(s);
}

/** Philox step counter of the first generated token (sampled on the host from the prefill logits); device decode steps count from 0. */
export const FIRST_TOKEN_STEP = 0xffffffff;

const GEMM_CODE = { auto: 0, builtin: 1, cublas: 2 } as const;

export class Engine {
  private tail: Promise<unknown> = Promise.resolve();
  private disposed = false;
  private counters = { prefillTokens: 0, prefillSeconds: 0, decodeSteps: 0, decodeTokens: 0, decodeSeconds: 0 };

  constructor(
    readonly native: NativeEngine,
    readonly shape: NativeShape,
    readonly options: Required<Omit<CreateEngineOptions, "model" | "progress" | "eviction">>,
    readonly tokenizer: Tokenizer | undefined,
    readonly eosId: number | null,
    readonly bosId: number | null,
    readonly eviction: (NativeEvictOptions & { name: EnginePolicy }) | undefined = undefined,
  ) {}

  /** Graphs per (layer, sequence) in the graph cache: KV heads (graphHeads "kv", the default) or query heads. */
  get graphHeadCount(): number {
    return this.options.graphHeads === "kv" ? this.shape.kvHeads : this.shape.heads;
  }

  /** Most tokens a sequence may reach: positions when eviction frees slots, else the capacity. */
  private get sequenceLimit(): number {
    return this.eviction ? this.shape.maxPositions : Math.min(this.options.capacity, this.shape.maxPositions);
  }

  /**
   * Takes the next place in this engine's queue now; resolves with the release function once every
   * earlier call has finished.
   */
  private acquire(): Promise<() => void> {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const prev = this.tail;
    this.tail = prev.then(() => gate);
    return prev.then(() => {
      if (this.disposed) {
        release();
        throw new KvwalkError("KVWALK_ENGINE", "the engine was disposed");
      }
      return release;
    });
  }

  /** Runs `fn` after every earlier call on this engine has finished. */
  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** Token ids of a prompt (a string needs the checkpoint's tokenizer; BOS is added when the model has one). */
  encode(prompt: string | Int32Array | number[]): Int32Array {
    if (typeof prompt === "string") {
      if (!this.tokenizer) throw new InvalidArgumentError("prompt", "token ids (this random-weight model has no tokenizer)", prompt);
      return this.tokenizer.encode(prompt, { addBos: true });
    }
    const ids = Int32Array.from(prompt);
    if (ids.length === 0) throw new InvalidArgumentError("prompt", "at least one token", prompt);
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.shape.vocab) {
        throw new InvalidArgumentError("prompt", `token ids in [0, ${this.shape.vocab})`, id);
      }
    }
    return ids;
  }

  private checkPrompt(ids: Int32Array): void {
    const limit = Math.min(this.options.capacity, this.shape.maxPositions);
    if (ids.length >= limit) {
      throw new InvalidArgumentError(
        "prompt",
        `fewer than ${limit} tokens (the ${this.options.capacity < this.shape.maxPositions ? "cache capacity" : "model's maximum positions"})`,
        `${ids.length} tokens`,
      );
    }
  }

  private genOpts(opts: GenerateOptions): Required<GenerateOptions> {
    return {
      maxNewTokens: expectInt("maxNewTokens", opts.maxNewTokens ?? 128, 1, 1 << 24),
      temperature: expectNumber("temperature", opts.temperature ?? 0, 0, 100),
      topP: expectNumber("topP", opts.topP ?? 1, Number.MIN_VALUE, 1),
      seed: expectInt("seed", opts.seed ?? 0, 0, 0x7fffffff),
      stopAtEos: opts.stopAtEos ?? true,
    };
  }

  /** Logits of every prompt position, f32 [T, vocab] (one prefill; the sequence is left in region 0). */
  logits(prompt: string | Int32Array | number[]): Promise<Float32Array> {
    const ids = this.encode(prompt);
    this.checkPrompt(ids);
    return this.exclusive(async () => {
      const t0 = performance.now();
      const r = await this.native.prefill(Int32Array.of(0), ids, Int32Array.of(0, ids.length), true);
      this.count("prefill", ids.length, t0);
      return r.all as Float32Array;
    });
  }

  private count(kind: "prefill" | "decode", tokens: number, t0: number): void {
    const s = (performance.now() - t0) / 1000;
    if (kind === "prefill") {
      this.counters.prefillTokens += tokens;
      this.counters.prefillSeconds += s;
    } else {
      this.counters.decodeSteps += 1;
      this.counters.decodeTokens += tokens;
      this.counters.decodeSeconds += s;
    }
  }

  /**
   * Generates from several prompts at once (regions 0..n-1, one decode step advances all of them).
   * Returns the generated ids of each prompt (stopping at EOS per sequence when asked).
   */
  generateBatch(prompts: (string | Int32Array | number[])[], opts: GenerateBatchOptions = {}): Promise<Int32Array[]> {
    if (!Array.isArray(prompts) || prompts.length < 1 || prompts.length > this.options.maxBatch) {
      throw new InvalidArgumentError("prompts", `1 to maxBatch (${this.options.maxBatch}) prompts`, prompts);
    }
    const ids = prompts.map((p) => this.encode(p));
    for (const p of ids) this.checkPrompt(p);
    const o = this.genOpts(opts);
    const arrivals = expectOneOf("arrivals", opts.arrivals ?? "together", ["together", "staggered"] as const);
    if (arrivals === "staggered") {
      return this.exclusive(() => this.staggered(ids, o));
    }
    return this.exclusive(async () => {
      const n = ids.length;
      const first = await this.prefillAll(ids);
      const out: number[][] = ids.map(() => []);
      const done = new Array<boolean>(n).fill(false);
      let next: Int32Array = Int32Array.from({ length: n }, (_, b) => this.pickFirst(first, b, o, FIRST_TOKEN_STEP).id);
      const temp = new Float32Array(n).fill(o.temperature);
      const topP = new Float32Array(n).fill(o.topP);
      for (;;) {
        for (let b = 0; b < n; b++) {
          if (done[b]) continue;
          out[b].push(next[b]);
          if ((o.stopAtEos && next[b] === this.eosId) || out[b].length >= o.maxNewTokens) done[b] = true;
          if (ids[b].length + out[b].length >= this.sequenceLimit) done[b] = true;
        }
        if (done.every(Boolean)) break;
        const t0 = performance.now();
        const r = await this.native.decode(next, temp, topP, o.seed, false);
        this.count("decode", done.filter((d) => !d).length, t0);
        next = r.next;
      }
      return out.map((a) => Int32Array.from(a));
    });
  }

  /** generateBatch with arrivals "staggered": prompt k joins at step k through a mixed step. */
  private async staggered(ids: Int32Array[], o: Required<GenerateOptions>): Promise<Int32Array[]> {
    const n = ids.length;
    const out: number[][] = ids.map(() => []);
    const done = new Array<boolean>(n).fill(false);
    let t0 = performance.now();
    const first = await this.native.prefill(Int32Array.of(0), ids[0], Int32Array.of(0, ids[0].length), false);
    this.count("prefill", ids[0].length, t0);
    let next: Int32Array = Int32Array.of(this.pickFirst(first.last, 0, o, FIRST_TOKEN_STEP).id);
    for (;;) {
      const active = next.length;
      for (let b = 0; b < active; b++) {
        if (done[b]) continue;
        out[b].push(next[b]);
        if ((o.stopAtEos && next[b] === this.eosId) || out[b].length >= o.maxNewTokens) done[b] = true;
        if (ids[b].length + out[b].length >= this.sequenceLimit) done[b] = true;
      }
      if (active === n && done.every(Boolean)) break;
      const rows = active < n ? active + 1 : active;
      const temp = new Float32Array(rows).fill(o.temperature);
      const topP = new Float32Array(rows).fill(o.topP);
      t0 = performance.now();
      if (active < n) {
        const r = await this.native.mixed(next, ids[active], temp, topP, o.seed, false);
        this.count("prefill", ids[active].length, t0);
        next = r.next;
      } else {
        const r = await this.native.decode(next, temp, topP, o.seed, false);
        this.count("decode", done.filter((d) => !d).length, t0);
        next = r.next;
      }
    }
    return out.map((a) => Int32Array.from(a));
  }

  private async prefillAll(ids: Int32Array[]): Promise<Float32Array> {
    const V = this.shape.vocab;
    const last = new Float32Array(ids.length * V);
    // group consecutive prompts so each prefill call fits maxPrefillTokens
    let i = 0;
    while (i < ids.length) {
      let j = i;
      let total = 0;
      while (j < ids.length && (j === i || total + ids[j].length <= this.options.maxPrefillTokens)) total += ids[j++].length;
      if (total > this.options.maxPrefillTokens) {
        throw new InvalidArgumentError("prompt", `at most maxPrefillTokens (${this.options.maxPrefillTokens}) tokens`, `${total} tokens`);
      }
      const regions = Int32Array.from({ length: j - i }, (_, k) => i + k);
      const offsets = new Int32Array(j - i + 1);
      const tokens = new Int32Array(total);
      for (let k = i, o = 0; k < j; k++) {
        tokens.set(ids[k], o);
        o += ids[k].length;
        offsets[k - i + 1] = o;
      }
      const t0 = performance.now();
      const r = await this.native.prefill(regions, tokens, offsets, false);
      this.count("prefill", total, t0);
      last.set(r.last, i * V);
      i = j;
    }
    return last;
  }

  /** The first generated token comes from the prefill logits, sampled on the host with the kernel's rule. */
  private pickFirst(last: Float32Array, b: number, o: Required<GenerateOptions>, step: number): { id: number; logprob: number } {
    const V = this.shape.vocab;
    return sampleHost(last.subarray(b * V, (b + 1) * V), o.temperature, o.topP, o.seed, b, step);
  }

  /**
   * Streams the tokens generated from one prompt (region 0). The engine's queue position is taken
   * when generate() is called and held until the iteration ends (or `return()` is called).
   */
  generate(prompt: string | Int32Array | number[], opts: GenerateOptions = {}): AsyncIterableIterator<GeneratedToken> {
    const ids = this.encode(prompt);
    this.checkPrompt(ids);
    const o = this.genOpts(opts);
    const lock = this.acquire();
    void lock.catch(() => undefined);
    const self = this;
    let started = false;
    async function* run(): AsyncGenerator<GeneratedToken> {
      const release = await lock;
      try {
        const generated: number[] = [];
        let text = "";
        const first = await self.prefillAll([ids]);
        let cur = self.pickFirst(first, 0, o, FIRST_TOKEN_STEP);
        const temp = Float32Array.of(o.temperature);
        const topP = Float32Array.of(o.topP);
        const limit = self.sequenceLimit;
        for (let i = 0; ; i++) {
          generated.push(cur.id);
          let piece = "";
          if (self.tokenizer) {
            const full = self.tokenizer.decode(generated);
            piece = full.startsWith(text) ? full.slice(text.length) : full;
            text = full;
          }
          yield { index: i, id: cur.id, logprob: cur.logprob, text: piece };
          if ((o.stopAtEos && cur.id === self.eosId) || generated.length >= o.maxNewTokens || ids.length + generated.length >= limit) break;
          const t0 = performance.now();
          const r = await self.native.decode(Int32Array.of(cur.id), temp, topP, o.seed, false);
          self.count("decode", 1, t0);
          cur = { id: r.next[0], logprob: r.logprob[0] };
        }
      } finally {
        release();
      }
    }
    const inner = run();
    return {
      next() {
        started = true;
        return inner.next();
      },
      async return(value?: unknown) {
        // A generator that never started does not run its finally block: release the queue here.
        if (!started) void lock.then((release) => release()).catch(() => undefined);
        return inner.return(value as never);
      },
      throw(err?: unknown) {
        if (!started) void lock.then((release) => release()).catch(() => undefined);
        return inner.throw(err);
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  /** Counters and memory use; with `profile`, the per-phase GPU times since the last call. */
  stats(): EngineStats {
    const info = this.native.info();
    const c = this.counters;
    const s: EngineStats = {
      gemm: info.gemm,
      gemvRows: info.gemvRows,
      gemmSplitK: info.gemmSplitK,
      memory: {
        weightBytes: info.weightBytes,
        kvBytes: info.kvBytes,
        graphBytes: info.graphBytes,
        activationBytes: info.activationBytes,
        deviceFreeBytes: info.deviceFreeBytes,
        deviceTotalBytes: info.deviceTotalBytes,
      },
      ...c,
      decodeTokensPerSecond: c.decodeSeconds > 0 ? c.decodeTokens / c.decodeSeconds : 0,
      prefillTokensPerSecond: c.prefillSeconds > 0 ? c.prefillTokens / c.prefillSeconds : 0,
    };
    if (this.options.profile) s.phases = this.native.takeTimes();
    if (this.eviction) s.eviction = { policy: this.eviction.name, budget: this.eviction.budget, ...this.native.evictStats() };
    return s;
  }

  /** Frees the device memory once queued calls have finished. */
  async dispose(): Promise<void> {
    await this.tail;
    if (this.disposed) return;
    this.disposed = true;
    this.native.dispose();
  }
}

/**
 * The default walker count: 5 visits per cache slot (`capacity` slots, `steps` steps per walker),
 * rounded up to a multiple of 32, at least 128. On graphs captured from fixture-lm the rank agreement
 * with exact PageRank follows this density rather than the walker count (`@kvwalk/walker-cuda` README:
 * 1024 walkers on 4096 nodes and 512 on 2048 agree about equally well).
 */
export function defaultWalkers(capacity: number, steps = 20): number {
  const w = Math.ceil((5 * capacity) / Math.max(1, steps) / 32) * 32;
  return Math.max(128, w);
}

function expectGroupedDecode(v: unknown): boolean | "auto" {
  if (v === undefined || v === "auto") return "auto";
  if (typeof v === "boolean") return v;
  throw new InvalidArgumentError("groupedDecode", '"auto", true or false', v);
}

/** Creates a GPU engine: loads a checkpoint (or builds random weights of a preset shape) onto the device. */
export async function createEngine(opts: CreateEngineOptions): Promise<Engine> {
  // Options are checked before the addon is required, so bad input gets its named error on any machine.
  let shape: NativeShape;
  let dir: string | undefined;
  if (typeof opts.model === "string") {
    dir = opts.model;
    shape = shapeFromConfig(loadConfig(dir));
  } else if ("preset" in opts.model) {
    shape = presetShape(opts.model.preset);
  } else if ("shape" in opts.model) {
    shape = { ...opts.model.shape };
  } else {
    throw new InvalidArgumentError("model", "a checkpoint directory or { preset } or { shape }", opts.model);
  }
  const capacity = expectInt("capacity", opts.capacity ?? Math.min(shape.maxPositions, 4096), 2, 1 << 22);
  const maxBatch = expectInt("maxBatch", opts.maxBatch ?? 1, 1, 4096);
  const o = {
    maxBatch,
    capacity,
    maxPrefillTokens: expectInt("maxPrefillTokens", opts.maxPrefillTokens ?? capacity, 1, 1 << 22),
    maxLogitRows: expectInt("maxLogitRows", opts.maxLogitRows ?? Math.max(maxBatch, 512), 1, 1 << 20),
    // $KVWALK_GEMM sets the default (e.g. builtin under compute-sanitizer racecheck, which cannot model cuBLAS's TMA kernels)
    gemm: expectOneOf("gemm", opts.gemm ?? process.env.KVWALK_GEMM ?? "auto", ["auto", "builtin", "cublas"] as const),
    gemvRows: expectInt("gemvRows", opts.gemvRows ?? (process.env.KVWALK_GEMV_ROWS ? Number(process.env.KVWALK_GEMV_ROWS) : 1), 0, 8),
    gemmSplitK: opts.gemmSplitK === undefined || opts.gemmSplitK === "auto" ? -1 : expectInt("gemmSplitK", opts.gemmSplitK, 0, 8),
    streamPriorities: opts.streamPriorities ?? false,
    groupedDecode: expectGroupedDecode(opts.groupedDecode),
    graphWrite: expectOneOf("graphWrite", opts.graphWrite ?? "auto", ["fused", "deferred", "auto", "lazy"] as const),
    graphHeads: expectOneOf("graphHeads", opts.graphHeads ?? "kv", ["kv", "query"] as const),
    graph: opts.graph ?? false,
    profile: opts.profile ?? false,
    cudaGraphs: opts.cudaGraphs ?? true,
    timeline: opts.timeline ?? false,
    scorePrompt: opts.scorePrompt ?? false,
  };
  let evict: (NativeEvictOptions & { name: EnginePolicy }) | undefined;
  if (opts.eviction && opts.eviction.policy !== "full") {
    const ev = opts.eviction;
    const name = expectOneOf("eviction.policy", ev.policy, ENGINE_POLICIES);
    const budget =
      ev.budget > 0 && ev.budget < 1 ? Math.floor(ev.budget * capacity) : expectInt("eviction.budget", ev.budget, 1, capacity - 1);
    evict = {
      name,
      policy: ({ streaming: 1, h2o: 2, tova: 3, walker: 4, "pagerank-top4": 5 } as const)[name as "streaming" | "h2o" | "tova" | "walker" | "pagerank-top4"],
      budget,
      sinks: ev.sinks,
      recent: ev.recent,
      refresh: ev.refresh,
      walkers: ev.walkers ?? (name === "walker" ? defaultWalkers(capacity, ev.steps ?? 20) : undefined),
      steps: ev.steps,
      teleport: ev.teleport,
      scoreDecay: ev.scoreDecay ?? (name === "pagerank-top4" ? 0 : undefined),
      h2oDecay: ev.h2oDecay,
      startWindow: ev.startWindow,
      seed: ev.seed,
    };
    for (const k of Object.keys(evict) as (keyof typeof evict)[]) if (evict[k] === undefined) delete evict[k];
    if (name === "pagerank-top4") {
      // Tokens appended since the last ranking carry no score; the oracle evicts them only when no ranked
      // token is left. With refresh <= recent they are all protected, so the two agree. Unset, both take the
      // native defaults (EvictOptions: recent 50, refresh 32), which are the oracle policies' window and refreshEvery.
      const recent = ev.recent ?? DEFAULT_WINDOW;
      const refresh = ev.refresh ?? DEFAULT_REFRESH_EVERY;
      if (refresh > recent) {
        throw new InvalidArgumentError("eviction.refresh", `at most eviction.recent (${recent}) for pagerank-top4 (tokens appended since the last ranking must be protected)`, refresh);
      }
    }
    if (name === "walker" || name === "pagerank-top4") o.graph = true;
  }
  if (o.graph && o.graphHeads === "kv" && o.graphWrite === "fused" && shape.kvHeads < shape.heads) {
    throw new InvalidArgumentError(
      "graphWrite",
      `"deferred" or "auto" with graphHeads "kv" on a grouped-query model (${shape.heads} query / ${shape.kvHeads} KV heads): the group's summed probabilities need every head's final log-sum-exp (or graphHeads "query")`,
      o.graphWrite,
    );
  }
  o.scorePrompt = opts.scorePrompt ?? (evict !== undefined && evict.name !== "streaming");
  const groupedDecode = o.groupedDecode === "auto" ? 2 : o.groupedDecode ? 1 : 0;
  const addon = requireEngineAddon();
  const native = new addon.Engine(shape, { ...o, gemm: GEMM_CODE[o.gemm], groupedDecode, graphWrite: ({ fused: 0, deferred: 1, auto: 2, lazy: 3 } as const)[o.graphWrite], graphHeads: o.graphHeads === "kv" ? 1 : 0, evict });
  try {
    let tokenizer: Tokenizer | undefined;
    let eos: number | null = null;
    let bos: number | null = null;
    if (dir) {
      const config = loadConfig(dir);
      uploadCheckpoint(native, new Checkpoint(dir), shape, opts.progress ?? true);
      tokenizer = loadTokenizer(dir, config.vocabSize, config.bosTokenId);
      eos = config.eosTokenId;
      bos = config.bosTokenId;
    } else {
      const m = opts.model as { seed?: number; amplitude?: number };
      native.randomize(m.seed ?? 0, m.amplitude ?? 0.02 * Math.sqrt(3));
    }
    return new Engine(native, shape, o, tokenizer, eos, bos, evict);
  } catch (err) {
    native.dispose();
    throw err;
  }
}

function uploadCheckpoint(native: NativeEngine, ckpt: Checkpoint, s: NativeShape, showProgress: boolean): void {
  const qRows = s.heads * s.headDim;
  const kvRows = s.kvHeads * s.headDim;
  const progress = showProgress ? new Progress("load weights", s.layers + 1) : undefined;
  const put = (kind: number, layer: number, row: number, name: string, rows: number, cols: number) =>
    native.upload(kind, layer, row, rows, cols, ckpt.readFloat32(name, rows === 1 ? [cols] : [rows, cols]));
  put(WEIGHT_KIND.embed, 0, 0, "model.embed_tokens.weight", s.vocab, s.hidden);
  if (!s.tiedEmbeddings) put(WEIGHT_KIND.lmHead, 0, 0, "lm_head.weight", s.vocab, s.hidden);
  put(WEIGHT_KIND.finalNorm, 0, 0, "model.norm.weight", 1, s.hidden);
  progress?.tick();
  for (let l = 0; l < s.layers; l++) {
    const n = layerTensorNames(l);
    put(WEIGHT_KIND.attnNorm, l, 0, n.inputNorm, 1, s.hidden);
    put(WEIGHT_KIND.mlpNorm, l, 0, n.postNorm, 1, s.hidden);
    put(WEIGHT_KIND.wqkv, l, 0, n.wq, qRows, s.hidden);
    put(WEIGHT_KIND.wqkv, l, qRows, n.wk, kvRows, s.hidden);
    put(WEIGHT_KIND.wqkv, l, qRows + kvRows, n.wv, kvRows, s.hidden);
    put(WEIGHT_KIND.wo, l, 0, n.wo, s.hidden, qRows);
    put(WEIGHT_KIND.wgu, l, 0, n.wGate, s.intermediate, s.hidden);
    put(WEIGHT_KIND.wgu, l, s.intermediate, n.wUp, s.intermediate, s.hidden);
    put(WEIGHT_KIND.wdown, l, 0, n.wDown, s.hidden, s.intermediate);
    progress?.tick();
  }
}
