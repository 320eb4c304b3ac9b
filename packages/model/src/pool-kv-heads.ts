import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { expectInt, FileFormatError, InvalidArgumentError } from "@kvwalk/core";
import { Checkpoint, INDEX_FILE } from "./checkpoint/checkpoint.js";
import type { SafetensorsFile, TensorInfo } from "./checkpoint/safetensors.js";
import { floatToBf16, floatToHalf } from "./checkpoint/safetensors-writer.js";
import { loadConfig, type ModelConfig, parseConfig } from "./config.js";
import { layerTensorNames } from "./weights.js";

/** What `poolKvHeads` wrote. */
export interface PoolKvHeadsResult {
  /** The output folder (absolute). */
  outDir: string;
  /** The output's parsed config (num_key_value_heads = the requested count). */
  config: ModelConfig;
  /** KV heads of the input. */
  fromKvHeads: number;
  /** Input KV heads averaged into one output KV head (fromKvHeads / numKvHeads). */
  pooled: number;
  /** Tensors whose rows were pooled (every layer's k_proj and v_proj weight). */
  pooledTensors: string[];
  /** Tensors copied byte for byte. */
  copiedTensors: number;
  /** Other files of the input copied unchanged (tokenizer files, generation_config.json, ...). */
  copiedFiles: string[];
  /** Files of the input left out (weights in other formats, outputs of the source model, its model card, folders). */
  skippedFiles: string[];
}

/**
 * Files of a checkpoint folder that are not copied: weights in other formats (they would still hold
 * the source's KV heads), safetensors outside the weight map (e.g. fixture-lm's reference.safetensors:
 * outputs of the source model, which the pooled model no longer reproduces) and the source's model
 * card (a new README.md says what was done).
 */
const SKIPPED_EXT = /\.(safetensors|bin|pt|pth|ckpt|gguf|h5|msgpack|onnx)$/i;

/**
 * Mean-pools the KV heads of a Hugging Face Llama/Mistral checkpoint into `numKvHeads` (the
 * grouped-query conversion of Ainslie et al. 2023, without the uptraining): output KV head g is the
 * mean of input KV heads g*P .. g*P+P-1 (P = fromKvHeads / numKvHeads), for the rows of every layer's
 * `k_proj.weight` and `v_proj.weight` ([kvHeads*headDim, hidden], head h = rows h*headDim ..). Query
 * head h attends with KV head floor(h / (numHeads / kvHeads)) in transformers, so pooling consecutive
 * KV heads keeps every query head with the (averaged) KV head it had.
 *
 * Everything else is unchanged: other tensors are copied byte for byte (same shard files, same tensor
 * order and file metadata), config.json gets the new `num_key_value_heads` (other fields and their
 * order kept), the index's `total_size` is recomputed, tokenizer and other non-weight files are
 * copied, and a short README.md replaces the source's model card. Pooled rows are averaged in f64,
 * rounded to f32 and stored in the tensor's dtype (BF16 / F16 rounded to nearest even).
 * `numKvHeads` equal to the input's count copies the checkpoint (weights bit for bit).
 *
 * The output is written into a temporary folder beside `outDir` and renamed at the end, so a failure
 * leaves nothing half-written. `outDir` must not exist or be an empty folder.
 * Memory: one tensor at a time (its raw bytes, plus f32 copies for the pooled ones).
 */
export function poolKvHeads(inDir: string, outDir: string, numKvHeads: number, opts: { onTensor?: (done: number, total: number) => void } = {}): PoolKvHeadsResult {
  if (typeof inDir !== "string" || inDir.length === 0) throw new InvalidArgumentError("inDir", "a checkpoint directory", inDir);
  if (typeof outDir !== "string" || outDir.length === 0) throw new InvalidArgumentError("outDir", "an output directory", outDir);
  const configPath = join(inDir, "config.json");
  const config = loadConfig(inDir);
  const from = config.numKvHeads;
  expectInt("numKvHeads", numKvHeads, 1, from);
  if (from % numKvHeads !== 0) {
    const divisors = Array.from({ length: from }, (_, i) => i + 1).filter((k) => from % k === 0);
    throw new InvalidArgumentError("numKvHeads", `a divisor of the input's num_key_value_heads (${from}): one of ${divisors.join(", ")}`, numKvHeads);
  }
  const out = resolve(outDir);
  if (existsSync(out)) {
    if (!statSync(out).isDirectory() || readdirSync(out).length > 0) {
      throw new InvalidArgumentError("outDir", "a folder that does not exist or is empty", out);
    }
  }
  const P = from / numKvHeads;
  const d = config.headDim;
  const H = config.hiddenSize;
  const poolNames = new Set<string>();
  for (let l = 0; l < config.numLayers; l++) {
    const n = layerTensorNames(l);
    poolNames.add(n.wk);
    poolNames.add(n.wv);
  }

  const raw = JSON.parse(readFileSync(configPath, "utf8")) as Record<string, unknown>;
  raw.num_key_value_heads = numKvHeads;
  const outConfig = parseConfig(raw, configPath);

  const ckpt = new Checkpoint(inDir);
  const tmp = join(dirname(out), `.${basename(out)}.tmp-${process.pid}-${Date.now()}`);
  try {
    // Check the pooled tensors before writing anything.
    for (const name of poolNames) {
      const t = ckpt.info(name);
      const expected = [from * d, H];
      if (t.shape.length !== 2 || t.shape[0] !== expected[0] || t.shape[1] !== expected[1]) {
        throw new FileFormatError(ckpt.fileFor(name).path, `tensor "${name}": expected shape [${expected.join(", ")}] but received [${t.shape.join(", ")}]`);
      }
      if (!["BF16", "F16", "F32"].includes(t.dtype)) throw new FileFormatError(ckpt.fileFor(name).path, `tensor "${name}": expected dtype BF16, F16 or F32 but received ${t.dtype}`);
    }
    mkdirSync(tmp, { recursive: true });
    const files = [...new Set(ckpt.weightMap.values())];
    const sources = files.map((f) => ckpt.fileFor([...ckpt.weightMap].find(([, file]) => file === f)![0]));
    const total = sources.reduce((s, f) => s + f.tensors.size, 0);
    let done = 0;
    let totalSize = 0;
    const pooledTensors: string[] = [];
    let copiedTensors = 0;
    files.forEach((file, i) => {
      const src = sources[i];
      const rewrite = new Map<string, { shape: number[]; byteLength: number; bytes: () => Uint8Array }>();
      for (const t of src.tensors.values()) {
        if (!poolNames.has(t.name)) continue;
        rewrite.set(t.name, { shape: [numKvHeads * d, H], byteLength: t.byteLength / P, bytes: () => encode(t, poolRows(src.readFloat32(t.name), from, numKvHeads, d * H)) });
      }
      totalSize += writeShard(join(tmp, file), src, rewrite, (t) => {
        if (rewrite.has(t.name)) pooledTensors.push(t.name);
        else copiedTensors++;
        opts.onTensor?.(++done, total);
      });
    });
    if (ckpt.source.endsWith(INDEX_FILE)) {
      const index = JSON.parse(readFileSync(ckpt.source, "utf8")) as { metadata?: Record<string, unknown>; weight_map: Record<string, string> };
      if (index.metadata && typeof index.metadata === "object" && "total_size" in index.metadata) index.metadata.total_size = totalSize;
      writeFileSync(join(tmp, INDEX_FILE), `${JSON.stringify(index, null, 2)}\n`);
    }
    writeFileSync(join(tmp, "config.json"), `${JSON.stringify(raw, null, 2)}\n`);
    const weightFiles = new Set([...files, INDEX_FILE, "config.json"]);
    const copiedFiles: string[] = [];
    const skippedFiles: string[] = [];
    for (const f of readdirSync(inDir).sort()) {
      if (weightFiles.has(f)) continue;
      const src = join(inDir, f);
      if (!statSync(src).isFile() || SKIPPED_EXT.test(f) || f.toLowerCase() === "readme.md") {
        skippedFiles.push(f);
        continue;
      }
      copyFileSync(src, join(tmp, f));
      copiedFiles.push(f);
    }
    writeFileSync(join(tmp, "README.md"), readme(resolve(inDir), config, numKvHeads, skippedFiles));
    if (existsSync(out)) rmdirSync(out); // empty (checked above)
    renameSync(tmp, out);
    return { outDir: out, config: outConfig, fromKvHeads: from, pooled: P, pooledTensors, copiedTensors, copiedFiles, skippedFiles };
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  } finally {
    ckpt.close();
  }
}

/**
 * Rows of `from` heads (each `rowsPerHead` values, head-major) averaged in consecutive groups into
 * `to` heads: out[g] = mean of heads g*P .. g*P+P-1 (P = from / to), summed in f64 in head order.
 */
export function poolRows(w: Float32Array, from: number, to: number, rowsPerHead: number): Float32Array {
  if (w.length !== from * rowsPerHead) throw new InvalidArgumentError("w", `${from} x ${rowsPerHead} values`, w.length);
  const P = from / to;
  const out = new Float32Array(to * rowsPerHead);
  for (let g = 0; g < to; g++) {
    for (let i = 0; i < rowsPerHead; i++) {
      let s = 0;
      for (let p = 0; p < P; p++) s += w[(g * P + p) * rowsPerHead + i];
      out[g * rowsPerHead + i] = s / P;
    }
  }
  return out;
}

/** f32 values as the little-endian bytes of `t`'s dtype (BF16 / F16 round to nearest even). */
function encode(t: TensorInfo, v: Float32Array): Uint8Array {
  if (t.dtype === "F32") return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  const h = new Uint16Array(v.length);
  const f = t.dtype === "BF16" ? floatToBf16 : floatToHalf;
  for (let i = 0; i < v.length; i++) h[i] = f(v[i]);
  return new Uint8Array(h.buffer);
}

/**
 * Writes a safetensors file with the tensors of `src` in their stored order (and its metadata), laid
 * out as `encodeSafetensors` lays it out, streaming one tensor at a time: tensors named in `rewrite`
 * get its shape and bytes (same dtype), the others are copied byte for byte. Returns the data bytes.
 */
function writeShard(
  path: string,
  src: SafetensorsFile,
  rewrite: ReadonlyMap<string, { shape: number[]; byteLength: number; bytes: () => Uint8Array }>,
  onTensor: (t: TensorInfo) => void,
): number {
  const tensors = [...src.tensors.values()].sort((a, b) => a.offset - b.offset);
  const header: Record<string, unknown> = {};
  if (Object.keys(src.metadata).length > 0) header.__metadata__ = src.metadata;
  let offset = 0;
  for (const t of tensors) {
    const r = rewrite.get(t.name);
    const n = r ? r.byteLength : t.byteLength;
    header[t.name] = { dtype: t.dtype, shape: r ? r.shape : t.shape, data_offsets: [offset, offset + n] };
    offset += n;
  }
  let json = JSON.stringify(header);
  while ((json.length + 8) % 8 !== 0) json += " ";
  const headerBytes = new TextEncoder().encode(json);
  const fd = openSync(path, "w");
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(headerBytes.length), 0);
    writeAll(fd, len);
    writeAll(fd, headerBytes);
    for (const t of tensors) {
      const r = rewrite.get(t.name);
      const bytes = r ? r.bytes() : src.readBytes(t.name);
      if (r && bytes.length !== r.byteLength) throw new Error(`internal: ${t.name} produced ${bytes.length} bytes, expected ${r.byteLength}`);
      writeAll(fd, bytes);
      onTensor(t);
    }
  } finally {
    closeSync(fd);
  }
  return offset;
}

function writeAll(fd: number, b: Uint8Array): void {
  let done = 0;
  while (done < b.length) done += writeSync(fd, b, done, b.length - done);
}

function readme(src: string, c: ModelConfig, to: number, skipped: string[]): string {
  const P = c.numKvHeads / to;
  const groups = Array.from({ length: to }, (_, g) => `KV head ${g} = mean of source KV heads ${Array.from({ length: P }, (_, p) => g * P + p).join(", ")}`);
  return `# ${basename(src)}, KV heads mean-pooled ${c.numKvHeads} -> ${to}

Written by \`kvwalk-model pool-kv-heads\` (@kvwalk/model \`poolKvHeads\`) from \`${src}\`: a grouped-query
stand-in, ${c.numHeads} query heads sharing ${to} KV heads (${c.numHeads / to} query heads per KV head), made by
mean-pooling each group of ${P} consecutive KV heads' \`k_proj\` and \`v_proj\` rows in every layer
(Ainslie et al. 2023's conversion, **without uptraining**, so it is a worse model than the source):
${groups.map((g) => `- ${g}`).join("\n")}

Every other tensor is the source's, byte for byte; config.json differs only in \`num_key_value_heads\`.
Not copied from the source: ${skipped.length ? skipped.map((f) => `\`${f}\``).join(", ") : "nothing"} (the source's model card, outputs
of the source model and weights in other formats would not describe this checkpoint).
`;
}
