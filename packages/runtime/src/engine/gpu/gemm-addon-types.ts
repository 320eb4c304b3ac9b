/**
 * Binding contract of the engine GEMM test functions (native/binding/gemm_tests.cc), exported by the
 * engine addon next to the engine itself.
 */

/** "builtin": the built-in kernels; "cublas": libcublas via dlopen (throws if it cannot load); "auto": cuBLAS if loadable. */
export type GemmBackendName = "builtin" | "cublas" | "auto";
/** Built-in kernel choice ("auto": decode for M <= 64, prefill for large M); ignored by cuBLAS. Inputs the fast kernels cannot take run "generic". */
export type GemmPathName = "auto" | "decode" | "prefill" | "generic";

export interface GemmTestOptions {
  path?: GemmPathName;
  /** Row strides in elements (defaults K, K, N). */
  lda?: number;
  ldw?: number;
  ldc?: number;
  /** K slices (2..8): launch_gemm_split_k plus the engine's split-K epilogue; compact strides only. */
  splitK?: number;
}

export interface GemmBenchResult {
  /** Median time of one launch (us) over the samples. */
  medianUs: number;
  minUs: number;
  /** gemm_backend_name of the context: "builtin", "builtin (cuBLAS not loaded: ...)" or "cublas <version>". */
  backend: string;
  /** Built-in path that ran ("decode" | "prefill" | "generic") or "cublas". */
  path: string;
  launchesPerSample: number;
  /** Rotating copies of W (>= 256 MiB in all, so launches do not run from L2). */
  wCopies: number;
  samples: number;
}

export interface GemmAddon {
  /**
   * C = (C0 ?? 0) + A . W^T on the GPU. A bf16 bits [M, lda], W bf16 bits [N, ldw], C0 f32 [M, ldc] or
   * null; returns f32 [M, ldc] with a `path` property naming the kernel that ran. With C0 null the
   * device C starts as NaN, so padding columns come back NaN and a kernel that read C shows NaN.
   */
  gemmTest(
    M: number,
    N: number,
    K: number,
    a: Uint16Array,
    w: Uint16Array,
    c0: Float32Array | null,
    backend: GemmBackendName,
    options?: GemmTestOptions,
  ): Float32Array & { path?: string };
  /** Times one GEMM on random device data (A [M,K], W [N,K], C [M,N], compact strides). */
  gemmBench(M: number, N: number, K: number, backend: GemmBackendName, iters: number, options?: { path?: GemmPathName; accumulate?: boolean; splitK?: number }): GemmBenchResult;
  /** Device-to-device cudaMemcpyAsync of `bytes`, median GB/s counting read + write (2 * bytes per copy). */
  copyBandwidth(bytes: number, iters: number): number;
  /** Whether a backend can be created, and its name; never throws for an unavailable one. */
  gemmBackend(backend: GemmBackendName): { ok: true; name: string; backend: "builtin" | "cublas" } | { ok: false; error: string };
}
