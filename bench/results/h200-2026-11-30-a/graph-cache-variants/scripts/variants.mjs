// Times decode attention variants (compile-time switches) side by side: node variants.mjs a.node b.node ...
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const files = process.argv.slice(2);
const addons = files.map((f) => ({ name: f.replace(/.*\//, "").replace(".node", ""), a: require(f) }));
const configs = [
  { batch: 1, length: 4096, launches: 40 }, { batch: 1, length: 16384, launches: 20 },
  { batch: 8, length: 4096, launches: 10 }, { batch: 32, length: 4096, launches: 6 },
];
const med = (x) => { const s = [...x].sort((a, b) => a - b); return s[s.length >> 1]; };
const res = [];
for (const c of configs) {
  const sess = [];
  for (const v of addons) for (const g of [0, 1]) {
    const s = v.a.benchCreate("decode", { batch: c.batch, numHeads: 32, numKvHeads: 32, headDim: 128, length: c.length, writeGraph: g, layout: 0, numSplits: 0, pdl: 1 });
    v.a.benchRun(s.id, 3);
    sess.push({ v, g, id: s.id, splits: s.numSplits, t: [] });
  }
  for (let r = 0; r < 15; r++) for (const s of sess) s.t.push(s.v.a.benchRun(s.id, c.launches) * 1e3);
  for (const v of addons) {
    const b = sess.find((s) => s.v === v && s.g === 0), g = sess.find((s) => s.v === v && s.g === 1);
    const row = { variant: v.name, ...c, splits: b.splits, baseUs: med(b.t), graphUs: med(g.t) };
    row.overheadPct = (row.graphUs / row.baseUs - 1) * 100;
    res.push(row);
    console.log(`${v.name.padEnd(8)} b=${c.batch} ctx=${c.length}: base ${row.baseUs.toFixed(2)} us, graph ${row.graphUs.toFixed(2)} us, +${row.overheadPct.toFixed(1)} %`);
  }
  for (const s of sess) s.v.a.benchDestroy(s.id);
}
import { writeFileSync } from "node:fs";
writeFileSync(`${process.env.OUT ?? "."}/variants.json`, JSON.stringify({ date: new Date().toISOString(), files, rows: res }, null, 1));
