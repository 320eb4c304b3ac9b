import { expectInt, InvalidArgumentError } from "@kvwalk/core";
import type { LayerStepper, LoadedModel, ModelConfig, Tokenizer } from "@kvwalk/model";
import { Rng } from "@kvwalk/runtime";

export interface FakeModelOptions {
  numLayers?: number;
  numHeads?: number;
  numKvHeads?: number;
  headDim?: number;
  vocabSize?: number;
  seed?: number;
}

/**
 * A tiny random-weight attention LM implementing @kvwalk/model's LoadedModel, in plain TypeScript,
 * for tests that must run without the shared model: embeddings with a positional term, per layer
 * q/k/v projections, attention under the given eviction times (`attend`), a residual output
 * projection, and an untied LM head. No RoPE, norms or MLP; it only has to be a deterministic model
 * whose NLL depends on which keys each query sees.
 */
export function createFakeModel(opts: FakeModelOptions = {}): LoadedModel {
  const numLayers = expectInt("numLayers", opts.numLayers ?? 2, 1);
  const numHeads = expectInt("numHeads", opts.numHeads ?? 4, 1);
  const numKvHeads = expectInt("numKvHeads", opts.numKvHeads ?? 2, 1);
  if (numHeads % numKvHeads !== 0) throw new InvalidArgumentError("numHeads", `a multiple of numKvHeads (${numKvHeads})`, numHeads);
  const d = expectInt("headDim", opts.headDim ?? 8, 1);
  const V = expectInt("vocabSize", opts.vocabSize ?? 64, 4);
  const H = numHeads * d;
  const rng = new Rng(opts.seed ?? 1);
  const rand = (n: number, scale: number) => Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * scale);
  const embed = rand(V * H, 1);
  const layers = Array.from({ length: numLayers }, () => ({
    wq: rand(H * H, 1.5 / Math.sqrt(H)),
    wk: rand(numKvHeads * d * H, 1.5 / Math.sqrt(H)),
    wv: rand(numKvHeads * d * H, 1 / Math.sqrt(H)),
    wo: rand(H * H, 1 / Math.sqrt(H)),
  }));
  const head = rand(V * H, 2 / Math.sqrt(H));
  const config: ModelConfig = {
    modelType: "llama",
    numLayers,
    numHeads,
    numKvHeads,
    headDim: d,
    hiddenSize: H,
    intermediateSize: H,
    vocabSize: V,
    maxPositions: 1 << 16,
    ropeTheta: 10000,
    rmsNormEps: 1e-5,
    tieWordEmbeddings: false,
    slidingWindow: null,
    bosTokenId: 1,
    eosTokenId: 2,
  };
  const tokenizer: Tokenizer = {
    vocabSize: V,
    bosId: 1,
    encode(text: string, o: { addBos?: boolean } = {}) {
      const ids = Array.from(Buffer.from(text, "utf8"), (b) => 3 + (b % (V - 3)));
      return Int32Array.from(o.addBos === false ? ids : [1, ...ids]);
    },
    decode(ids: ArrayLike<number>) {
      return Array.from(ids, (i) => String.fromCharCode(97 + (i % 26))).join("");
    },
  };

  /** out[T, rows] = x[T, cols] . W^T, W [rows, cols]. */
  const matmulT = (x: Float32Array, T: number, cols: number, W: Float32Array, rows: number): Float32Array => {
    const out = new Float32Array(T * rows);
    for (let t = 0; t < T; t++) {
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let c = 0; c < cols; c++) s += x[t * cols + c] * W[r * cols + c];
        out[t * rows + r] = s;
      }
    }
    return out;
  };

  const stepper = async (tokens: Int32Array): Promise<LayerStepper> => {
    const T = tokens.length;
    let h = new Float32Array(T * H);
    for (let t = 0; t < T; t++) {
      for (let c = 0; c < H; c++) h[t * H + c] = embed[tokens[t] * H + c] + 0.5 * Math.sin((t + 1) / (1 + c));
    }
    let layer = 0;
    let cur: { q: Float32Array; k: Float32Array; v: Float32Array } | null = null;
    const qkvNow = () => {
      if (layer >= numLayers) throw new Error("all layers attended");
      if (!cur) {
        const w = layers[layer];
        // [T, heads*d] -> head-major [heads, T, d]
        const toHeads = (m: Float32Array, heads: number) => {
          const o = new Float32Array(heads * T * d);
          for (let t = 0; t < T; t++) for (let hh = 0; hh < heads; hh++) for (let i = 0; i < d; i++) o[(hh * T + t) * d + i] = m[t * heads * d + hh * d + i];
          return o;
        };
        cur = {
          q: toHeads(matmulT(h, T, H, w.wq, H), numHeads),
          k: toHeads(matmulT(h, T, H, w.wk, numKvHeads * d), numKvHeads),
          v: toHeads(matmulT(h, T, H, w.wv, numKvHeads * d), numKvHeads),
        };
      }
      return cur;
    };
    const G = numHeads / numKvHeads;
    const logitsOf = (hq: number): Float32Array => {
      const { q, k } = qkvNow();
      const kh = Math.floor(hq / G);
      const out = new Float32Array(T * T).fill(Number.NEGATIVE_INFINITY);
      const scale = 1 / Math.sqrt(d);
      for (let t = 0; t < T; t++) {
        for (let j = 0; j <= t; j++) {
          let s = 0;
          for (let i = 0; i < d; i++) s += q[(hq * T + t) * d + i] * k[(kh * T + j) * d + i];
          out[t * T + j] = s * scale;
        }
      }
      return out;
    };
    return {
      get length() {
        return T;
      },
      get layer() {
        return layer;
      },
      async qkv() {
        return qkvNow();
      },
      async logits(hq: number) {
        expectInt("head", hq, 0, numHeads - 1);
        return logitsOf(hq);
      },
      async attend(evict?: Int32Array, o: { captureHeads?: number[] } = {}) {
        if (evict !== undefined && (!(evict instanceof Int32Array) || evict.length !== numKvHeads * T)) {
          throw new InvalidArgumentError("evict", `Int32Array of length ${numKvHeads * T}`, evict);
        }
        const { v } = qkvNow();
        const attn = new Float32Array(T * H);
        const probs = new Map<number, Float32Array>();
        for (let hq = 0; hq < numHeads; hq++) {
          const kh = Math.floor(hq / G);
          const L = logitsOf(hq);
          const P = new Float32Array(T * T);
          for (let t = 0; t < T; t++) {
            let m = Number.NEGATIVE_INFINITY;
            for (let j = 0; j <= t; j++) {
              const e = evict ? evict[kh * T + j] : T;
              if (t < e) m = Math.max(m, L[t * T + j]);
            }
            let s = 0;
            for (let j = 0; j <= t; j++) {
              const e = evict ? evict[kh * T + j] : T;
              const p = t < e ? Math.exp(L[t * T + j] - m) : 0;
              P[t * T + j] = p;
              s += p;
            }
            for (let j = 0; j <= t; j++) P[t * T + j] /= s;
            for (let i = 0; i < d; i++) {
              let a = 0;
              for (let j = 0; j <= t; j++) a += P[t * T + j] * v[(kh * T + j) * d + i];
              attn[t * H + hq * d + i] = a;
            }
          }
          if (o.captureHeads?.includes(hq)) probs.set(hq, P);
        }
        const proj = matmulT(attn, T, H, layers[layer].wo, H);
        const next = new Float32Array(T * H);
        for (let i = 0; i < next.length; i++) next[i] = h[i] + proj[i];
        h = next;
        layer++;
        cur = null;
        return o.captureHeads ? { probs } : {};
      },
      async finish() {
        if (layer !== numLayers) throw new Error(`finish(): stepper at layer ${layer}`);
        const logits = matmulT(h, T, H, head, V);
        const nll = new Float32Array(T - 1);
        for (let t = 0; t + 1 < T; t++) {
          let m = Number.NEGATIVE_INFINITY;
          for (let c = 0; c < V; c++) m = Math.max(m, logits[t * V + c]);
          let s = 0;
          for (let c = 0; c < V; c++) s += Math.exp(logits[t * V + c] - m);
          nll[t] = m + Math.log(s) - logits[t * V + tokens[t + 1]];
        }
        return { nll };
      },
    };
  };

  const model: LoadedModel = {
    config,
    dir: "fake",
    tokenizer,
    stepper,
    async forward(tokens: Int32Array) {
      const st = await stepper(tokens);
      for (let l = 0; l < numLayers; l++) await st.attend();
      const { nll } = await st.finish();
      return { logits: new Float32Array(0), nll };
    },
    async dispose() {},
  };
  return model;
}
