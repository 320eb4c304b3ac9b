import { readFileSync } from "node:fs";
import { expectInt, expectOneOf, FileFormatError, requireShared } from "@kvwalk/core";
import { encodeWithBos, type TextTokenizer } from "../../tokenizer.js";

export const WIKITEXT2_SPLITS = ["test", "valid"] as const;
export type WikiText2Split = (typeof WIKITEXT2_SPLITS)[number];

/** Path of a raw WikiText-2 split inside the shared data folder (throws DataNotFoundError if absent). */
export function wikiText2Path(split: WikiText2Split): string {
  expectOneOf("split", split, WIKITEXT2_SPLITS);
  return requireShared(`data/wikitext-2-raw/wiki.${split}.raw`, `WikiText-2 ${split} split`);
}

/** The raw text of a split (UTF-8, LF line endings), checked to be non-empty text. */
export function readWikiText2(split: WikiText2Split, file: string = wikiText2Path(split)): string {
  const text = readFileSync(file, "utf8");
  if (text.length === 0) throw new FileFormatError(file, "empty file");
  if (text.includes("\u0000")) throw new FileFormatError(file, "contains NUL bytes; expected raw UTF-8 text");
  return text;
}

/** One evaluation window: `tokens` [T], of which tokens 1..T-1 are predicted and scored. */
export interface TextWindow {
  id: string;
  /** Offset of tokens[0] in the whole tokenized text. */
  start: number;
  tokens: Int32Array;
}

/**
 * Non-overlapping windows of `windowTokens` over BOS + the whole text as one string (the model
 * card's protocol: each window's first token is context only, so every other token is scored once).
 * The last, shorter window is kept if it has at least `minTokens` tokens.
 */
export function windowsOf(ids: Int32Array, windowTokens: number, prefix: string, minTokens = 2): TextWindow[] {
  expectInt("windowTokens", windowTokens, 2);
  expectInt("minTokens", minTokens, 2);
  const out: TextWindow[] = [];
  for (let s = 0, w = 0; s < ids.length; s += windowTokens, w++) {
    const tokens = ids.subarray(s, Math.min(ids.length, s + windowTokens));
    if (tokens.length < minTokens) break;
    out.push({ id: `${prefix}#${w}`, start: s, tokens });
  }
  return out;
}

/** Tokenizes a split (BOS + whole text) and cuts it into windows; `maxWindows` keeps the first ones. */
export function wikiText2Windows(
  tok: TextTokenizer,
  opts: { split?: WikiText2Split; windowTokens?: number; maxWindows?: number; file?: string } = {},
): { windows: TextWindow[]; totalTokens: number } {
  const split = opts.split ?? "test";
  const text = readWikiText2(split, opts.file ?? wikiText2Path(split));
  const ids = encodeWithBos(tok, text);
  let windows = windowsOf(ids, opts.windowTokens ?? 4096, `wikitext2-${split}`);
  if (opts.maxWindows !== undefined) windows = windows.slice(0, expectInt("maxWindows", opts.maxWindows, 1));
  return { windows, totalTokens: ids.length };
}
