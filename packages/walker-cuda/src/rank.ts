/**
 * Rank agreement between a walker's visit counts and exact PageRank: Spearman correlation (average
 * ranks for ties) and the overlap of the top-k sets (ties broken by lower index, as eviction does).
 */
import { InvalidArgumentError, expectInt } from "@kvwalk/core";

function ranks(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a] - x[b] || a - b);
  const r = new Float64Array(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && x[idx[j + 1]] === x[idx[i]]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[idx[k]] = avg;
    i = j + 1;
  }
  return r;
}

/** Spearman rank correlation of two equal-length score vectors, in [-1, 1] (NaN when one is constant). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new InvalidArgumentError("b", `length ${a.length}`, `length ${b.length}`);
  const ra = ranks(a);
  const rb = ranks(b);
  const n = a.length;
  const mean = (n + 1) / 2;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = ra[i] - mean;
    const db = rb[i] - mean;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** Indices of the k largest scores (ties: lower index first). */
export function topKIndices(scores: ArrayLike<number>, k: number): Int32Array {
  expectInt("k", k, 0, scores.length);
  const idx = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  return Int32Array.from(idx.slice(0, k));
}

/** |top-k(a) ∩ top-k(b)| / k (1 when k = 0). */
export function topKOverlap(a: ArrayLike<number>, b: ArrayLike<number>, k: number): number {
  if (a.length !== b.length) throw new InvalidArgumentError("b", `length ${a.length}`, `length ${b.length}`);
  if (k === 0) return 1;
  const ta = new Set(topKIndices(a, k));
  let hit = 0;
  for (const i of topKIndices(b, k)) if (ta.has(i)) hit++;
  return hit / k;
}
