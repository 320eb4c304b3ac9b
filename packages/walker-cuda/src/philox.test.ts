import { describe, expect, it } from "vitest";
import { mulhi32, philox4x32 } from "./philox.js";

// Random123's published known-answer vectors (kat_vectors): counter[4], key[2] -> output[4].
const KAT: Array<[number[], number[], number[]]> = [
  [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
  [
    [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
    [0xffffffff, 0xffffffff],
    [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
  ],
  [
    [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
    [0xa4093822, 0x299f31d0],
    [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
  ],
];

describe("philox4x32-10", () => {
  it.each(KAT)("matches Random123's known answer for counter %j key %j", (c, k, expected) => {
    const out = philox4x32(c[0], c[1], c[2], c[3], k[0], k[1]);
    expect(Array.from(out)).toEqual(expected);
  });

  it("mulhi32 equals the BigInt 64-bit product's high word", () => {
    const vals = [0, 1, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 0xd2511f53, 0xcd9e8d57, 0x12345678];
    for (const a of vals) {
      for (const b of vals) {
        const hi = Number((BigInt(a) * BigInt(b)) >> 32n);
        expect(mulhi32(a, b)).toBe(hi);
      }
    }
  });
});
