import { describe, expect, it } from "vitest";
import { ProtoWriter } from "./protobuf.js";

describe("ProtoWriter", () => {
  it("encodes varints, negative int64, floats, strings and nested messages per the wire format", () => {
    const w = new ProtoWriter();
    w.varint(1, 300); // tag 0x08, 300 = 0xac 0x02
    w.varint(2, -1); // ten-byte two's complement
    w.float(3, 1); // tag 0x1d, 0x3f800000 little-endian
    w.string(4, "ab");
    w.message(5, (m) => m.varint(1, 1));
    w.packedVarints(6, [1, 2, 150]);
    expect([...w.finish()]).toEqual([
      0x08, 0xac, 0x02,
      0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
      0x1d, 0x00, 0x00, 0x80, 0x3f,
      0x22, 0x02, 0x61, 0x62,
      0x2a, 0x02, 0x08, 0x01,
      0x32, 0x04, 0x01, 0x02, 0x96, 0x01,
    ]);
  });

  it("keeps large byte fields intact across chunks", () => {
    const big = new Uint8Array(10_000).map((_, i) => i & 0xff);
    const w = new ProtoWriter();
    w.varint(1, 7).bytes(2, big).varint(3, 9);
    const out = w.finish();
    expect(out.length).toBe(2 + 3 + 10_000 + 2);
    expect([...out.subarray(2, 5)]).toEqual([0x12, 0x90, 0x4e]);
    expect(out[5 + 9999]).toBe(9999 & 0xff);
    expect([...out.subarray(out.length - 2)]).toEqual([0x18, 0x09]);
  });
});
