#!/usr/bin/env node
// A/B timing of the fused decode attention between graph-cache builds, in one process on one GPU: the
// builds' addons are loaded side by side from their dist folders and timed in alternation on every case,
// so clock and thermal drift fall on both (session 14; more stable than comparing two bench runs).
//
//   AB_CASES='[{"batch":1,"length":4096,"writeGraph":1}]' node tools/decode-ab.mjs old=<dist> new=<dist>
//
// A dist folder is a built graph-cache's dist/ (its loader finds ../build/Release/graph_cache.node).
// Cases are benchCreate("decode") options over the defaults below (Llama-2-7B heads, automatic splits, PDL).
// Env: AB_ROUNDS (default 9) rounds of 200 back-to-back launches per build and case; median and min are
// printed; AB_OUT writes the rows as JSON. AB_INTERLEAVE=1: every round runs every case (all sessions
// created first), so cases are in alternation too, e.g. one build's kernel with and without the graph
// (session 16, run 6: timed case by case, seconds apart, the graph write's overhead at batch 1 x 4k came out
// at +4.6 % against +2.7 to +2.9 % in the alternating tools/decode-trace of the same run; with this mode,
// session 17 run 1 measured +1.6 % and +2.5 %: bench/results/h200-2026-11-30-m/).
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const say = (...parts) => process.stdout.write(`${parts.join(" ")}\n`);

if (process.argv.length < 3) {
  process.stderr.write("usage: AB_CASES=[...] node tools/decode-ab.mjs label=<graph-cache dist> [label=<dist> ...]\n");
  process.exit(2);
}
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
// Cases timed together: all of them (AB_INTERLEAVE=1), else one at a time. Each group's sessions are created,
// warmed, then timed round by round in alternation, and reported in case order.
const groups = process.env.AB_INTERLEAVE === "1" ? [cases] : cases.map((c) => [c]);
for (const group of groups) {
  const all = group.map((c) => {
    const opts = { ...base, ...c };
    return { opts, sessions: builds.map((b) => ({ b, s: b.addon.benchCreate("decode", opts), us: [] })) };
  });
  for (const { sessions } of all) for (const x of sessions) x.b.addon.benchRun(x.s.id, 100);
  for (let r = 0; r < rounds; r++) for (const { sessions } of all) for (const x of sessions) x.us.push(x.b.addon.benchRun(x.s.id, 200) * 1e3);
  for (const { opts, sessions } of all) {
    for (const x of sessions) {
      x.us.sort((p, q) => p - q);
      const row = { build: x.b.label, ...opts, numSplits: x.s.numSplits, medianUs: x.us[rounds >> 1], minUs: x.us[0] };
      rows.push(row);
      say(`${x.b.label.padEnd(8)} b=${opts.batch} len=${opts.length} graph=${opts.writeGraph} grouped=${opts.grouped ?? 0} heads=${opts.numHeads}/${opts.numKvHeads} splits=${x.s.numSplits}: median ${row.medianUs.toFixed(2)} us (min ${row.minUs.toFixed(2)})`);
      x.b.addon.benchDestroy(x.s.id);
    }
  }
}
if (process.env.AB_OUT) writeFileSync(process.env.AB_OUT, `${JSON.stringify({ date: new Date().toISOString(), commit: process.env.KVWALK_COMMIT, rows }, null, 1)}\n`);
