// Prefetch variant vs current at explicit split counts: node pf.mjs cur.node pf.node
import { createRequire } from "node:module";
import { writeFileSync } from "node:fs";
const require = createRequire(import.meta.url);
const addons = process.argv.slice(2).map((f) => ({ name: f.replace(/.*\//, "").replace(".node", ""), a: require(f) }));
const med = (x) => { const s = [...x].sort((p, q) => p - q); return s[s.length >> 1]; };
const configs = [
  [1, 4096, [16, 8]], [1, 16384, [28, 16]], [1, 883, [4, 8]],
  [8, 883, [3, 2]], [8, 4096, [3, 2]], [32, 883, [4, 2]], [32, 4096, [4, 2]], [32, 16384, [4]],
];
const rows = [];
for (const [batch, length, splitList] of configs) {
  const sess = [];
  for (const v of addons) for (const numSplits of splitList) for (const g of [0, 1]) {
    const s = v.a.benchCreate("decode", { batch, numHeads: 32, numKvHeads: 32, headDim: 128, length, writeGraph: g, layout: 0, numSplits, pdl: 1 });
    v.a.benchRun(s.id, 3);
    sess.push({ v, numSplits, g, id: s.id, t: [] });
  }
  const launches = Math.max(4, Math.round(2000 / (batch * length / 1024)));
  for (let r = 0; r < 13; r++) for (const s of sess) s.t.push(s.v.a.benchRun(s.id, Math.min(launches, 40)) * 1e3);
  for (const v of addons) for (const ns of splitList) {
    const b = sess.find((s) => s.v === v && s.numSplits === ns && s.g === 0), g = sess.find((s) => s.v === v && s.numSplits === ns && s.g === 1);
    const row = { variant: v.name, batch, length, splits: ns, baseUs: med(b.t), graphUs: med(g.t) };
    row.overheadPct = (row.graphUs / row.baseUs - 1) * 100;
    rows.push(row);
    console.log(`${v.name.padEnd(6)} b=${batch} len=${length} splits=${ns}: base ${row.baseUs.toFixed(1)} us, graph ${row.graphUs.toFixed(1)} us, +${row.overheadPct.toFixed(1)} %`);
  }
  for (const s of sess) s.v.a.benchDestroy(s.id);
}
writeFileSync(`${process.env.OUT ?? "."}/prefetch-sweep.json`, JSON.stringify({ date: new Date().toISOString(), addons: process.argv.slice(2), rows }, null, 1));
