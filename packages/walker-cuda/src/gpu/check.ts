/**
 * Plain-node GPU check (no vitest): runs every CUDA-vs-TypeScript case of cases.ts and writes a JSON
 * summary to argv[2] (default: walker-cuda-gpu-check.json). `--quick` keeps sizes small (for
 * compute-sanitizer memcheck/racecheck). Exits 1 when a case fails, 2 when CUDA is unavailable.
 *   node dist/gpu/check.js out.json [--quick]
 */
import { gpuCheckArgs, recordUnavailable, runCases, runCheckMain, writeCheckReport } from "@kvwalk/core";
import { backendStatus } from "../loader.js";
import { allCases, TOLERANCES } from "./cases.js";

const { outPath, quick } = gpuCheckArgs("walker-cuda-gpu-check.json");
const status = backendStatus();

async function main(): Promise<number> {
  if (status.backend !== "cuda") return recordUnavailable("walker-cuda", outPath, status);
  const reports = await runCases(allCases(quick));
  return writeCheckReport(outPath, status, quick, reports, { tolerances: TOLERANCES });
}

runCheckMain(main);
