import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type CaseReport, gpuCheckArgs, runCases, writeCheckReport } from "./gpu-check.js";

describe("GPU check frame", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    vi.restoreAllMocks();
  });

  it("parses the output path and --quick", () => {
    expect(gpuCheckArgs("d.json", [])).toEqual({ outPath: "d.json", quick: false });
    expect(gpuCheckArgs("d.json", ["o.json", "--quick"])).toEqual({ outPath: "o.json", quick: true });
    expect(gpuCheckArgs("d.json", ["--quick"])).toEqual({ outPath: "d.json", quick: true });
  });

  it("runs cases (a throwing case fails with its stack) and writes the report with counts and extras", async () => {
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const reports = await runCases<CaseReport>([
      { name: "a", run: () => ({ name: "a", ok: true }) },
      {
        name: "b",
        run: () => {
          throw new Error("boom");
        },
      },
    ]);
    expect(reports.map((r) => r.ok)).toEqual([true, false]);
    expect(reports[1].detail).toMatch(/threw: Error: boom/);
    const dir = mkdtempSync(join(tmpdir(), "kvwalk-check-"));
    dirs.push(dir);
    const out = join(dir, "check.json");
    const status = { backend: "cuda" as const, reason: "", device: { name: "Test GPU" } };
    const code = writeCheckReport(out, status as never, true, reports, { tolerances: { x: 1 } });
    expect(code).toBe(1);
    const j = JSON.parse(readFileSync(out, "utf8"));
    expect(j).toMatchObject({ gpu: "Test GPU", quick: true, tolerances: { x: 1 }, ok: false, passed: 1, failed: 1 });
    expect(j.cases).toHaveLength(2);
    expect(writeCheckReport(out, status as never, false, reports.slice(0, 1))).toBe(0);
  });
});
