import type { LoadedModel } from "@kvwalk/model";
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
