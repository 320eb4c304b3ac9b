import { InvalidArgumentError } from "@kvwalk/core";
import { describe, expect, it } from "vitest";
import { type EvalConfig, validateConfig } from "./config.js";

const base = (): EvalConfig => ({
  model: "fake",
  backend: "gpu",
  policies: [{ name: "h2o" }, { name: "pagerank-walker", label: "walker-1024", options: { walkers: 1024 } }, { name: "pagerank-walker", label: "walker-density" }],
  budgets: [0.1, 0.2],
  windowTokens: 64,
});

describe("config.compare", () => {
  it("accepts pairs of configured labels, and an empty list", () => {
    const c = { ...base(), compare: [["walker-1024", "walker-density"] as [string, string], ["h2o", "walker-density"] as [string, string]] };
    expect(validateConfig(c)).toBe(c);
    expect(validateConfig({ ...base(), compare: [] }).compare).toEqual([]);
    expect(validateConfig(base()).compare).toBeUndefined();
  });

  it("names the bad entry, what was expected and what was received", () => {
    const bad = (compare: unknown) => () => validateConfig({ ...base(), compare: compare as [string, string][] });
    expect(bad([["walker-1024", "walker-density"], ["h2o", "tova"]])).toThrow(InvalidArgumentError);
    expect(bad([["walker-1024", "walker-density"], ["h2o", "tova"]])).toThrow(/labels of policies in the config \("h2o", "walker-1024", "walker-density"\) for config\.compare\[1\] but received "tova"/);
    expect(bad([["pagerank-walker", "h2o"]])).toThrow(/config\.compare\[0\] but received "pagerank-walker"/);
    expect(bad([["h2o"]])).toThrow(/a pair \[a, b\] of policy labels .* for config\.compare\[0\] but received array of length 1/);
    expect(bad([["h2o", "walker-1024", "walker-density"]])).toThrow(/config\.compare\[0\]/);
    expect(bad(["h2o"])).toThrow(/config\.compare\[0\]/);
    expect(bad([["h2o", 3]])).toThrow(/config\.compare\[0\] but received 3/);
    expect(bad([["h2o", "h2o"]])).toThrow(/a second label other than the first \("h2o"\) for config\.compare\[0\] but received "h2o"/);
    expect(bad("h2o,walker")).toThrow(/config\.compare/);
  });
});
