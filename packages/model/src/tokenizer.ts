import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { FileFormatError } from "@kvwalk/core";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";

/** Text <-> token ids for one checkpoint. */
export interface Tokenizer {
  /** Token ids of `text`; BOS is prepended when `addBos` (default: tokenizer_config's add_bos_token, else true when a BOS exists). */
  encode(text: string, opts?: { addBos?: boolean }): Int32Array;
  decode(ids: ArrayLike<number>): string;
  /** Number of ids the tokenizer can emit (largest id + 1, added tokens included). */
  vocabSize: number;
  bosId: number | null;
}

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new FileFormatError(file, `cannot read JSON (${(err as Error).message})`, { cause: err });
  }
}

function tokenContent(v: unknown): string | null {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && typeof (v as { content?: unknown }).content === "string") return (v as { content: string }).content;
  return null;
}

/**
 * Loads `tokenizer.json` (with `tokenizer_config.json` when present) through @huggingface/tokenizers.
 * Special tokens from the post-processor are not added; BOS handling follows add_bos_token.
 * `modelVocab` (config.json vocab_size) must be >= the tokenizer's vocabulary.
 */
export function loadTokenizer(dir: string, modelVocab: number, fallbackBosId: number | null = null): Tokenizer {
  const file = join(dir, "tokenizer.json");
  if (!existsSync(file)) throw new FileFormatError(file, "tokenizer.json is missing");
  const json = readJson(file);
  const cfgFile = join(dir, "tokenizer_config.json");
  const cfg = existsSync(cfgFile) ? readJson(cfgFile) : {};
  let hf: HfTokenizer;
  try {
    hf = new HfTokenizer(json, cfg);
  } catch (err) {
    throw new FileFormatError(file, `cannot build tokenizer (${(err as Error).message})`, { cause: err });
  }
  let maxId = -1;
  for (const id of hf.get_vocab(true).values()) if (id > maxId) maxId = id;
  const vocabSize = maxId + 1;
  if (vocabSize > modelVocab) {
    throw new FileFormatError(file, `tokenizer vocabulary: expected at most ${modelVocab} tokens (config.json vocab_size) but received ${vocabSize}`);
  }
  const bosText = tokenContent(cfg.bos_token);
  const bosId = (bosText !== null ? hf.token_to_id(bosText) : undefined) ?? fallbackBosId;
  const addBosDefault = typeof cfg.add_bos_token === "boolean" ? cfg.add_bos_token : bosId !== null;
  return {
    vocabSize,
    bosId,
    encode(text: string, opts: { addBos?: boolean } = {}): Int32Array {
      const ids = hf.encode(text, { add_special_tokens: false }).ids;
      const addBos = (opts.addBos ?? addBosDefault) && bosId !== null;
      const out = new Int32Array(ids.length + (addBos ? 1 : 0));
      if (addBos) out[0] = bosId as number;
      out.set(ids, addBos ? 1 : 0);
      return out;
    },
    decode(ids: ArrayLike<number>): string {
      return hf.decode(Array.from(ids));
    },
  };
}
