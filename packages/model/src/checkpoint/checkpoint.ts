import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { FileFormatError } from "@kvwalk/core";
import { SafetensorsFile, type TensorInfo } from "./safetensors.js";

export const INDEX_FILE = "model.safetensors.index.json";
export const SINGLE_FILE = "model.safetensors";

/**
 * The weights of a Hugging Face model directory: either `model.safetensors`, or the shards named by
 * `model.safetensors.index.json` (`weight_map`: tensor name -> shard file). Shards are opened
 * lazily and only their headers are read; tensors are read by offset.
 */
export class Checkpoint {
  private readonly files = new Map<string, SafetensorsFile>();
  /** tensor name -> file name (relative to dir). */
  readonly weightMap: Map<string, string>;
  /** The file the map came from (index or single file), for error messages. */
  readonly source: string;

  constructor(readonly dir: string) {
    const indexPath = join(dir, INDEX_FILE);
    const singlePath = join(dir, SINGLE_FILE);
    if (existsSync(indexPath)) {
      this.source = indexPath;
      let index: { weight_map?: Record<string, string> };
      try {
        index = JSON.parse(readFileSync(indexPath, "utf8"));
      } catch (err) {
        throw new FileFormatError(indexPath, `not valid JSON (${(err as Error).message})`, { cause: err });
      }
      if (!index || typeof index.weight_map !== "object" || index.weight_map === null) {
        throw new FileFormatError(indexPath, 'expected an object field "weight_map" (tensor name -> shard file)');
      }
      this.weightMap = new Map(Object.entries(index.weight_map));
      for (const shard of new Set(this.weightMap.values())) {
        if (!existsSync(join(dir, shard))) {
          const example = [...this.weightMap].find(([, f]) => f === shard)?.[0];
          throw new FileFormatError(join(dir, shard), `shard listed in ${INDEX_FILE} (e.g. for tensor "${example}") is missing`);
        }
      }
    } else if (existsSync(singlePath)) {
      this.source = singlePath;
      const f = this.open(SINGLE_FILE);
      this.weightMap = new Map([...f.tensors.keys()].map((k) => [k, SINGLE_FILE]));
    } else {
      throw new FileFormatError(dir, `no weights: expected ${SINGLE_FILE} or ${INDEX_FILE}`);
    }
  }

  has(name: string): boolean {
    return this.weightMap.has(name);
  }

  /** The file holding `name`; error naming the tensor and the index/file if absent. */
  fileFor(name: string): SafetensorsFile {
    const file = this.weightMap.get(name);
    if (file === undefined) throw new FileFormatError(this.source, `missing tensor "${name}"`);
    const f = this.open(file);
    if (!f.tensors.has(name)) throw new FileFormatError(f.path, `missing tensor "${name}" (listed in ${INDEX_FILE})`);
    return f;
  }

  info(name: string): TensorInfo {
    return this.fileFor(name).info(name);
  }

  readFloat32(name: string, expectedShape?: readonly number[]): Float32Array {
    return this.fileFor(name).readFloat32(name, expectedShape);
  }

  /** Distinct dtypes over all tensors (reads every shard header). */
  dtypes(): string[] {
    const s = new Set<string>();
    for (const name of this.weightMap.keys()) s.add(this.info(name).dtype);
    return [...s].sort();
  }

  /** Total element count over all tensors. */
  parameterCount(): number {
    let n = 0;
    for (const name of this.weightMap.keys()) n += this.info(name).shape.reduce((a, b) => a * b, 1);
    return n;
  }

  close(): void {
    for (const f of this.files.values()) f.close();
    this.files.clear();
  }

  private open(file: string): SafetensorsFile {
    let f = this.files.get(file);
    if (!f) {
      const p = join(this.dir, file);
      if (!existsSync(p)) throw new FileFormatError(p, "shard file is missing");
      f = new SafetensorsFile(p);
      this.files.set(file, f);
    }
    return f;
  }
}
