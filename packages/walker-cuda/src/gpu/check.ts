/**
 * Plain-node GPU check (no vitest): runs every CUDA-vs-TypeScript case of cases.ts and writes a JSON
 * summary to argv[2] (default: walker-cuda-gpu-check.json). `--quick` keeps sizes small (for
 * compute-sanitizer memcheck/racecheck). Exits 1 when a case fails, 2 when CUDA is unavailable.
 *   node dist/gpu/check.js out.json [--quick]
 */
import { runMetadata, writeJsonAtomic } from "@kvwalk/core";
import { backendStatus } from "../loader.js";
import { allCases, type CaseReport, TOLERANCES } from "./cases.js";

const outPath = process.argv[2] && !process.argv[2].startsWith("--") ? process.argv[2] : "walker-cuda-gpu-check.json";
const quick = process.argv.includes("--quick");
const status = backendStatus();
const meta = () => runMetadata(process.env.KVWALK_COMMIT ? { commit: process.env.KVWALK_COMMIT } : {});

async function main(): Promise<number> {
  if (status.backend !== "cuda") {
    process.stderr.write(`walker-cuda GPU check needs CUDA: ${status.reason}\n`);
    writeJsonAtomic(outPath, { ...meta(), ok: false, skipped: true, reason: status.reason, backend: status });
    return 2;
  }
  const reports: (CaseReport & { ms: number })[] = [];
  for (const c of allCases(quick)) {
    const t0 = performance.now();
    let r: CaseReport;
    try {
      r = await c.run();
    } catch (err) {
      r = { name: c.name, ok: false, detail: `threw: ${(err as Error).stack ?? err}` };
    }
    const ms = performance.now() - t0;
    reports.push({ ...r, ms });
    process.stdout.write(`${r.ok ? "ok  " : "FAIL"} ${r.name} (${ms.toFixed(0)} ms)${r.ok ? "" : ` ${r.detail}`}\n`);
  }
  const failed = reports.filter((r) => !r.ok).length;
  writeJsonAtomic(outPath, {
    ...meta(),
    gpu: status.device?.name,
    device: status.device,
    quick,
    tolerances: TOLERANCES,
    ok: failed === 0,
    passed: reports.length - failed,
    failed,
    cases: reports,
  });
  process.stdout.write(`${reports.length - failed}/${reports.length} cases passed; wrote ${outPath}\n`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  },
);
