// Split-count sweep of the fused decode attention at short (evicted) contexts: node splits.mjs addon.node
import { createRequire } from "node:module";
import { writeFileSync } from "node:fs";
const require = createRequire(import.meta.url);
const a = require(process.argv[2]);
const med = (x) => { const s = [...x].sort((p, q) => p - q); return s[s.length >> 1]; };
const rows = [];
for (const [batch, length] of [[32, 883], [32, 4096], [8, 883], [1, 883]]) {
  const sess = [];
  for (const numSplits of [0, 1, 2, 3, 4, 8]) for (const g of [0, 1]) {
    const s = a.benchCreate("decode", { batch, numHeads: 32, numKvHeads: 32, headDim: 128, length, writeGraph: g, layout: 0, numSplits, pdl: 1 });
    a.benchRun(s.id, 3);
    sess.push({ numSplits, g, id: s.id, splits: s.numSplits, t: [] });
  }
  const launches = batch === 32 ? 10 : 30;
  for (let r = 0; r < 15; r++) for (const s of sess) s.t.push(a.benchRun(s.id, launches) * 1e3);
  for (const ns of [0, 1, 2, 3, 4, 8]) {
    const b = sess.find((s) => s.numSplits === ns && s.g === 0), g = sess.find((s) => s.numSplits === ns && s.g === 1);
    const row = { batch, length, requested: ns, splits: b.splits, baseUs: med(b.t), graphUs: med(g.t) };
    row.overheadPct = (row.graphUs / row.baseUs - 1) * 100;
    rows.push(row);
    console.log(`b=${batch} len=${length} splits=${ns === 0 ? `auto(${b.splits})` : ns}: base ${row.baseUs.toFixed(1)} us, graph ${row.graphUs.toFixed(1)} us, +${row.overheadPct.toFixed(1)} %`);
  }
  for (const s of sess) a.benchDestroy(s.id);
}
writeFileSync(`${process.env.OUT ?? "."}/split-sweep-short.json`, JSON.stringify({ date: new Date().toISOString(), addon: process.argv[2], rows }, null, 1));
