import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { syntheticLogits } from "@kvwalk/runtime";
import { describe, expect, it } from "vitest";
import { simulateInProcess } from "./sim-pool.js";

// The worker pool needs the compiled worker (dist/sim-worker.js); turbo builds before testing.
const built = fileURLToPath(new URL("../dist/sim-pool.js", import.meta.url));
const haveBuild = existsSync(built) && existsSync(fileURLToPath(new URL("../dist/sim-worker.js", import.meta.url)));
if (!haveBuild) console.warn("sim-pool worker test skipped: packages/oracle/dist not built (run pnpm --filter @kvwalk/oracle build)");

describe.skipIf(!haveBuild)("SimPool (compiled worker threads)", () => {
  it("returns exactly the in-process simulation, for several tasks in flight", async () => {
    const { SimPool } = (await import(built)) as typeof import("./sim-pool.js");
    const pool = SimPool.create(2);
    expect(pool).not.toBeNull();
    const T = 200;
    const logits = syntheticLogits(T, 2, 5);
    const opts = { budget: 0.3, sinks: 2, window: 8, refreshEvery: 4 };
    const names = ["h2o", "pagerank-dense", "pagerank-walker", "tova"];
    try {
      const results = await Promise.all(names.map((n, i) => pool!.run(n, opts, logits, T, i)));
      names.forEach((n, i) => {
        expect(Array.from(results[i].evict), n).toEqual(Array.from(simulateInProcess(n, opts, logits, T, i).evict));
      });
    } finally {
      await pool!.close();
    }
  });
});
