#!/usr/bin/env node
// Builds the native addon of the package in the current directory with cmake-js (Node-API only).
// - no cmake or no C++ compiler: prints why and exits 0 (the package works through its TS reference);
// - WITH_CUDA=OFF: CPU-only addon; otherwise CUDA is compiled when nvcc is found (see cmake/KvwalkNative.cmake);
// - KVWALK_SKIP_NATIVE=1: skip on purpose.
// A build that starts and fails is an error: a broken kernel must not hide behind the fallback.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus } from "node:os";
import { basename, dirname, join } from "node:path";

const pkgDir = process.cwd();
const name = basename(pkgDir);
const log = (msg) => console.error(`[build-native ${name}] ${msg}`);

if (process.env.KVWALK_SKIP_NATIVE === "1") {
  log("skipped (KVWALK_SKIP_NATIVE=1): the package will use its TypeScript reference");
  process.exit(0);
}
const has = (cmd, args = ["--version"]) => spawnSync(cmd, args, { stdio: "ignore" }).status === 0;
if (!has("cmake")) {
  log("cmake not found: no addon built; the package will use its TypeScript reference");
  process.exit(0);
}
if (!has(process.env.CXX ?? "c++")) {
  log("no C++ compiler (c++ or $CXX) found: no addon built; the package will use its TypeScript reference");
  process.exit(0);
}
const require = createRequire(join(pkgDir, "package.json"));
const cmakeJs = join(dirname(require.resolve("cmake-js/package.json")), "bin", "cmake-js");
if (!existsSync(cmakeJs)) {
  log(`cmake-js not found at ${cmakeJs}`);
  process.exit(1);
}
const withCuda = (process.env.WITH_CUDA ?? "AUTO").toUpperCase();
const jobs = String(Math.max(1, cpus().length));
const args = [cmakeJs, "compile", `--CDWITH_CUDA=${withCuda}`, "--parallel", jobs, "--log-level", "warn"];
log(`cmake-js compile (WITH_CUDA=${withCuda}, ${jobs} jobs)`);
const t0 = Date.now();
const r = spawnSync(process.execPath, args, { stdio: "inherit", env: { ...process.env, CMAKE_BUILD_PARALLEL_LEVEL: jobs } });
if (r.status !== 0) {
  log(`build failed (exit ${r.status}); fix the error above or set WITH_CUDA=OFF / KVWALK_SKIP_NATIVE=1`);
  process.exit(r.status ?? 1);
}
log(`built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
