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
