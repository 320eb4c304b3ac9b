import type { EvalBackend } from "./backend.js";
import type { PolicySpec } from "./config.js";
import { policyLabel } from "./config.js";

/** Batched vs single runs of one policy on the same windows. */
export interface BatchCheckRow {
  policy: string;
  budget: number;
  /** Window length T and windows in the batch. */
  length: number;
  batch: number;
  /** Windows also run alone (the first `alone` of the batch). */
  alone: number;
  /** Query positions compared (the last `scored` of each window). */
  scored: number;
  /** Of the windows run alone, how many have bit-identical NLL in the batch and alone. */
  identical: number;
  maxAbsDiff: number;
  /** Perplexity of the windows run alone, from the batch and from the single runs. */
  pplBatch: number;
  pplAlone: number;
  /** Wall ms per decode step: the batch (all windows at once) and one window alone (mean). */
  msPerStepBatch: number;
  msPerStepAlone: number;
}

/**
 * Runs `windows` (same length) as one batch and the first `alone` of them one at a time, per policy,
 * and compares the NLL of the last `scored` query positions (default all) bit for bit. Full,
 * streaming, h2o and tova are identical when the engine's batched step computes like the single one
 * (cuBLAS GEMMs are batch-invariant; the decode attention's split count depends on the batch size
 * and the cache capacity, so long caches in big batches may round differently); the walker's random
 * streams depend on the region and batch size, so it is expected to differ a little.
 */
export async function batchCheck(opts: {
  backend: EvalBackend;
  windows: Int32Array[];
  policies: PolicySpec[];
  budget: number;
  alone?: number;
  scored?: number;
  /** Called with each policy's row as soon as it is measured. */
  onRow?: (row: BatchCheckRow) => void;
}): Promise<BatchCheckRow[]> {
  const { backend, windows } = opts;
  if (!backend.runMany) throw new Error(`backend ${backend.name} has no batched path`);
  const alone = Math.min(opts.alone ?? 3, windows.length);
  const T = windows[0].length;
  const scored = Math.min(opts.scored ?? T - 1, T - 1);
  const nllPositions = Array.from({ length: scored }, (_, i) => T - 1 - scored + i);
  const rows: BatchCheckRow[] = [];
  for (const policy of opts.policies) {
    const budget = policy.name === "full" ? 1 : opts.budget;
    const reqs = windows.map((tokens) => ({ tokens, policy, budget, nllPositions }));
    let t0 = performance.now();
    const batch = await backend.runMany(reqs);
    const msBatch = performance.now() - t0;
    let identical = 0;
    let maxAbsDiff = 0;
    let sumB = 0;
    let sumA = 0;
    let n = 0;
    t0 = performance.now();
    for (let b = 0; b < alone; b++) {
      const single = await backend.run(reqs[b]);
      let same = true;
      for (const i of nllPositions) {
        const d = Math.abs(single.nll[i] - batch[b].nll[i]);
        if (!(single.nll[i] === batch[b].nll[i])) same = false;
        if (d > maxAbsDiff) maxAbsDiff = d;
        sumA += single.nll[i];
        sumB += batch[b].nll[i];
        n++;
      }
      if (same) identical++;
    }
    const msAlone = (performance.now() - t0) / Math.max(1, alone);
    const row: BatchCheckRow = {
      policy: policyLabel(policy),
      budget,
      length: T,
      batch: windows.length,
      alone,
      scored,
      identical,
      maxAbsDiff,
      pplBatch: Math.exp(sumB / n),
      pplAlone: Math.exp(sumA / n),
      msPerStepBatch: msBatch / (T - 1),
      msPerStepAlone: msAlone / (T - 1),
    };
    rows.push(row);
    opts.onRow?.(row);
  }
  return rows;
}
