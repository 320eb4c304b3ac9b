import { spawnSync } from "node:child_process";

/**
 * glibc malloc settings that make large, short-lived buffers cheap: transparent huge pages for
 * heap memory, no per-allocation mmap (freed blocks are reused instead of returned to the kernel),
 * and no heap trimming. On the 2-core Firecracker VM this project runs on, first-touch page faults
 * cost ~13 us per 4 KiB page, so every fresh 64 MiB [T, T] output from onnxruntime cost ~250 ms;
 * with these settings a 4096x64x4096 MatMul returning its output took 15-25 ms instead of
 * 300-450 ms. The price: the process's RSS never shrinks below its peak.
 */
export const TUNED_GLIBC_TUNABLES = "glibc.malloc.hugetlb=1:glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=1000000000000";

/** Whether this process runs with TUNED_GLIBC_TUNABLES (glibc reads them only at process start). */
export function allocatorTuned(env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.GLIBC_TUNABLES ?? "").includes("glibc.malloc.mmap_max=0");
}

/**
 * On Linux, re-runs the current Node command line in a child process with TUNED_GLIBC_TUNABLES
 * added to GLIBC_TUNABLES, waits for it and exits with its status; returns (doing nothing) when
 * already tuned, on other platforms, or when KVWALK_NO_REEXEC=1. Call it first thing in a CLI.
 */
export function reexecWithTunedAllocator(): void {
  if (process.platform !== "linux" || allocatorTuned() || process.env.KVWALK_NO_REEXEC === "1") return;
  const prev = process.env.GLIBC_TUNABLES;
  const env = { ...process.env, GLIBC_TUNABLES: prev ? `${prev}:${TUNED_GLIBC_TUNABLES}` : TUNED_GLIBC_TUNABLES };
  const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: "inherit", env });
  if (r.error) throw r.error;
  process.exit(r.status ?? (r.signal ? 1 : 0));
}
