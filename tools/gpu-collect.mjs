#!/usr/bin/env node
// Copies the JSON results a GPU run returned (device tool's files_at, or the bundle's out/) into
// bench/results/, adding provenance (date, GPU and driver from the device probe, commit) to each.
//   node tools/gpu-collect.mjs <returned folder> [--run NAME]   -> bench/results/NAME/ (default: gpu-<date>)
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { writeFileAtomic, writeJsonAtomic } from "../packages/core/dist/index.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
let [src, ...rest] = process.argv.slice(2);
if (src && existsSync(join(src, "gpu-results.tar.gz"))) {
  const unpacked = mkdtempSync(join(tmpdir(), "kvwalk-gpu-"));
  execFileSync("tar", ["xzf", join(src, "gpu-results.tar.gz"), "-C", unpacked]);
  src = unpacked;
}
if (!src || !existsSync(src)) {
  console.error("usage: gpu-collect.mjs <folder with returned files> [--prefix NAME]");
  process.exit(2);
}
const runName = rest[0] === "--run" ? rest[1] : undefined;
const probePath = join(src, "device-probe.json");
const probe = existsSync(probePath) ? JSON.parse(readFileSync(probePath, "utf8")) : {};
const device = Object.values(probe.packages ?? {}).find((p) => p?.device)?.device;
const runDir = join(root, "bench", "results", runName ?? `gpu-${(probe.date ?? new Date().toISOString()).slice(0, 10)}`);
const provenance = { date: probe.date ?? new Date().toISOString(), commit: probe.commit ?? "unknown", gpu: device?.name ?? "unknown", driver: probe.nvidiaSmi ?? "unknown", device };
for (const f of readdirSync(src)) {
  if (f.endsWith(".log") || f.endsWith(".csv")) {
    writeFileAtomic(join(runDir, f), readFileSync(join(src, f)));
    continue;
  }
  if (!f.endsWith(".json")) continue;
  const body = JSON.parse(readFileSync(join(src, f), "utf8"));
  const merged = f === "device-probe.json" ? body : { provenance, ...body };
  const dest = join(runDir, f);
  writeJsonAtomic(dest, merged);
  console.error(`wrote ${dest}`);
}
