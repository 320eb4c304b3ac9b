/**
 * A minimal WebAssembly binary writer for the policies' numeric kernels (triangle-kernels.ts): just
 * the instructions those kernels use, emitted as bytes, so the kernels need no toolchain and are
 * TypeScript like the rest of the package. Spec: WebAssembly Core 2.0 binary format (sections,
 * LEB128 immediates) and its fixed-width SIMD proposal (0xfd-prefixed opcodes).
 */

export type ValType = "i32" | "i64" | "f32" | "f64" | "v128";
const TYPE_CODE: Record<ValType, number> = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b };

function uleb(n: number, out: number[]): void {
  let v = n >>> 0;
  do {
    const b = v & 0x7f;
    v >>>= 7;
    out.push(v !== 0 ? b | 0x80 : b);
  } while (v !== 0);
}

function sleb(n: number, out: number[]): void {
  let v = n | 0;
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

/** Instruction stream of one function body; locals are referred to by index (params first). */
export class Code {
  readonly bytes: number[] = [];
  private op(...b: number[]): this {
    this.bytes.push(...b);
    return this;
  }
  private mem(opcode: number, align: number, offset = 0): this {
    this.bytes.push(opcode);
    uleb(align, this.bytes);
    uleb(offset, this.bytes);
    return this;
  }
  private simd(opcode: number): this {
    this.bytes.push(0xfd);
    uleb(opcode, this.bytes);
    return this;
  }
  private simdMem(opcode: number, align: number, offset = 0): this {
    this.simd(opcode);
    uleb(align, this.bytes);
    uleb(offset, this.bytes);
    return this;
  }

  // Control. Blocks have no result (block type 0x40).
  block(): this {
    return this.op(0x02, 0x40);
  }
  loop(): this {
    return this.op(0x03, 0x40);
  }
  if(): this {
    return this.op(0x04, 0x40);
  }
  else(): this {
    return this.op(0x05);
  }
  end(): this {
    return this.op(0x0b);
  }
  br(depth: number): this {
    return this.op(0x0c, depth);
  }
  brIf(depth: number): this {
    return this.op(0x0d, depth);
  }

  // Locals and constants.
  get(i: number): this {
    this.bytes.push(0x20);
    uleb(i, this.bytes);
    return this;
  }
  set(i: number): this {
    this.bytes.push(0x21);
    uleb(i, this.bytes);
    return this;
  }
  tee(i: number): this {
    this.bytes.push(0x22);
    uleb(i, this.bytes);
    return this;
  }
  i32(v: number): this {
    this.bytes.push(0x41);
    sleb(v, this.bytes);
    return this;
  }
  f64(v: number): this {
    this.bytes.push(0x44);
    const b = new Uint8Array(new Float64Array([v]).buffer);
    this.bytes.push(...b);
    return this;
  }

  // Memory (byte addresses; offsets in bytes).
  i32Load(offset = 0): this {
    return this.mem(0x28, 2, offset);
  }
  f32Load(offset = 0): this {
    return this.mem(0x2a, 2, offset);
  }
  f64Load(offset = 0): this {
    return this.mem(0x2b, 3, offset);
  }
  f32Store(offset = 0): this {
    return this.mem(0x38, 2, offset);
  }
  i32Store(offset = 0): this {
    return this.mem(0x36, 2, offset);
  }
  f64Store(offset = 0): this {
    return this.mem(0x39, 3, offset);
  }

  // i32.
  i32Eqz(): this {
    return this.op(0x45);
  }
  i32Ne(): this {
    return this.op(0x47);
  }
  i32LtS(): this {
    return this.op(0x48);
  }
  i32GeS(): this {
    return this.op(0x4e);
  }
  i32GtS(): this {
    return this.op(0x4a);
  }
  i32Add(): this {
    return this.op(0x6a);
  }
  i32Sub(): this {
    return this.op(0x6b);
  }
  i32Mul(): this {
    return this.op(0x6c);
  }
  i32And(): this {
    return this.op(0x71);
  }
  i32Shl(): this {
    return this.op(0x74);
  }
  i32ShrU(): this {
    return this.op(0x76);
  }

  i32Xor(): this {
    return this.op(0x73);
  }
  i32Eq(): this {
    return this.op(0x46);
  }
  i32LeS(): this {
    return this.op(0x4c);
  }
  select(): this {
    return this.op(0x1b);
  }

  // i64 (for exact 32 x 32 -> 64-bit products).
  i64ExtendI32U(): this {
    return this.op(0xad);
  }
  i64Mul(): this {
    return this.op(0x7e);
  }
  i64ShrU(): this {
    return this.op(0x88);
  }
  i64Const32(v: number): this {
    // i64.const of a value in [0, 2^31): its signed LEB128 is the same as for i32.
    this.bytes.push(0x42);
    sleb(v, this.bytes);
    return this;
  }
  i32WrapI64(): this {
    return this.op(0xa7);
  }

  // f32 scalar.
  f32(v: number): this {
    this.bytes.push(0x43);
    this.bytes.push(...new Uint8Array(new Float32Array([v]).buffer));
    return this;
  }
  f32Gt(): this {
    return this.op(0x5e);
  }
  f32Le(): this {
    return this.op(0x5f);
  }
  f32Add(): this {
    return this.op(0x92);
  }

  // f64 scalar.
  f64Lt(): this {
    return this.op(0x63);
  }
  f64Ge(): this {
    return this.op(0x66);
  }
  f64ConvertI32U(): this {
    return this.op(0xb8);
  }
  f64Ne(): this {
    return this.op(0x62);
  }
  f64Gt(): this {
    return this.op(0x64);
  }
  f64Add(): this {
    return this.op(0xa0);
  }
  f64Sub(): this {
    return this.op(0xa1);
  }
  f64Mul(): this {
    return this.op(0xa2);
  }
  f64Div(): this {
    return this.op(0xa3);
  }
  f64PromoteF32(): this {
    return this.op(0xbb);
  }

  // SIMD (f64x2 lanes; f32 pairs are widened with promote_low).
  v128Load(offset = 0): this {
    return this.simdMem(0x00, 0, offset);
  }
  v128Store(offset = 0): this {
    return this.simdMem(0x0b, 0, offset);
  }
  /** Loads 8 bytes (two f32) into the low half, zeroing the rest. */
  v128Load64Zero(offset = 0): this {
    return this.simdMem(0x5d, 0, offset);
  }
  f64x2Splat(): this {
    return this.simd(0x14);
  }
  f64x2ExtractLane(lane: number): this {
    this.simd(0x21);
    this.bytes.push(lane);
    return this;
  }
  f64x2PromoteLowF32x4(): this {
    return this.simd(0x5f);
  }
  f64x2Add(): this {
    return this.simd(0xf0);
  }
  f64x2Sub(): this {
    return this.simd(0xf1);
  }
  i64x2Shl(): this {
    return this.simd(0xcb);
  }
  f64x2Mul(): this {
    return this.simd(0xf2);
  }
}

export interface FunctionDef {
  name: string;
  params: ValType[];
  results: ValType[];
  /** Extra locals after the params, in order. */
  locals: ValType[];
  body: Code;
}

function section(id: number, payload: number[], out: number[]): void {
  out.push(id);
  uleb(payload.length, out);
  out.push(...payload);
}

function name(s: string, out: number[]): void {
  const b = new TextEncoder().encode(s);
  uleb(b.length, out);
  out.push(...b);
}

/** A module importing its memory as env.memory and exporting `functions` by name. */
export function buildModule(functions: FunctionDef[]): Uint8Array {
  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const types: number[] = [];
  uleb(functions.length, types);
  for (const f of functions) {
    types.push(0x60);
    uleb(f.params.length, types);
    for (const p of f.params) types.push(TYPE_CODE[p]);
    uleb(f.results.length, types);
    for (const r of f.results) types.push(TYPE_CODE[r]);
  }
  section(1, types, out);
  const imports: number[] = [1];
  name("env", imports);
  name("memory", imports);
  imports.push(0x02, 0x00, 0x01); // memory, limits: min 1 page, no max
  section(2, imports, out);
  const funcs: number[] = [];
  uleb(functions.length, funcs);
  for (let i = 0; i < functions.length; i++) uleb(i, funcs);
  section(3, funcs, out);
  const exports: number[] = [];
  uleb(functions.length, exports);
  functions.forEach((f, i) => {
    name(f.name, exports);
    exports.push(0x00);
    uleb(i, exports);
  });
  section(7, exports, out);
  const code: number[] = [];
  uleb(functions.length, code);
  for (const f of functions) {
    const body: number[] = [];
    uleb(f.locals.length, body);
    for (const l of f.locals) {
      body.push(1, TYPE_CODE[l]);
    }
    body.push(...f.body.bytes, 0x0b);
    uleb(body.length, code);
    code.push(...body);
  }
  section(10, code, out);
  return Uint8Array.from(out);
}

/** The slice of the WebAssembly JS API used here (the ES2023 lib without DOM does not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: new (desc: { initial: number }) => { buffer: ArrayBuffer };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/**
 * Kernels built into one module, compiled on first use and shared by every instance. `instantiate`
 * gives an instance over its own fresh memory of at least `bytes` bytes (whole 64 KiB pages, at least
 * one): the exports and the memory's buffer.
 */
export class KernelModule<Exports> {
  private compiled: object | null = null;

  constructor(private readonly functions: () => FunctionDef[]) {}

  instantiate(bytes: number): { exports: Exports; buffer: ArrayBuffer } {
    this.compiled ??= new wasm.Module(buildModule(this.functions()));
    const memory = new wasm.Memory({ initial: Math.max(1, Math.ceil(bytes / 65536)) });
    const inst = new wasm.Instance(this.compiled, { env: { memory } });
    return { exports: inst.exports as Exports, buffer: memory.buffer };
  }
}
