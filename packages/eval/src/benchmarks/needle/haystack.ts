import type { TextTokenizer } from "../../tokenizer.js";
import { readWikiText2, type WikiText2Split, wikiText2Path } from "../wikitext2/loader.js";

const cache = new WeakMap<TextTokenizer, Map<string, Int32Array>>();

/**
 * Filler tokens for needle samples: the whole WikiText-2 validation text, tokenized without BOS
 * (natural text the fixture model never saw in training). Memoised per tokenizer and split.
 */
export function wikiTextHaystack(tok: TextTokenizer, split: WikiText2Split = "valid", file?: string): Int32Array {
  let m = cache.get(tok);
  if (!m) {
    m = new Map();
    cache.set(tok, m);
  }
  const key = file ?? split;
  let ids = m.get(key);
  if (!ids) {
    ids = tok.encode(readWikiText2(split, file ?? wikiText2Path(split)), { addBos: false });
    m.set(key, ids);
  }
  return ids;
}
