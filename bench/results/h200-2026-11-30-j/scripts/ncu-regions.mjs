// Sums Nsight Compute per-instruction warp-stall samples (ncu --page source --csv --print-source sass) by
// kernel region (prologue, tile loop, split partial, fence + ticket, tail) and stall reason:
//   xz -dk run1/b1x4k-wg1-sass.csv.xz && node scripts/ncu-regions.mjs run1/b1x4k-wg1-sass.csv [FROM-TO]
// With FROM-TO (instruction numbers) it also lists the sampled instructions of that range.
import { readFileSync } from "node:fs";
function parseCsv(t) {
  const rows = []; let row = [], f = "", q = false;
  for (let i = 0; i < t.length; i++) {
    const c = t[i];
    if (q) { if (c === '"') { if (t[i + 1] === '"') { f += '"'; i++; } else q = false; } else f += c; }
    else if (c === '"') q = true; else if (c === ",") { row.push(f); f = ""; } else if (c === "\n") { row.push(f); rows.push(row); row = []; f = ""; } else f += c;
  }
  return rows;
}
const rows = parseCsv(readFileSync(process.argv[2], "utf8"));
const hdr = rows[1]; const data = rows.slice(2).filter((r) => r.length === hdr.length);
const col = (n) => hdr.indexOf(n);
const reasons = hdr.slice(31, 49);
const insts = data.map((r, k) => ({ k, src: r[1].replace(/\s+/g, " ").trim(), all: +r[2], exec: +r[5], st: reasons.map((_, j) => +r[31 + j]) }));
// regions
const marks = [];
let seenBar = false, seenAtom = false;
insts.forEach((x) => {
  if (/ACQBULK/.test(x.src)) marks.push([x.k, "after-wait"]);
  if (/BAR.SYNC/.test(x.src) && !seenBar) { seenBar = true; marks.push([x.k, "split-partial"]); }
  if (/MEMBAR/.test(x.src) && !seenAtom) marks.push([x.k, "fence+ticket"]);
  if (/ATOMG/.test(x.src) && !seenAtom) { seenAtom = true; marks.push([x.k + 1, "tail"]); }
});
marks.sort((a, b) => a[0] - b[0]);
const dedup = [[0, "prologue"]];
for (const m of marks) if (m[1] !== dedup[dedup.length - 1][1] && !dedup.some((d) => d[1] === m[1])) dedup.push(m);
const total = insts.reduce((s, x) => s + x.all, 0);
console.log(process.argv[2], "total samples", total, "instructions", insts.length);
for (let i = 0; i < dedup.length; i++) {
  const [a, name] = dedup[i]; const b = i + 1 < dedup.length ? dedup[i + 1][0] : insts.length;
  const seg = insts.slice(a, b); const s = seg.reduce((t, x) => t + x.all, 0);
  const byR = reasons.map((r, j) => [r, seg.reduce((t, x) => t + x.st[j], 0)]).filter((x) => x[1] > 0).sort((p, q) => q[1] - p[1]).slice(0, 6);
  const ex = seg.reduce((t, x) => t + x.exec, 0);
  console.log(`${name.padEnd(14)} [${a}-${b}) samples ${s} (${(100 * s / total).toFixed(1)}%) warp-insts ${ex}  ${byR.map(([r, v]) => `${r.replace("stall_", "")}:${v}`).join(" ")}`);
}
if (process.argv[3]) { const [a, b] = process.argv[3].split("-").map(Number); for (const x of insts.slice(a, b)) if (x.all > 0 || process.argv[4]) console.log(x.k, x.all, x.exec, x.src.slice(0, 70), reasons.map((r, j) => x.st[j] ? `${r.replace("stall_", "")}:${x.st[j]}` : "").filter(Boolean).join(" ")); }
