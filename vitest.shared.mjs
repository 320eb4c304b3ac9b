// Shared vitest settings for every package: co-located tests, a generous per-test timeout (CPU
// reference paths), and the skip summary that makes GPU-gated skips visible in CI logs.
import SkipSummaryReporter from "./tools/vitest-skip-reporter.mjs";

export const sharedTestConfig = {
  include: ["src/**/*.test.ts"],
  testTimeout: 120_000,
  hookTimeout: 120_000,
  reporters: ["default", new SkipSummaryReporter()],
};
