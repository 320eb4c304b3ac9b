/**
 * Test tolerances in one place. `assertClose` is NaN-aware (NaN only matches NaN) and reports the
 * worst element with its index, so a failure says where and by how much.
 */
export interface Tolerance {
  atol: number;
  rtol: number;
}

export interface CloseReport {
  ok: boolean;
  maxAbs: number;
  maxRel: number;
  worstIndex: number;
  mismatches: number;
}

export function compareClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance): CloseReport {
  if (actual.length !== expected.length) throw new Error(`length mismatch: actual ${actual.length}, expected ${expected.length}`);
  let maxAbs = 0;
  let maxRel = 0;
  let worstIndex = -1;
  let worstExcess = -Infinity;
  let mismatches = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(a) || Number.isNaN(e)) {
      if (Number.isNaN(a) !== Number.isNaN(e)) {
        mismatches++;
        if (worstExcess < Infinity) {
          worstExcess = Infinity;
          worstIndex = i;
        }
      }
      continue;
    }
    const d = Math.abs(a - e);
    const allowed = tol.atol + tol.rtol * Math.abs(e);
    if (d > maxAbs) maxAbs = d;
    const rel = e !== 0 ? d / Math.abs(e) : d === 0 ? 0 : Infinity;
    if (rel > maxRel) maxRel = rel;
    if (d > allowed) mismatches++;
    if (d - allowed > worstExcess) {
      worstExcess = d - allowed;
      worstIndex = i;
    }
  }
  return { ok: mismatches === 0, maxAbs, maxRel, worstIndex, mismatches };
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance, what = "values"): CloseReport {
  const r = compareClose(actual, expected, tol);
  if (!r.ok) {
    const i = r.worstIndex;
    throw new Error(
      `${what}: ${r.mismatches}/${actual.length} elements outside atol=${tol.atol} rtol=${tol.rtol}; ` +
        `max |diff| ${r.maxAbs.toExponential(3)}; worst at [${i}]: actual ${actual[i]}, expected ${expected[i]}`,
    );
  }
  return r;
}

/** Deterministic PRNG for tests and synthetic inputs (mulberry32); lives in `random.ts`. */
export { seededRandom } from "./random.js";
