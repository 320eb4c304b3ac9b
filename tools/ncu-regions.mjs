#!/usr/bin/env node
// Sums Nsight Compute's per-instruction warp-stall samples by kernel region (prologue, tile loop, split
// partial, fence + ticket, tail) and stall reason, for the graph-cache decode kernels (session 14). Input:
//   ncu --section WarpStateStats --section SourceCounters -o rep ... ; ncu --import rep.ncu-rep --page source --csv --print-source sass > k.csv
//   node tools/ncu-regions.mjs k.csv [FROM-TO]
// Regions are cut at the first ACQBULK (griddepcontrol.wait), the first BAR.SYNC, the first MEMBAR and the
// first ATOMG. With FROM-TO (instruction numbers) it also lists the sampled instructions of that range (any
// further argument: every instruction of it).
import { readFileSync } from "node:fs";

const say = (...parts) => process.stdout.write(`${parts.join(" ")}\n`);

function parseCsv(t) {
  const rows = []; let row = [], f = "", q = false;
  for (let i = 0; i < t.length; i++) {
    const c = t[i];
    if (q) { if (c === '"') { if (t[i + 1] === '"') { f += '"'; i++; } else q = false; } else f += c; }
    else if (c === '"') q = true; else if (c === ",") { row.push(f); f = ""; } else if (c === "\n") { row.push(f); rows.push(row); row = []; f = ""; } else f += c;
  }
  return rows;
}
if (!process.argv[2]) {
  process.stderr.write("usage: node tools/ncu-regions.mjs <ncu source-page csv> [FROM-TO]\n");
  process.exit(2);
}
const rows = parseCsv(readFileSync(process.argv[2], "utf8"));
const hdr = rows[1]; const data = rows.slice(2).filter((r) => r.length === hdr.length);
const col = (n) => {
  const i = hdr.indexOf(n);
  if (i < 0) throw new Error(`column "${n}" not in ${process.argv[2]}: expected ncu --page source --csv --print-source sass output`);
  return i;
};
const [cSrc, cAll, cExec] = [col("Source"), col("Warp Stall Sampling (All Samples)"), col("Instructions Executed")];
const reasonCols = hdr.map((h, i) => [h, i]).filter(([h]) => h.startsWith("stall_") && !h.includes("Not Issued"));
const reasons = reasonCols.map(([h]) => h);
const insts = data.map((r, k) => ({ k, src: r[cSrc].replace(/\s+/g, " ").trim(), all: +r[cAll], exec: +r[cExec], st: reasonCols.map(([, i]) => +r[i]) }));
// Regions start at the first ACQBULK (griddepcontrol.wait), the first BAR.SYNC, the first MEMBAR before the
// first ATOMG, and just after that ATOMG (the split ticket); markers a kernel lacks are left out.
const first = (re, end = insts.length) => insts.findIndex((x, k) => k < end && re.test(x.src));
const atom = first(/ATOMG/);
const regions = [
  [0, "prologue"],
  [first(/ACQBULK/), "after-wait"],
  [first(/BAR.SYNC/), "split-partial"],
  [first(/MEMBAR/, atom < 0 ? insts.length : atom), "fence+ticket"],
  [atom < 0 ? -1 : atom + 1, "tail"],
]
  .filter(([k]) => k >= 0)
  .sort((p, q) => p[0] - q[0]);
const total = insts.reduce((s, x) => s + x.all, 0);
say(process.argv[2], "total samples", total, "instructions", insts.length);
for (let i = 0; i < regions.length; i++) {
  const [a, name] = regions[i]; const b = i + 1 < regions.length ? regions[i + 1][0] : insts.length;
  const seg = insts.slice(a, b); const s = seg.reduce((t, x) => t + x.all, 0);
  const byR = reasons.map((r, j) => [r, seg.reduce((t, x) => t + x.st[j], 0)]).filter((x) => x[1] > 0).sort((p, q) => q[1] - p[1]).slice(0, 6);
  const ex = seg.reduce((t, x) => t + x.exec, 0);
  say(`${name.padEnd(14)} [${a}-${b}) samples ${s} (${(100 * s / total).toFixed(1)}%) warp-insts ${ex}  ${byR.map(([r, v]) => `${r.replace("stall_", "")}:${v}`).join(" ")}`);
}
if (process.argv[3]) { const [a, b] = process.argv[3].split("-").map(Number); for (const x of insts.slice(a, b)) if (x.all > 0 || process.argv[4]) say(x.k, x.all, x.exec, x.src.slice(0, 70), reasons.map((r, j) => x.st[j] ? `${r.replace("stall_", "")}:${x.st[j]}` : "").filter(Boolean).join(" ")); }
