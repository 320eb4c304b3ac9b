import { ProtoWriter } from "./protobuf.js";

/**
 * Builds ONNX models in memory and serializes them to ModelProto bytes for onnxruntime. Field
 * numbers follow the public onnx.proto (IR version 8, default-domain opset 17):
 *   ModelProto: ir_version 1, producer_name 2, graph 7, opset_import 8
 *   OperatorSetIdProto: domain 1, version 2
 *   GraphProto: node 1, name 2, initializer 5, input 11, output 12
 *   NodeProto: input 1, output 2, name 3, op_type 4, attribute 5, domain 7
 *   AttributeProto: name 1, f 2, i 3, s 4, t 5, floats 7, ints 8, type 20
 *   TensorProto: dims 1, data_type 2, name 8, raw_data 9
 *   ValueInfoProto: name 1, type 2; TypeProto: tensor_type 1; TypeProto.Tensor: elem_type 1, shape 2
 *   TensorShapeProto: dim 1; Dimension: dim_value 1, dim_param 2
 */
export const IR_VERSION = 8;
export const OPSET = 17;

/** TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, INT32: 6, INT64: 7, BOOL: 9 } as const;
export type ElemType = keyof typeof DataType;

/** A dimension: a fixed size or a symbolic name (dynamic). */
export type Dim = number | string;

export type AttrValue =
  | { kind: "int"; value: number }
  | { kind: "float"; value: number }
  | { kind: "ints"; value: number[] }
  | { kind: "floats"; value: number[] }
  | { kind: "string"; value: string }
  | { kind: "tensor"; value: ConstTensor };

export interface ConstTensor {
  type: ElemType;
  dims: number[];
  /** Little-endian raw element bytes. */
  raw: Uint8Array;
}

/** Shorthands for node attributes: a plain number is an int, arrays of numbers are ints. */
export type AttrInput = number | number[] | string | AttrValue;

interface NodeDef {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
  domain: string;
}

interface ValueDef {
  name: string;
  type: ElemType;
  dims: Dim[];
}

const ATTR_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7 } as const;

export function floatAttr(value: number): AttrValue {
  return { kind: "float", value };
}

export function intsAttr(value: number[]): AttrValue {
  return { kind: "ints", value };
}

export function tensorFloat32(dims: number[], data: ArrayLike<number>): ConstTensor {
  const f = Float32Array.from(data);
  return { type: "FLOAT", dims, raw: new Uint8Array(f.buffer, f.byteOffset, f.byteLength) };
}

export function tensorInt64(dims: number[], data: ArrayLike<number>): ConstTensor {
  const a = new BigInt64Array(data.length);
  for (let i = 0; i < data.length; i++) a[i] = BigInt(data[i]);
  return { type: "INT64", dims, raw: new Uint8Array(a.buffer) };
}

/**
 * A graph under construction. `node()` returns the output names, so graphs read as expressions:
 * `const [y] = g.node("MatMul", [x, w])`. Names are generated unless given.
 */
export class GraphBuilder {
  private readonly nodes: NodeDef[] = [];
  private readonly inputs: ValueDef[] = [];
  private readonly outputs: ValueDef[] = [];
  private readonly initializers: { name: string; tensor: ConstTensor }[] = [];
  private counter = 0;

  constructor(readonly name: string) {}

  private fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  input(name: string, type: ElemType, dims: Dim[]): string {
    this.inputs.push({ name, type, dims });
    return name;
  }

  output(name: string, type: ElemType, dims: Dim[]): void {
    this.outputs.push({ name, type, dims });
  }

  /** A constant stored as an initializer. */
  constant(tensor: ConstTensor, name?: string): string {
    const n = name ?? this.fresh("const");
    this.initializers.push({ name: n, tensor });
    return n;
  }

  constInt64(values: number[], dims: number[] = [values.length]): string {
    return this.constant(tensorInt64(dims, values));
  }

  constFloat(values: number[], dims: number[] = [values.length]): string {
    return this.constant(tensorFloat32(dims, values));
  }

  node(op: string, inputs: string[], opts: { outputs?: string[] | number; attrs?: Record<string, AttrInput>; domain?: string } = {}): string[] {
    const outs =
      typeof opts.outputs === "number" || opts.outputs === undefined
        ? Array.from({ length: (opts.outputs as number | undefined) ?? 1 }, () => this.fresh(op.toLowerCase()))
        : opts.outputs;
    const attrs: Record<string, AttrValue> = {};
    for (const [k, v] of Object.entries(opts.attrs ?? {})) attrs[k] = normalizeAttr(v);
    this.nodes.push({ op, inputs, outputs: outs, attrs, domain: opts.domain ?? "" });
    return outs;
  }

  /** Single-output node. */
  op(op: string, inputs: string[], attrs?: Record<string, AttrInput>, outputName?: string): string {
    return this.node(op, inputs, { attrs, outputs: outputName ? [outputName] : 1 })[0];
  }

  /** Serialized ModelProto. */
  toModel(producer = "@kvwalk/model"): Uint8Array {
    const w = new ProtoWriter();
    w.varint(1, IR_VERSION);
    w.string(2, producer);
    w.message(7, (g) => this.writeGraph(g));
    w.message(8, (o) => {
      o.string(1, "");
      o.varint(2, OPSET);
    });
    return w.finish();
  }

  private writeGraph(g: ProtoWriter): void {
    for (const n of this.nodes) {
      g.message(1, (nw) => {
        for (const i of n.inputs) nw.string(1, i);
        for (const o of n.outputs) nw.string(2, o);
        nw.string(3, `${n.op}_${n.outputs[0]}`);
        nw.string(4, n.op);
        for (const [name, a] of Object.entries(n.attrs)) nw.message(5, (aw) => writeAttr(aw, name, a));
        if (n.domain) nw.string(7, n.domain);
      });
    }
    g.string(2, this.name);
    for (const init of this.initializers) g.message(5, (tw) => writeTensor(tw, init.tensor, init.name));
    for (const v of this.inputs) g.message(11, (vw) => writeValueInfo(vw, v));
    for (const v of this.outputs) g.message(12, (vw) => writeValueInfo(vw, v));
  }
}

function normalizeAttr(v: AttrInput): AttrValue {
  if (typeof v === "number") return { kind: "int", value: v };
  if (typeof v === "string") return { kind: "string", value: v };
  if (Array.isArray(v)) return { kind: "ints", value: v };
  return v;
}

function writeAttr(w: ProtoWriter, name: string, a: AttrValue): void {
  w.string(1, name);
  switch (a.kind) {
    case "float":
      w.float(2, a.value);
      break;
    case "int":
      w.varint(3, a.value);
      break;
    case "string":
      w.string(4, a.value);
      break;
    case "tensor":
      w.message(5, (tw) => writeTensor(tw, a.value));
      break;
    case "floats":
      w.packedFloats(7, a.value);
      break;
    case "ints":
      w.packedVarints(8, a.value);
      break;
  }
  w.varint(20, ATTR_TYPE[a.kind]);
}

function writeTensor(w: ProtoWriter, t: ConstTensor, name?: string): void {
  if (t.dims.length > 0) w.packedVarints(1, t.dims);
  w.varint(2, DataType[t.type]);
  if (name) w.string(8, name);
  w.bytes(9, t.raw);
}

function writeValueInfo(w: ProtoWriter, v: ValueDef): void {
  w.string(1, v.name);
  w.message(2, (tw) =>
    tw.message(1, (tt) => {
      tt.varint(1, DataType[v.type]);
      tt.message(2, (sw) => {
        for (const d of v.dims) sw.message(1, (dw) => (typeof d === "number" ? dw.varint(1, d) : dw.string(2, d)));
      });
    }),
  );
}
