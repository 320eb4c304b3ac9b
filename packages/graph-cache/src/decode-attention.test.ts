import { assertClose, seededRandom } from "@kvwalk/core/testing";
import { describe, expect, it } from "vitest";
import { bf16ToF32, f32ToBf16, fromBf16, toBf16 } from "./bf16.js";
import { type DecodeAttentionInput, decodeAttentionReference } from "./decode-attention.js";
import { createGraphBatch, GRAPH_TOP_K } from "./graph.js";

export function randomDecodeInput(
  rnd: () => number,
  shape: { batch: number; numHeads: number; numKvHeads: number; headDim: number; kvCapacity: number },
  withGraph: boolean,
): DecodeAttentionInput {
  const { batch, numHeads, numKvHeads, headDim, kvCapacity } = shape;
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  const q = Float32Array.from({ length: batch * numHeads * headDim }, () => 2 * gauss());
  const kvLen = batch * numKvHeads * kvCapacity * headDim;
  const k = toBf16(Float32Array.from({ length: kvLen }, gauss));
  const v = toBf16(Float32Array.from({ length: kvLen }, gauss));
  const lengths = Int32Array.from({ length: batch }, () => 1 + Math.floor(rnd() * kvCapacity));
  const graph = withGraph ? createGraphBatch(batch * numHeads, kvCapacity) : undefined;
  return { ...shape, q, k, v, lengths, graph };
}

describe("bf16 helpers", () => {
  it("round to nearest even and round-trip exactly", () => {
    expect(f32ToBf16(1)).toBe(0x3f80);
    expect(bf16ToF32(0x3f80)).toBe(1);
    // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even -> 1.
    expect(bf16ToF32(f32ToBf16(1 + 2 ** -8))).toBe(1);
    expect(bf16ToF32(f32ToBf16(1 + 3 * 2 ** -8))).toBe(1 + 2 ** -6);
    expect(Number.isNaN(bf16ToF32(f32ToBf16(Number.NaN)))).toBe(true);
    expect(bf16ToF32(f32ToBf16(Number.NEGATIVE_INFINITY))).toBe(Number.NEGATIVE_INFINITY);
    const rnd = seededRandom(1);
    const xs = Float32Array.from({ length: 1000 }, () => (rnd() - 0.5) * 1e4);
    const back = fromBf16(toBf16(xs));
    for (let i = 0; i < xs.length; i++) {
      expect(Math.abs(back[i] - xs[i])).toBeLessThanOrEqual(Math.abs(xs[i]) * 2 ** -8);
      expect(f32ToBf16(back[i])).toBe(toBf16([xs[i]])[0]);
    }
  });
});

/** Brute force: explicit probability rows (softmax over all live keys), then out = P V. */
function brute(input: DecodeAttentionInput): { output: Float64Array; probs: Float64Array[] } {
  const { batch, numHeads, numKvHeads, headDim: d, kvCapacity, q, lengths } = input;
  const k = fromBf16(input.k);
  const v = fromBf16(input.v);
  const output = new Float64Array(batch * numHeads * d);
  const probs: Float64Array[] = [];
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < numHeads; h++) {
      const kvh = Math.floor((h * numKvHeads) / numHeads);
      const base = (b * numKvHeads + kvh) * kvCapacity * d;
      const s = new Float64Array(lengths[b]);
      for (let j = 0; j < s.length; j++) {
        for (let x = 0; x < d; x++) s[j] += q[(b * numHeads + h) * d + x] * k[base + j * d + x];
        s[j] /= Math.sqrt(d);
      }
      const m = Math.max(...s);
      const p = s.map((x) => Math.exp(x - m));
      const z = p.reduce((a, c) => a + c, 0);
      for (let j = 0; j < s.length; j++) {
        p[j] /= z;
        for (let x = 0; x < d; x++) output[(b * numHeads + h) * d + x] += p[j] * v[base + j * d + x];
      }
      probs.push(p);
    }
  }
  return { output, probs };
}

describe("decodeAttentionReference", () => {
  it("matches brute-force softmax attention, GQA included, and writes a tie-safe top-4 graph", () => {
    const rnd = seededRandom(21);
    for (const shape of [
      { batch: 2, numHeads: 4, numKvHeads: 4, headDim: 16, kvCapacity: 37 },
      { batch: 3, numHeads: 8, numKvHeads: 2, headDim: 32, kvCapacity: 64 },
      { batch: 1, numHeads: 2, numKvHeads: 1, headDim: 8, kvCapacity: 3 },
    ]) {
      const input = randomDecodeInput(rnd, shape, true);
      const { output, lse } = decodeAttentionReference(input);
      const ref = brute(input);
      assertClose(output, ref.output, { atol: 1e-6, rtol: 1e-5 }, "output");
      expect(lse.every(Number.isFinite)).toBe(true);
      const g = input.graph!;
      for (let b = 0; b < shape.batch; b++) {
        for (let h = 0; h < shape.numHeads; h++) {
          const p = ref.probs[b * shape.numHeads + h];
          const off = ((b * shape.numHeads + h) * g.capacity + input.lengths[b] - 1) * GRAPH_TOP_K;
          const sorted = Array.from(p).sort((x, y) => y - x);
          const k = Math.min(GRAPH_TOP_K, p.length);
          const chosen = Array.from(g.neighbors.subarray(off, off + k));
          expect(new Set(chosen).size).toBe(k);
          const total = chosen.reduce((a, j) => a + p[j], 0);
          for (let s = 0; s < k; s++) {
            expect(p[chosen[s]]).toBeGreaterThanOrEqual(sorted[k - 1] * (1 - 1e-9));
            expect(Math.abs(g.weights[off + s] - p[chosen[s]] / total)).toBeLessThan(1e-6);
          }
          for (let s = k; s < GRAPH_TOP_K; s++) expect(g.neighbors[off + s]).toBe(-1);
        }
      }
    }
  });

  it("per-KV-head graphs: top-4 of the group's summed probabilities (tie-safe), MHA equal to per query head", () => {
    const rnd = seededRandom(33);
    for (const shape of [
      { batch: 3, numHeads: 8, numKvHeads: 2, headDim: 32, kvCapacity: 64 },
      { batch: 2, numHeads: 6, numKvHeads: 3, headDim: 16, kvCapacity: 5 },
    ]) {
      const input = randomDecodeInput(rnd, shape, false);
      const graph = createGraphBatch(shape.batch * shape.numKvHeads, shape.kvCapacity);
      decodeAttentionReference({ ...input, graph, graphHeads: "kv" });
      const ref = brute(input);
      const group = shape.numHeads / shape.numKvHeads;
      for (let b = 0; b < shape.batch; b++) {
        const len = input.lengths[b];
        for (let kvh = 0; kvh < shape.numKvHeads; kvh++) {
          const v = new Float64Array(len);
          for (let g = 0; g < group; g++) {
            const p = ref.probs[b * shape.numHeads + kvh * group + g];
            for (let j = 0; j < len; j++) v[j] += p[j];
          }
          const off = ((b * shape.numKvHeads + kvh) * graph.capacity + len - 1) * GRAPH_TOP_K;
          const sorted = Array.from(v).sort((x, y) => y - x);
          const k = Math.min(GRAPH_TOP_K, len);
          const chosen = Array.from(graph.neighbors.subarray(off, off + k));
          expect(new Set(chosen).size).toBe(k);
          const total = chosen.reduce((a, j) => a + v[j], 0);
          for (let s = 0; s < k; s++) {
            expect(v[chosen[s]]).toBeGreaterThanOrEqual(sorted[k - 1] * (1 - 1e-9));
            expect(Math.abs(graph.weights[off + s] - v[chosen[s]] / total)).toBeLessThan(1e-6);
          }
          for (let s = k; s < GRAPH_TOP_K; s++) expect(graph.neighbors[off + s]).toBe(-1);
        }
      }
    }
    // MHA: a KV head's group is its query head, so both choices write the same graphs.
    const mha = randomDecodeInput(rnd, { batch: 2, numHeads: 4, numKvHeads: 4, headDim: 16, kvCapacity: 40 }, true);
    const perKv = createGraphBatch(2 * 4, 40);
    decodeAttentionReference(mha);
    decodeAttentionReference({ ...mha, graph: perKv, graphHeads: "kv" });
    expect(Array.from(perKv.neighbors)).toEqual(Array.from(mha.graph!.neighbors));
    assertClose(perKv.weights, mha.graph!.weights, { atol: 1e-7, rtol: 0 }, "weights");
  });

  it("validates shapes naming the parameter", () => {
    const input = randomDecodeInput(seededRandom(2), { batch: 1, numHeads: 4, numKvHeads: 2, headDim: 8, kvCapacity: 8 }, true);
    expect(() => decodeAttentionReference({ ...input, numKvHeads: 3 })).toThrow(/numKvHeads/);
    expect(() => decodeAttentionReference({ ...input, q: new Float32Array(3) })).toThrow(/for q /);
    expect(() => decodeAttentionReference({ ...input, k: new Uint16Array(3) })).toThrow(/for k /);
    expect(() => decodeAttentionReference({ ...input, lengths: Int32Array.from([9]) })).toThrow(/lengths\[0\]/);
    expect(() => decodeAttentionReference({ ...input, nodes: Int32Array.from([8]) })).toThrow(/nodes\[0\]/);
    expect(() => decodeAttentionReference({ ...input, graph: createGraphBatch(3, 8) })).toThrow(/graph.numGraphs/);
    expect(() => decodeAttentionReference({ ...input, graphHeads: "kv" })).toThrow(/numKvHeads = 2 for graph.numGraphs/);
    expect(() => decodeAttentionReference({ ...input, graphHeads: "value" as never })).toThrow(/graphHeads/);
  });
});
