#!/usr/bin/env node
// Summarizes decode_trace's JSON (tools/decode-trace/decode_trace.cu, trace build): per variant, the
// phases of every block in SM cycles (clock64) and the kernel's timeline in ns (%globaltimer, which ticks
// in steps of up to 1 us on some GPUs: read the cycles for short phases).
// Usage: node tools/decode-trace/summarize.mjs out.json[.xz] [more ...]  (Markdown on stdout; .xz read through xz -dc)
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

// Marks (KVWALK_DECODE_MARK in decode_attention.cuh): 0 start, 1 after the PDL wait, 2 after the tile loop,
// 3 after the split partial, 4 after the ticket; tail blocks only: 6 after the split-weight max, 7 after the
// candidate rank (before session 16) or the weights, 8 after the weight sum, 9 after the output loop, 5 tail
// end; recorded by the last warp's lane 0 (the graph lane): 13 after its lse2, 14 after the top-4 merge, 11
// after the node write (since session 16; before, 11 after the node write and 12 after its outputs, both
// counted from mark 8); 10 an experiment's extra mark.
const PHASES = [
  ["start -> PDL wait", 0, 1, false],
  ["tile loop", 1, 2, false],
  ["split partial", 2, 3, false],
  ["ticket", 3, 4, false],
  ["tail: loads + max", 4, 6, true],
  ["tail: weights (and the rank, before session 16)", 6, 7, true],
  ["tail: sum", 7, 8, true],
  ["tail: node + outputs", 8, 9, true],
  ["tail: lse + ticket reset", 9, 5, true],
  ["tail: ticket -> end", 4, 5, true],
  ["tail, graph lane: sum -> node written", 8, 11, true],
  ["tail, graph lane: sum -> outputs done", 8, 12, true],
  ["tail, graph lane: ticket -> lse2", 4, 13, true],
  ["tail, graph lane: lse2 -> merged", 13, 14, true],
  ["tail, graph lane: merged -> node written", 14, 11, true],
  ["tail, graph lane: ticket -> node written", 4, 11, true],
  ["tail: ticket -> mark 10", 4, 10, true],
  ["tail: mark 10 -> end", 10, 5, true],
];
const SLOTS = 16;

function quantiles(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (f) => (s.length ? s[Math.min(s.length - 1, Math.floor(f * s.length))] : Number.NaN);
  return { n: s.length, p10: q(0.1), median: q(0.5), p90: q(0.9), max: s.length ? s[s.length - 1] : Number.NaN };
}

function summarize(rows) {
  const t = (r, m) => Number(r[2 * m]);
  const c = (r, m) => Number(r[2 * m + 1]);
  const t0 = Math.min(...rows.map((r) => t(r, 0)));
  // a tail mark older than the launch's first block start belongs to an earlier launch
  const has = (r, m) => t(r, m) >= t0 && t(r, m) > 0;
  const tails = rows.filter((r) => has(r, 5));
  // the graph lane's last mark: 12 (its outputs, before session 16), else 11 (the node)
  const laneEnd = (r) => (has(r, 12) ? t(r, 12) : has(r, 11) ? t(r, 11) : 0);
  const end = (r) => (has(r, 5) ? Math.max(t(r, 5), laneEnd(r)) : t(r, 4)) - t0;
  const phases = [];
  for (const [name, a, b, tailOnly] of PHASES) {
    // marks 0-4 are set by every block of the launch; later ones only where that block reached them
    const rs = (tailOnly ? tails : rows).filter((r) => (a < 5 || has(r, a)) && (b < 5 || has(r, b)));
    if (rs.length) phases.push([name, quantiles(rs.map((r) => c(r, b) - c(r, a)))]);
  }
  const perSm = new Map();
  for (const r of rows) perSm.set(r[2 * (SLOTS - 1)], (perSm.get(r[2 * (SLOTS - 1)]) ?? 0) + 1);
  const smHist = {};
  for (const n of perSm.values()) smHist[n] = (smHist[n] ?? 0) + 1;
  return {
    blocks: rows.length,
    tails: tails.length,
    span_ns: Math.max(...rows.map(end)),
    times_ns: [
      ["tile loop end", quantiles(rows.map((r) => t(r, 2) - t0))],
      ["block end (after ticket)", quantiles(rows.map((r) => t(r, 4) - t0))],
      ["tail end", quantiles(tails.map((r) => t(r, 5) - t0))],
      ["tail end, graph lane", quantiles(tails.filter((r) => laneEnd(r) > 0).map((r) => laneEnd(r) - t0))],
    ],
    phases,
    blocks_per_sm: smHist,
  };
}

const fmt = (x) => (Number.isFinite(x) ? String(Math.round(x)) : "-");
const row = (name, q) => `| ${name} | ${q.n} | ${fmt(q.p10)} | ${fmt(q.median)} | ${fmt(q.p90)} | ${fmt(q.max)} |\n`;
for (const file of process.argv.slice(2)) {
  const j = JSON.parse(file.endsWith(".xz") ? execFileSync("xz", ["-dc", file], { encoding: "utf8", maxBuffer: 1 << 28 }) : readFileSync(file, "utf8"));
  const pct = ((j.graph_us.median / j.base_us.median - 1) * 100).toFixed(1);
  let out = `## ${file}: batch ${j.batch} x ${j.length}, splits ${j.splits.join("/")}\n\n`;
  out += `timing (PDL, per launch, median): base ${j.base_us.median} us, graph ${j.graph_us.median} us (+${pct} %)\n\n`;
  for (const v of ["base", "graph"]) {
    if (!j[`${v}_trace`]) continue;
    const s = summarize(j[`${v}_trace`]);
    out += `### ${v}: ${s.blocks} blocks, ${s.tails} tails, span ${fmt(s.span_ns)} ns; blocks per SM ${JSON.stringify(s.blocks_per_sm)}\n\n`;
    out += "| quantity | n | p10 | median | p90 | max |\n|---|---|---|---|---|---|\n";
    for (const [name, q] of s.times_ns) out += row(`${name} (ns)`, q);
    for (const [name, q] of s.phases) out += row(`${name} (cycles)`, q);
    out += "\n";
  }
  process.stdout.write(out);
}
