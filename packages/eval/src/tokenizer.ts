/**
 * The part of @kvwalk/model's `Tokenizer` that the datasets use. Declared here structurally so the
 * loaders can be tested with tiny fake tokenizers and work with any tokenizer of that shape.
 */
export interface TextTokenizer {
  /** Token ids of `text`; `addBos` prepends the BOS id (when the tokenizer has one). */
  encode(text: string, opts?: { addBos?: boolean }): Int32Array;
  decode(ids: ArrayLike<number>): string;
  readonly bosId: number | null;
}

/** Concatenates token arrays into one Int32Array. */
export function concatTokens(parts: readonly ArrayLike<number>[]): Int32Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Int32Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p as ArrayLike<number>, o);
    o += p.length;
  }
  return out;
}

/** `text`'s ids with BOS prepended, whatever the tokenizer's default (BOS only if it has one). */
export function encodeWithBos(tok: TextTokenizer, text: string): Int32Array {
  const ids = tok.encode(text, { addBos: false });
  return tok.bosId == null ? ids : concatTokens([[tok.bosId], ids]);
}
