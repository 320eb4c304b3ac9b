import type { LoadedModel } from "@kvwalk/model";
import type { GpuEngineHandle } from "./harness/gpu.js";
import type { TextTokenizer } from "./tokenizer.js";

/**
 * A character-level tokenizer for unit tests: id = UTF-16 code unit + 3, BOS = 1. Exact round
 * trips and predictable lengths make hand-computed cases easy.
 */
export function charTokenizer(): TextTokenizer {
  return {
    bosId: 1,
    encode(text: string, opts?: { addBos?: boolean }): Int32Array {
      const out = new Int32Array(text.length + (opts?.addBos ? 1 : 0));
      let o = 0;
      if (opts?.addBos) out[o++] = 1;
      for (let i = 0; i < text.length; i++) out[o++] = text.charCodeAt(i) + 3;
      return out;
    },
    decode(ids: ArrayLike<number>): string {
      let s = "";
      for (let i = 0; i < ids.length; i++) if (ids[i] >= 3) s += String.fromCharCode(ids[i] - 3);
      return s;
    },
  };
}

/**
 * Wraps a LoadedModel so that `finish({ positions })` also returns logits [P, vocab] whose argmax
 * at row p is `answerAt(position)` (a fake model without an LM head at positions can then go
 * through needle scoring). `seen` records the positions asked for.
 */
export function withFakeLogits(model: LoadedModel, answerAt: (tokens: Int32Array, position: number) => number): LoadedModel & { seen: number[][] } {
  const seen: number[][] = [];
  const V = model.config.vocabSize;
  return {
    ...model,
    config: model.config,
    tokenizer: model.tokenizer,
    seen,
    forward: (t, o) => model.forward(t, o),
    dispose: () => model.dispose(),
    async stepper(tokens: Int32Array) {
      const st = await model.stepper(tokens);
      return {
        get length() {
          return st.length;
        },
        get layer() {
          return st.layer;
        },
        qkv: () => st.qkv(),
        logits: (h: number) => st.logits(h),
        attend: (e?: Int32Array, o?: { captureHeads?: number[] }) => st.attend(e, o),
        async finish(o?: { positions?: number[] }) {
          const positions = o?.positions ?? [];
          seen.push(positions);
          const r = await st.finish(o);
          const logits = new Float32Array(positions.length * V);
          positions.forEach((p, i) => {
            logits[i * V + answerAt(tokens, p)] = 1;
          });
          return { ...r, logits };
        },
      };
    },
  };
}

/** Counters of a fake GPU engine (see `fakeGpuEngine`). */
export interface FakeEngineLog {
  created: number;
  disposed: number;
  prefills: number;
  decodes: number;
  /** Decode steps that copied logits to the host. */
  logitSteps: number;
  /** Largest batch a decode step advanced. */
  maxBatch: number;
}

export const FAKE_EOS = 2;

/**
 * A fake of the native engine's prefill/decode for CPU tests of the GPU backend's bookkeeping. Each
 * region holds its own list of (token, position) slots; the logits of a step depend on every cached
 * slot and the token just appended, so a wrong row, position or eviction shows. Eviction mimics the
 * engine: a region that holds `capacity` slots is compacted to `budget` before the append, keeping
 * `sinks` first and `recent - 1` last slots and the rest by score (h2o: accumulated, tova: latest,
 * walker: decayed and dependent on the engine's global step count, streaming: recency). Like the real
 * engine, prefill does not clear a region's scores, so reusing an engine for h2o or walker would
 * change results. Calls while a step is in flight throw (the engine is busy). After appending a token
 * t with t % 7 === 3 the next token is EOS (id 2), so greedy generations stop at different lengths.
 */
export function fakeGpuEngine(
  spec: { capacity: number; maxBatch: number; eviction?: { policy: string; budget: number; sinks?: number; recent?: number } },
  vocab: number,
  log: FakeEngineLog,
): GpuEngineHandle {
  log.created++;
  const C = spec.capacity;
  const ev = spec.eviction;
  const regions = Array.from({ length: spec.maxBatch }, () => ({ toks: [] as number[], pos: [] as number[], next: 0, scores: new Float64Array(C) }));
  let busy = false;
  let steps = 0;
  const logitsOf = (b: number): Float32Array => {
    const r = regions[b];
    let h = 0;
    for (let i = 0; i < r.toks.length; i++) h += Math.cos(r.toks[i] * 0.37 + r.pos[i] * 0.11);
    const last = r.toks[r.toks.length - 1];
    const row = new Float32Array(vocab);
    for (let v = 0; v < vocab; v++) row[v] = Math.sin(v * 1.3 + last * 0.9 + h * 0.7) * 3;
    row[FAKE_EOS] = last % 7 === 3 ? 10 : -10;
    return row;
  };
  const score = (b: number) => {
    const r = regions[b];
    const last = r.toks[r.toks.length - 1];
    for (let j = 0; j < r.toks.length; j++) {
      const w = ((r.toks[j] * 7 + last * 3 + j) % 11) / 11;
      if (ev?.policy === "h2o") r.scores[j] += w;
      else if (ev?.policy === "tova") r.scores[j] = w;
      else if (ev?.policy === "walker") r.scores[j] = 0.5 * r.scores[j] + w + (steps % 3) * 0.01;
    }
  };
  const compact = (b: number) => {
    const r = regions[b];
    const len = r.toks.length;
    const target = ev!.budget;
    const sinks = ev!.sinks ?? 4;
    const recent = Math.max(0, (ev!.recent ?? 50) - 1);
    const keep = new Array<boolean>(len).fill(false);
    for (let j = 0; j < len; j++) if (j < sinks || j >= len - recent) keep[j] = true;
    const middle: number[] = [];
    for (let j = 0; j < len; j++) if (!keep[j]) middle.push(j);
    let room = target - keep.filter(Boolean).length;
    const order = ev!.policy === "streaming" ? middle.slice().reverse() : middle.slice().sort((x, y) => r.scores[y] - r.scores[x] || y - x);
    for (const j of order) if (room-- > 0) keep[j] = true;
    const kept = [...keep.keys()].filter((j) => keep[j]);
    r.toks = kept.map((j) => r.toks[j]);
    r.pos = kept.map((j) => r.pos[j]);
    const sc = kept.map((j) => r.scores[j]);
    r.scores.fill(0, 0, len);
    sc.forEach((s, i) => {
      r.scores[i] = s;
    });
  };
  const later = <T>(fn: () => T): Promise<T> => {
    if (busy) throw new Error("the engine is busy with another call (calls must be queued)");
    busy = true;
    return new Promise<T>((resolve, reject) =>
      setImmediate(() => {
        busy = false;
        try {
          resolve(fn());
        } catch (e) {
          reject(e);
        }
      }),
    );
  };
  const native: GpuEngineHandle["native"] = {
    prefill: (regionIds: Int32Array, tokens: Int32Array, offsets: Int32Array, _all: boolean) =>
      later(() => {
        log.prefills++;
        const last = new Float32Array(regionIds.length * vocab);
        regionIds.forEach((b, i) => {
          const r = regions[b];
          r.toks = Array.from(tokens.subarray(offsets[i], offsets[i + 1]));
          r.pos = r.toks.map((_, p) => p);
          r.next = r.toks.length; // scores are left as they were, as on the engine
          last.set(logitsOf(b), i * vocab);
        });
        return { last };
      }),
    decode: (tokens: Int32Array, _temperature: Float32Array, _topP: Float32Array, _seed: number, wantLogits: boolean) =>
      later(() => {
        const B = tokens.length;
        if (B > spec.maxBatch) throw new Error(`batch ${B} outside [1, maxBatch ${spec.maxBatch}]`);
        log.decodes++;
        log.maxBatch = Math.max(log.maxBatch, B);
        if (wantLogits) log.logitSteps++;
        const logits = new Float32Array(B * vocab);
        const next = new Int32Array(B);
        for (let b = 0; b < B; b++) {
          const r = regions[b];
          if (r.toks.length >= C) {
            if (!ev) throw new Error(`sequence ${b} filled its cache (capacity ${C})`);
            compact(b);
          }
          if (tokens[b] < 0 || tokens[b] >= vocab) throw new Error("a token id is outside the vocabulary");
          r.toks.push(tokens[b]);
          r.pos.push(r.next++);
          score(b);
          const row = logitsOf(b);
          logits.set(row, b * vocab);
          next[b] = argmaxOf(row);
        }
        steps++;
        return { next, logprob: new Float32Array(B), logits: wantLogits ? logits : undefined };
      }),
  };
  return {
    native,
    async dispose() {
      log.disposed++;
    },
  };
}

function argmaxOf(row: Float32Array): number {
  let best = 0;
  for (let v = 1; v < row.length; v++) if (row[v] > row[best]) best = v;
  return best;
}
