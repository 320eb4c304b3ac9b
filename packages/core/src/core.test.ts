import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "./errors.js";
import { Progress } from "./progress.js";
import { assertClose, compareClose } from "./testing.js";
import { expectInt, expectOneOf } from "./validate.js";

describe("validation errors name parameter, expected and received", () => {
  it("expectInt", () => {
    expect(() => expectInt("walkers", 1.5, 1)).toThrow("Expected an integer >= 1 for walkers but received 1.5");
    expect(() => expectInt("steps", 0, 1, 64)).toThrowError(InvalidArgumentError);
    expect(expectInt("steps", 20, 1, 64)).toBe(20);
  });
  it("expectOneOf", () => {
    expect(() => expectOneOf("policy", "h3o", ["h2o", "tova"])).toThrow('Expected one of "h2o", "tova" for policy but received "h3o"');
  });
});

describe("assertClose", () => {
  it("accepts values within atol + rtol*|e| and treats NaN as equal only to NaN", () => {
    expect(compareClose([1, Number.NaN], [1.0005, Number.NaN], { atol: 1e-3, rtol: 0 }).ok).toBe(true);
    expect(compareClose([1, 0], [1, Number.NaN], { atol: 1, rtol: 0 }).ok).toBe(false);
  });
  it("reports the worst element", () => {
    expect(() => assertClose([0, 0.5, 0], [0, 0, 0.01], { atol: 0.1, rtol: 0 }, "probs")).toThrow(/probs: 1\/3 .*worst at \[1\]/);
  });
});

describe("Progress", () => {
  it("renders count, percent and ETA", () => {
    const chunks: string[] = [];
    const out = { write: (s: string) => chunks.push(s) } as unknown as NodeJS.WritableStream;
    const p = new Progress("windows", 4, "win", 0, out);
    p.tick(1);
    expect(chunks[0]).toMatch(/windows \[.*\] 1\/4 25.0%/);
    expect(chunks[0]).toMatch(/ETA/);
  });
});
