import type { BackendStatus } from "./native.js";
import { runMetadata, writeJsonAtomic } from "./results.js";

/**
 * The shared frame of every package's plain-node GPU check (`dist/gpu/check.js OUT.json [--quick]`):
 * argument parsing, running CUDA-vs-twin cases with timing and a line each, the "CUDA unavailable"
 * record, and process exit codes (0 all passed, 1 a case failed, 2 CUDA unavailable).
 */
export interface CaseReport {
  name: string;
  ok: boolean;
  detail?: string;
}

/** A case report with free-form metrics, what the packages' GPU case lists return. */
export interface MetricCaseReport extends CaseReport {
  [metric: string]: unknown;
}

/** An asynchronous case of a package's GPU check (always resolves to a report; see runCases). */
export interface GpuCase {
  name: string;
  run(): Promise<MetricCaseReport>;
}

export interface CheckCase<R extends CaseReport = CaseReport> {
  name: string;
  run(): R | Promise<R>;
}

export interface GpuCheckArgs {
  outPath: string;
  quick: boolean;
}

export function gpuCheckArgs(defaultOut: string, argv: string[] = process.argv.slice(2)): GpuCheckArgs {
  const first = argv[0];
  return { outPath: first && !first.startsWith("--") ? first : defaultOut, quick: argv.includes("--quick") };
}

/** runMetadata() with the commit a GPU bundle was made from (`$KVWALK_COMMIT`), since bundles carry no .git. */
export function checkMetadata(): Record<string, unknown> {
  return runMetadata(process.env.KVWALK_COMMIT ? { commit: process.env.KVWALK_COMMIT } : {});
}

/** Writes the "needs CUDA" record and returns exit code 2. */
export function recordUnavailable(pkg: string, outPath: string, status: BackendStatus): number {
  process.stderr.write(`${pkg} GPU check needs CUDA: ${status.reason}\n`);
  writeJsonAtomic(outPath, { ...checkMetadata(), ok: false, skipped: true, reason: status.reason, backend: status });
  return 2;
}

/** Runs the cases in order; a case that throws is a failure carrying the stack. Prints one line per case. */
export async function runCases<R extends CaseReport>(cases: Iterable<CheckCase<R>>): Promise<(R & { ms: number })[]> {
  const reports: (R & { ms: number })[] = [];
  for (const c of cases) {
    const t0 = performance.now();
    let r: R;
    try {
      r = await c.run();
    } catch (err) {
      r = { name: c.name, ok: false, detail: `threw: ${(err as Error).stack ?? err}` } as R;
    }
    const ms = performance.now() - t0;
    reports.push({ ...r, ms });
    process.stdout.write(`${r.ok ? "ok  " : "FAIL"} ${r.name} (${ms.toFixed(0)} ms)${r.ok ? "" : ` ${r.detail}`}\n`);
  }
  return reports;
}

/**
 * Writes a check's summary (metadata, GPU, `extra` such as tolerances, pass/fail counts, every case),
 * prints "<passed>/<total> cases passed; wrote <outPath>" and returns the exit code (0 or 1).
 */
export function writeCheckReport(
  outPath: string,
  status: BackendStatus,
  quick: boolean,
  reports: CaseReport[],
  extra: Record<string, unknown> = {},
): number {
  const failed = reports.filter((r) => !r.ok).length;
  writeJsonAtomic(outPath, {
    ...checkMetadata(),
    gpu: status.device?.name,
    device: status.device,
    quick,
    ...extra,
    ok: failed === 0,
    passed: reports.length - failed,
    failed,
    cases: reports,
  });
  process.stdout.write(`${reports.length - failed}/${reports.length} cases passed; wrote ${outPath}\n`);
  return failed === 0 ? 0 : 1;
}

/** Runs `main` and exits with its code; an unexpected error prints its stack and exits 1. */
export function runCheckMain(main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`${(err as Error).stack ?? err}\n`);
      process.exitCode = 1;
    },
  );
}
