import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileFormatError } from "@kvwalk/core";
import { afterAll, describe, expect, it } from "vitest";
import { writeTinyCheckpoint } from "../tiny-checkpoint.js";
import { Checkpoint } from "./checkpoint.js";
import { halfToFloat, SafetensorsFile } from "./safetensors.js";
import { encodeSafetensors, floatToBf16, floatToHalf, writeSafetensors } from "./safetensors-writer.js";

const dir = mkdtempSync(join(tmpdir(), "kvwalk-st-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("safetensors", () => {
  const values = [0, 1, -2.5, 0.1, 65504, 1e-7, -3.140625, 1 / 3];

  it("round-trips F32, F16 and BF16 to f32 and I32", () => {
    const p = join(dir, "rt.safetensors");
    writeSafetensors(p, {
      a: { dtype: "F32", shape: [2, 4], data: values },
      b: { dtype: "F16", shape: [8], data: values },
      c: { dtype: "BF16", shape: [4, 2], data: values },
      i: { dtype: "I32", shape: [3], data: [5, -1, 7] },
    });
    const f = new SafetensorsFile(p);
    expect([...f.readFloat32("a", [2, 4])]).toEqual(values.map(Math.fround));
    expect([...f.readFloat32("b")]).toEqual(values.map((v) => halfToFloat(floatToHalf(v))));
    const bf = f.readFloat32("c");
    values.forEach((v, i) => {
      expect(Math.abs(bf[i] - v)).toBeLessThanOrEqual(Math.abs(v) / 256 + 1e-40);
    });
    expect([...f.readInt32("i")]).toEqual([5, -1, 7]);
    f.close();
  });

  it("converts half and bfloat16 bit patterns exactly", () => {
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(halfToFloat(0x7c00)).toBe(Infinity);
    expect(Number.isNaN(halfToFloat(0x7e00))).toBe(true);
    expect(floatToHalf(1)).toBe(0x3c00);
    expect(floatToHalf(1e6)).toBe(0x7c00);
    expect(floatToBf16(1)).toBe(0x3f80);
    expect(floatToBf16(-2)).toBe(0xc000);
    // round to nearest even: 1 + 2^-8 is a tie between 1 and 1 + 2^-7 -> 1
    expect(floatToBf16(1 + 2 ** -8)).toBe(0x3f80);
  });

  it("rejects a truncated header with the file name and both sizes", () => {
    const p1 = join(dir, "short.safetensors");
    writeFileSync(p1, new Uint8Array(5));
    expect(() => new SafetensorsFile(p1)).toThrow(/short\.safetensors: truncated safetensors header: expected at least 8 bytes .* has 5/);
    const p2 = join(dir, "cut.safetensors");
    const full = encodeSafetensors({ a: { dtype: "F32", shape: [4], data: [1, 2, 3, 4] } });
    writeFileSync(p2, full.subarray(0, 20));
    expect(() => new SafetensorsFile(p2)).toThrow(/cut\.safetensors: truncated safetensors header: header length field says \d+ bytes but only 12 bytes follow/);
    const p3 = join(dir, "cutdata.safetensors");
    writeFileSync(p3, full.subarray(0, full.length - 4));
    expect(() => new SafetensorsFile(p3)).toThrow(/tensor "a": data ends at byte \d+ but the file has \d+ bytes/);
  });

  it("names the tensor, expected and received for missing tensors, wrong shape and wrong dtype", () => {
    const p = join(dir, "err.safetensors");
    writeSafetensors(p, { w: { dtype: "F32", shape: [2, 3], data: [1, 2, 3, 4, 5, 6] }, n: { dtype: "I32", shape: [2], data: [1, 2] } });
    const f = new SafetensorsFile(p);
    expect(() => f.readFloat32("missing")).toThrow(FileFormatError);
    expect(() => f.readFloat32("missing")).toThrow(/err\.safetensors: tensor "missing" not found/);
    expect(() => f.readFloat32("w", [3, 2])).toThrow(/tensor "w": expected shape \[3, 2\] but received \[2, 3\]/);
    expect(() => f.readFloat32("n")).toThrow(/tensor "n": expected dtype one of BF16, F16, F32 but received I32/);
    f.close();
  });
});

describe("Checkpoint", () => {
  it("reads sharded checkpoints through the index and names a missing shard", () => {
    const d = join(dir, "sharded");
    const { weights } = writeTinyCheckpoint(d, { sharded: true, dtype: "BF16" });
    const ck = new Checkpoint(d);
    expect(new Set(ck.weightMap.values()).size).toBe(2);
    expect([...ck.readFloat32("model.norm.weight")]).toEqual([...weights.norm]);
    expect(ck.dtypes()).toEqual(["BF16"]);
    ck.close();
    rmSync(join(d, "model-00002-of-00002.safetensors"));
    expect(() => new Checkpoint(d)).toThrow(/model-00002-of-00002\.safetensors: shard listed in model\.safetensors\.index\.json .* is missing/);
  });

  it("names the index when a tensor is not mapped, and the directory when there are no weights", () => {
    const d = join(dir, "single");
    writeTinyCheckpoint(d, {});
    const ck = new Checkpoint(d);
    expect(() => ck.readFloat32("lm_head.bias")).toThrow(/model\.safetensors: missing tensor "lm_head\.bias"/);
    ck.close();
    expect(() => new Checkpoint(join(dir, "nothing-here"))).toThrow(/no weights: expected model\.safetensors or model\.safetensors\.index\.json/);
  });
});
