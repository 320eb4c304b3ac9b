/**
 * The frame shared by the engine's GPU case lists (gemm, kernel, evict and engine cases): a case is a
 * name and a run() that always resolves to a report (a thrown error becomes ok: false with its code
 * and stack), so one failure never hides the others.
 */
import type { GpuCase, MetricCaseReport } from "@kvwalk/core";

export type { GpuCase } from "@kvwalk/core";
/** A case's report (core's MetricCaseReport: name, ok, detail and free-form metrics). */
export type CaseReport = MetricCaseReport;

/** A report without its name. */
export type CaseBody = { ok: boolean; detail?: string; [metric: string]: unknown };

export function guarded(name: string, body: () => CaseBody | Promise<CaseBody>): GpuCase {
  return {
    name,
    async run(): Promise<CaseReport> {
      try {
        return { name, ...(await body()) };
      } catch (err) {
        const e = err as Error & { code?: string };
        return { name, ok: false, detail: `threw ${e.code ?? e.name}: ${e.stack ?? e.message}` };
      }
    },
  };
}

/** Standard normal samples from a uniform source (Box-Muller). */
export const gaussian = (rnd: () => number) => () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
