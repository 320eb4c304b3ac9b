/**
 * Plain-node GPU check of the decode engine (no vitest): kernel cases (GEMM, element-wise, attention,
 * sampling) against their TypeScript twins, then end-to-end cases (fixture model vs HF reference and the
 * CPU path, batch vs single, tiny GQA / sliding-window checkpoints, memory, queueing, errors, OOM).
 * Writes a JSON summary to argv[2]. `--quick` keeps sizes small (compute-sanitizer). Exits 1 when a
 * case fails, 2 when CUDA is unavailable.
 *   node dist/gpu/check.js out.json [--quick]
 */
import { gpuCheckArgs, recordUnavailable, runCases, runCheckMain, writeCheckReport } from "@kvwalk/core";
import { ENGINE_TOLERANCES, evictionOnlyCases, fixtureCases, lazyOnlyCases, oomCase, tinyCases } from "../engine/gpu/engine-cases.js";
import { evictCases } from "../engine/gpu/evict-cases.js";
import { gemmCases } from "../engine/gpu/gemm-cases.js";
import { gemvCases } from "../engine/gpu/gemv-cases.js";
import { kernelCases } from "../engine/gpu/kernel-cases.js";
import { prefillScoreCases } from "../engine/gpu/prefill-score-cases.js";
import { promptScoreCases } from "../engine/gpu/prompt-score-cases.js";
import { engineStatus, requireEngineAddon } from "../engine/loader.js";

const { outPath, quick } = gpuCheckArgs("runtime-gpu-check.json");
const status = engineStatus();
const only = process.env.KVWALK_CHECK_ONLY; // "kernels" | "gemm" | "engine" | "evict" | "prompt-score" | "lazy" to run a subset

async function main(): Promise<number> {
  if (status.backend !== "cuda") return recordUnavailable("runtime", outPath, status);
  const addon = requireEngineAddon();
  const cases = [];
  if (only === "gemm") cases.push(...gemmCases(addon as never, quick));
  else if (only === "evict") cases.push(...evictCases(addon as never, true), ...evictionOnlyCases());
  else if (only === "lazy") cases.push(...prefillScoreCases(addon as never, quick, true), ...lazyOnlyCases(quick));
  else if (only === "prompt-score") cases.push(...prefillScoreCases(addon as never, quick), ...promptScoreCases(quick));
  else if (only !== "engine")
    cases.push(
      ...gemmCases(addon as never, quick),
      ...gemvCases(addon as never, quick),
      ...kernelCases(addon as never, quick),
      ...evictCases(addon as never, quick),
      ...prefillScoreCases(addon as never, quick),
    );
  if (only !== "kernels" && only !== "gemm" && only !== "evict" && only !== "prompt-score" && only !== "lazy") {
    cases.push(...tinyCases());
    cases.push(...fixtureCases(addon, quick));
    cases.push(...promptScoreCases(quick));
    if (!quick) cases.push(oomCase(addon));
  }
  const reports = await runCases(cases);
  return writeCheckReport(outPath, status, quick, reports, { tolerances: ENGINE_TOLERANCES });
}

runCheckMain(main);
