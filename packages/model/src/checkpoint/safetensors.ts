import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { FileFormatError } from "@kvwalk/core";

/** Element types a safetensors file may declare, and the ones we read. */
export type SafetensorsDtype = "BF16" | "F16" | "F32" | "F64" | "I8" | "U8" | "I16" | "I32" | "I64" | "BOOL" | string;

/** Float types converted to f32 when reading weights. */
export const FLOAT_DTYPES = ["BF16", "F16", "F32"] as const;

const DTYPE_BYTES: Record<string, number> = { BF16: 2, F16: 2, F32: 4, F64: 8, I8: 1, U8: 1, I16: 2, I32: 4, I64: 8, BOOL: 1 };

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute byte offset of the first element in the file. */
  offset: number;
  /** Length in bytes. */
  byteLength: number;
}

/** Largest single read; a tensor is read and converted in chunks of this size (keeps peak memory low). */
const CHUNK_BYTES = 64 * 1024 * 1024;

/**
 * One safetensors file: an 8-byte little-endian header length N, N bytes of JSON describing each
 * tensor (`dtype`, `shape`, `data_offsets` relative to the end of the header), then the data.
 * Only the header is read at open; tensors are read on demand with positioned reads, so files
 * larger than 2 GiB are never loaded whole.
 */
export class SafetensorsFile {
  readonly tensors: Map<string, TensorInfo>;
  readonly metadata: Record<string, string>;
  readonly fileSize: number;
  private fd: number | null;

  constructor(readonly path: string) {
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch (err) {
      throw new FileFormatError(path, `cannot open safetensors file (${(err as NodeJS.ErrnoException).code ?? err})`, { cause: err });
    }
    this.fd = fd;
    try {
      this.fileSize = fstatSync(fd).size;
      const parsed = parseHeader(path, fd, this.fileSize);
      this.tensors = parsed.tensors;
      this.metadata = parsed.metadata;
    } catch (err) {
      closeSync(fd);
      this.fd = null;
      throw err;
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new FileFormatError(this.path, `tensor "${name}" not found (file holds ${this.tensors.size} tensors)`);
    return t;
  }

  /** Raw bytes of a tensor (for small tensors and integer types). */
  readBytes(name: string): Uint8Array {
    const t = this.info(name);
    const out = new Uint8Array(t.byteLength);
    this.readInto(t.offset, out);
    return out;
  }

  /**
   * A float tensor (BF16, F16 or F32) converted to f32, read chunk by chunk. If `expectedShape` is
   * given the stored shape must equal it.
   */
  readFloat32(name: string, expectedShape?: readonly number[]): Float32Array {
    const t = this.info(name);
    checkShape(this.path, t, expectedShape);
    if (!(FLOAT_DTYPES as readonly string[]).includes(t.dtype)) {
      throw new FileFormatError(this.path, `tensor "${name}": expected dtype one of ${FLOAT_DTYPES.join(", ")} but received ${t.dtype}`);
    }
    const elemBytes = DTYPE_BYTES[t.dtype];
    const count = t.byteLength / elemBytes;
    const out = new Float32Array(count);
    if (t.dtype === "F32") {
      this.readInto(t.offset, new Uint8Array(out.buffer));
      return out;
    }
    const chunkElems = Math.floor(CHUNK_BYTES / elemBytes);
    const scratch = new Uint16Array(Math.min(count, chunkElems));
    const scratchBytes = new Uint8Array(scratch.buffer);
    const out32 = new Uint32Array(out.buffer);
    for (let start = 0; start < count; start += chunkElems) {
      const n = Math.min(chunkElems, count - start);
      this.readInto(t.offset + start * elemBytes, scratchBytes.subarray(0, n * elemBytes));
      if (t.dtype === "BF16") {
        for (let i = 0; i < n; i++) out32[start + i] = scratch[i] << 16;
      } else {
        const table = halfTable();
        for (let i = 0; i < n; i++) out[start + i] = table[scratch[i]];
      }
    }
    return out;
  }

  /** An integer tensor (I32 or I64) as Int32Array (I64 values must fit in int32). */
  readInt32(name: string, expectedShape?: readonly number[]): Int32Array {
    const t = this.info(name);
    checkShape(this.path, t, expectedShape);
    const bytes = this.readBytes(name);
    if (t.dtype === "I32") return new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    if (t.dtype === "I64") {
      const b = new BigInt64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8);
      return Int32Array.from(b, (v) => Number(v));
    }
    throw new FileFormatError(this.path, `tensor "${name}": expected dtype I32 or I64 but received ${t.dtype}`);
  }

  private readInto(position: number, target: Uint8Array): void {
    if (this.fd === null) throw new FileFormatError(this.path, "file already closed");
    let done = 0;
    while (done < target.length) {
      const len = Math.min(CHUNK_BYTES, target.length - done);
      const n = readSync(this.fd, target, done, len, position + done);
      if (n === 0) throw new FileFormatError(this.path, `unexpected end of file at byte ${position + done} (file size ${this.fileSize})`);
      done += n;
    }
  }
}

function checkShape(path: string, t: TensorInfo, expected?: readonly number[]): void {
  if (!expected) return;
  if (expected.length !== t.shape.length || expected.some((d, i) => d !== t.shape[i])) {
    throw new FileFormatError(path, `tensor "${t.name}": expected shape [${expected.join(", ")}] but received [${t.shape.join(", ")}]`);
  }
}

function parseHeader(path: string, fd: number, fileSize: number): { tensors: Map<string, TensorInfo>; metadata: Record<string, string> } {
  if (fileSize < 8) {
    throw new FileFormatError(path, `truncated safetensors header: expected at least 8 bytes for the header length but the file has ${fileSize}`);
  }
  const lenBuf = Buffer.alloc(8);
  readSync(fd, lenBuf, 0, 8, 0);
  const headerLen = lenBuf.readBigUInt64LE(0);
  if (headerLen > BigInt(fileSize - 8)) {
    throw new FileFormatError(
      path,
      `truncated safetensors header: header length field says ${headerLen} bytes but only ${fileSize - 8} bytes follow it`,
    );
  }
  if (headerLen > 100_000_000n) throw new FileFormatError(path, `safetensors header of ${headerLen} bytes exceeds the 100 MB limit`);
  const n = Number(headerLen);
  const buf = Buffer.alloc(n);
  readSync(fd, buf, 0, n, 8);
  let json: unknown;
  try {
    json = JSON.parse(buf.toString("utf8"));
  } catch (err) {
    throw new FileFormatError(path, `safetensors header is not valid JSON (${(err as Error).message})`, { cause: err });
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new FileFormatError(path, "safetensors header: expected a JSON object");
  }
  const dataStart = 8 + n;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      metadata = (v ?? {}) as Record<string, string>;
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (
      typeof e !== "object" ||
      e === null ||
      typeof e.dtype !== "string" ||
      !Array.isArray(e.shape) ||
      !e.shape.every((d) => Number.isInteger(d) && d >= 0) ||
      !Array.isArray(e.data_offsets) ||
      e.data_offsets.length !== 2
    ) {
      throw new FileFormatError(path, `safetensors header entry "${name}": expected {dtype, shape, data_offsets}`);
    }
    const [begin, end] = e.data_offsets as number[];
    const shape = e.shape as number[];
    const elems = shape.reduce((a, b) => a * b, 1);
    const bytes = DTYPE_BYTES[e.dtype];
    if (!Number.isInteger(begin) || !Number.isInteger(end) || begin < 0 || end < begin) {
      throw new FileFormatError(path, `tensor "${name}": invalid data_offsets [${begin}, ${end}]`);
    }
    if (bytes !== undefined && end - begin !== elems * bytes) {
      throw new FileFormatError(
        path,
        `tensor "${name}": expected ${elems * bytes} bytes for ${e.dtype} [${shape.join(", ")}] but data_offsets span ${end - begin}`,
      );
    }
    if (dataStart + end > fileSize) {
      throw new FileFormatError(path, `tensor "${name}": data ends at byte ${dataStart + end} but the file has ${fileSize} bytes (truncated file)`);
    }
    tensors.set(name, { name, dtype: e.dtype, shape, offset: dataStart + begin, byteLength: end - begin });
  }
  return { tensors, metadata };
}

let HALF_TABLE: Float32Array | null = null;

/** All 65536 IEEE half values as f32 (subnormals, infinities and NaN included). */
function halfTable(): Float32Array {
  if (HALF_TABLE) return HALF_TABLE;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) t[h] = halfToFloat(h);
  HALF_TABLE = t;
  return t;
}

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? Number.NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}
