/**
 * Exact statistics of the walker's counts, for tests that compare walkReference (or the kernel)
 * with the chain's exact moments. Tolerances come from the number of walks, not from tuning:
 *
 * One walker's visit vector V (V_v = number of steps s in 1..S with X_s = v) has exact mean and
 * covariance computable from the chain (below); walkers are independent (distinct Philox counters),
 * so counts = sum of `walkers` iid copies of V, approximately normal with mean walkers*E[V] and
 * covariance walkers*Cov[V]. Two tests follow:
 *  - per-node z-scores with a Bonferroni bound (family-wise false-alarm probability alpha);
 *  - the Mahalanobis distance D^2 = (c - mu)^T Sigma^-1 (c - mu), ~ chi-square with k degrees of
 *    freedom, against its 1 - alpha quantile (catches small biases spread over many nodes).
 */
import type { GraphView } from "@kvwalk/graph-cache";
import { denseTransition, resolveWalkOptions, type WalkOptions } from "./reference.js";

/** Exact per-walker moments: mean [n] and covariance [n, n] of the visit vector V. */
export function visitMoments(graph: GraphView, opts: WalkOptions): { n: number; mean: Float64Array; cov: Float64Array } {
  const r = resolveWalkOptions(opts, graph.capacity);
  const { n, P, start } = denseTransition(graph, opts);
  const S = r.steps;
  const mean = new Float64Array(n);
  const cov = new Float64Array(n * n);
  if (r.window <= 0 || n === 0) return { n, mean, cov };
  // d[s] = distribution after s steps (s = 1..S).
  const d: Float64Array[] = [];
  let x = start;
  for (let s = 1; s <= S; s++) {
    const y = new Float64Array(n);
    for (let u = 0; u < n; u++) {
      const m = x[u];
      if (m !== 0) for (let v = 0; v < n; v++) y[v] += m * P[u * n + v];
    }
    d.push(y);
    for (let v = 0; v < n; v++) mean[v] += y[v];
    x = y;
  }
  // Pk = P^k, k = 1..S-1; A_k(u) = sum_{s=1}^{S-k} d_s(u).
  // E[V_u V_v] = [u==v] mean_u + sum_k (A_k(u) P^k(u,v) + A_k(v) P^k(v,u)).
  for (let u = 0; u < n; u++) cov[u * n + u] = mean[u];
  let Pk = P.slice();
  for (let k = 1; k <= S - 1; k++) {
    const A = new Float64Array(n);
    for (let s = 1; s <= S - k; s++) for (let u = 0; u < n; u++) A[u] += d[s - 1][u];
    for (let u = 0; u < n; u++) {
      for (let v = 0; v < n; v++) cov[u * n + v] += A[u] * Pk[u * n + v] + A[v] * Pk[v * n + u];
    }
    if (k < S - 1) {
      const next = new Float64Array(n * n);
      for (let u = 0; u < n; u++) {
        for (let w = 0; w < n; w++) {
          const a = Pk[u * n + w];
          if (a !== 0) for (let v = 0; v < n; v++) next[u * n + v] += a * P[w * n + v];
        }
      }
      Pk = next;
    }
  }
  for (let u = 0; u < n; u++) for (let v = 0; v < n; v++) cov[u * n + v] -= mean[u] * mean[v];
  return { n, mean, cov };
}

/** Upper tail of the standard normal, Q(z) = P(Z > z), by Simpson's rule (|error| < 1e-12 for z in [0, 12]). */
export function normalTail(z: number): number {
  const steps = 4000;
  const a = z;
  const b = z + 14;
  const h = (b - a) / steps;
  const phi = (t: number) => Math.exp(-0.5 * t * t) / Math.sqrt(2 * Math.PI);
  let sum = phi(a) + phi(b);
  for (let i = 1; i < steps; i++) sum += (i % 2 === 1 ? 4 : 2) * phi(a + i * h);
  return (sum * h) / 3;
}

/** z with Q(z) = p (bisection), for p in (0, 0.5]. */
export function normalQuantileUpper(p: number): number {
  let lo = 0;
  let hi = 12;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (normalTail(mid) > p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** 1 - alpha quantile of chi-square with k degrees of freedom (Wilson-Hilferty, accurate for k >= 10). */
export function chiSquareQuantile(k: number, alpha: number): number {
  const z = normalQuantileUpper(alpha);
  const c = 2 / (9 * k);
  return k * (1 - c + z * Math.sqrt(c)) ** 3;
}

export interface CountTestResult {
  /** Nodes tested (expected count >= minExpected and positive variance). */
  tested: number;
  maxAbsZ: number;
  worstNode: number;
  zBound: number;
  chiSquare: number;
  degrees: number;
  chiSquareBound: number;
  ok: boolean;
}

/**
 * Tests observed counts against the exact moments for `walkers` walkers at family-wise level
 * alpha (each of the two tests at alpha). Nodes with expected count < minExpected (default 20)
 * are left out (the normal approximation is poor there), and nodes with zero variance must match
 * their expectation exactly.
 */
export function testCounts(
  counts: ArrayLike<number>,
  moments: { n: number; mean: Float64Array; cov: Float64Array },
  walkers: number,
  alpha = 1e-3,
  minExpected = 20,
): CountTestResult {
  const { n, mean, cov } = moments;
  const sel: number[] = [];
  let exactOk = true;
  for (let v = 0; v < n; v++) {
    const mu = walkers * mean[v];
    const vr = walkers * cov[v * n + v];
    if (vr <= 1e-9 * Math.max(1, mu)) {
      if (Math.abs(counts[v] - mu) > 1e-6 * Math.max(1, mu)) exactOk = false;
    } else if (mu >= minExpected) {
      sel.push(v);
    }
  }
  const zBound = normalQuantileUpper(alpha / (2 * Math.max(1, sel.length)));
  let maxAbsZ = 0;
  let worstNode = -1;
  for (const v of sel) {
    const z = (counts[v] - walkers * mean[v]) / Math.sqrt(walkers * cov[v * n + v]);
    if (Math.abs(z) > maxAbsZ) {
      maxAbsZ = Math.abs(z);
      worstNode = v;
    }
  }
  // Mahalanobis distance on the selected nodes minus one (the counts' sum is fixed, so the full
  // covariance is singular).
  const idx = sel.slice(0, Math.max(0, sel.length - 1));
  const k = idx.length;
  const L = new Float64Array(k * k);
  for (let i = 0; i < k; i++) for (let j = 0; j <= i; j++) L[i * k + j] = walkers * cov[idx[i] * n + idx[j]];
  for (let j = 0; j < k; j++) {
    let s = L[j * k + j];
    for (let m = 0; m < j; m++) s -= L[j * k + m] * L[j * k + m];
    if (!(s > 0)) throw new Error(`covariance not positive definite at node ${idx[j]} (pivot ${s})`);
    const piv = Math.sqrt(s);
    L[j * k + j] = piv;
    for (let i = j + 1; i < k; i++) {
      let t = L[i * k + j];
      for (let m = 0; m < j; m++) t -= L[i * k + m] * L[j * k + m];
      L[i * k + j] = t / piv;
    }
  }
  const y = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    let t = counts[idx[i]] - walkers * mean[idx[i]];
    for (let m = 0; m < i; m++) t -= L[i * k + m] * y[m];
    y[i] = t / L[i * k + i];
  }
  let chiSquare = 0;
  for (let i = 0; i < k; i++) chiSquare += y[i] * y[i];
  const chiSquareBound = k > 0 ? chiSquareQuantile(k, alpha) : 0;
  return {
    tested: sel.length,
    maxAbsZ,
    worstNode,
    zBound,
    chiSquare,
    degrees: k,
    chiSquareBound,
    ok: exactOk && maxAbsZ <= zBound && chiSquare <= chiSquareBound,
  };
}
