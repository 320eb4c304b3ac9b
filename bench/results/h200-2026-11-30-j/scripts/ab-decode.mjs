// A/B timing of the fused decode attention between graph-cache builds in one process: each build's
// addon is loaded from its dist folder (argv: label=distDir ...), and for every case the builds are
// timed in alternation (rounds x CUDA-event means of 200 back-to-back launches; median and min reported).
// Env: AB_CASES (JSON list of benchCreate decode options), AB_ROUNDS (default 9), AB_OUT (JSON path).
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const builds = [];
for (const arg of process.argv.slice(2)) {
  const [label, dir] = arg.split("=");
  const { cudaAddon } = await import(pathToFileURL(resolve(dir, "loader.js")).href);
  const addon = cudaAddon();
  if (!addon) throw new Error(`no CUDA addon in ${dir}`);
  builds.push({ label, addon });
}
const base = { numHeads: 32, numKvHeads: 32, headDim: 128, layout: 0, numSplits: 0, pdl: 1 };
const cases = JSON.parse(process.env.AB_CASES ?? "[]");
const rounds = Number(process.env.AB_ROUNDS ?? 9);
const rows = [];
for (const c of cases) {
  const opts = { ...base, ...c };
  const sessions = builds.map((b) => ({ b, s: b.addon.benchCreate("decode", opts), us: [] }));
  for (const x of sessions) x.b.addon.benchRun(x.s.id, 100);
  for (let r = 0; r < rounds; r++) for (const x of sessions) x.us.push(x.b.addon.benchRun(x.s.id, 200) * 1e3);
  for (const x of sessions) {
    x.us.sort((p, q) => p - q);
    const row = { build: x.b.label, ...opts, numSplits: x.s.numSplits, medianUs: x.us[rounds >> 1], minUs: x.us[0] };
    rows.push(row);
    console.log(`${x.b.label.padEnd(8)} b=${opts.batch} len=${opts.length} graph=${opts.writeGraph} grouped=${opts.grouped ?? 0} heads=${opts.numHeads}/${opts.numKvHeads} splits=${x.s.numSplits}: median ${row.medianUs.toFixed(2)} us (min ${row.minUs.toFixed(2)})`);
    x.b.addon.benchDestroy(x.s.id);
  }
}
if (process.env.AB_OUT) writeFileSync(process.env.AB_OUT, `${JSON.stringify({ date: new Date().toISOString(), commit: process.env.KVWALK_COMMIT, rows }, null, 1)}\n`);
