import { textWidth } from "./font.js";
import type { Scene, SceneItem } from "./scene.js";

/** Categorical colours for series (chosen for contrast on white; colour-blind-friendlier order first). */
export const PALETTE = ["#1f5aa6", "#d9622b", "#2e9e44", "#c4302b", "#7a4fb0", "#8c5a3c", "#d45fb1", "#6f6f6f", "#a6a61f", "#1fa6b5"];

const TEXT = "#222222";
const GRID = "#e4e4e4";
const AXIS = "#444444";
const S = 2; // font scale for labels: 10x14-pixel glyphs

/** About `count` round tick values covering [lo, hi] (steps of 1, 2 or 5 times a power of ten). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi === lo) {
    const d = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    lo -= d;
    hi += d;
  }
  const raw = (hi - lo) / Math.max(1, count);
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => (hi - lo) / s <= count) ?? 10 * p;
  const start = Math.ceil(lo / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let v = start; v <= hi + step * 1e-9; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  return ticks;
}

/** Adds one tick step below/above when data fall outside the ticks, so no point sits on the frame. */
function extendTicks(ticks: number[], data: number[]): number[] {
  if (ticks.length < 2 || data.length === 0) return ticks;
  const step = ticks[1] - ticks[0];
  const out = ticks.slice();
  if (Math.min(...data) < out[0]) out.unshift(Number((out[0] - step).toPrecision(12)));
  if (Math.max(...data) > out[out.length - 1]) out.push(Number((out[out.length - 1] + step).toPrecision(12)));
  return out;
}

/** Short number label: up to 3 significant digits, no exponent for ordinary magnitudes. */
export function formatTick(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}

interface Frame {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

function header(items: SceneItem[], width: number, height: number, title: string, xLabel: string | undefined, yLabel: string | undefined, f: Frame): void {
  items.push({ kind: "text", x: width / 2, y: 20, text: title, scale: S, anchor: "middle", color: TEXT });
  if (xLabel) items.push({ kind: "text", x: (f.left + f.right) / 2, y: height - 14, text: xLabel, scale: S, anchor: "middle", color: TEXT });
  if (yLabel) items.push({ kind: "text", x: 14, y: (f.top + f.bottom) / 2, text: yLabel, scale: S, anchor: "middle", rotate: -90, color: TEXT });
}

function legend(items: SceneItem[], names: string[], colors: string[], x: number, y: number, kind: "line" | "box"): void {
  names.forEach((name, i) => {
    const yy = y + i * 22;
    if (kind === "line") {
      items.push({ kind: "line", x1: x, y1: yy, x2: x + 22, y2: yy, stroke: colors[i], width: 3 });
      items.push({ kind: "circle", cx: x + 11, cy: yy, r: 3.5, fill: colors[i] });
    } else items.push({ kind: "rect", x, y: yy - 7, w: 22, h: 14, fill: colors[i] });
    items.push({ kind: "text", x: x + 30, y: yy, text: name, scale: S, color: TEXT });
  });
}

function legendWidth(names: string[]): number {
  return names.length ? Math.max(...names.map((n) => textWidth(n, S))) + 56 : 16;
}

function yAxis(items: SceneItem[], f: Frame, ticks: number[], map: (v: number) => number): void {
  for (const t of ticks) {
    const y = map(t);
    items.push({ kind: "line", x1: f.left, y1: y, x2: f.right, y2: y, stroke: GRID });
    items.push({ kind: "line", x1: f.left - 5, y1: y, x2: f.left, y2: y, stroke: AXIS });
    items.push({ kind: "text", x: f.left - 9, y, text: formatTick(t), scale: S, anchor: "end", color: TEXT });
  }
  items.push({ kind: "line", x1: f.left, y1: f.top, x2: f.left, y2: f.bottom, stroke: AXIS });
  items.push({ kind: "line", x1: f.left, y1: f.bottom, x2: f.right, y2: f.bottom, stroke: AXIS });
}

/**
 * The plot frame of a chart with a value axis on y: room for the y tick labels on the left and the
 * legend of `legendNames` on the right; draws the header and the y axis (ticks within [yLo, yHi]) and
 * returns the frame and the y mapping.
 */
function valueFrame(
  items: SceneItem[],
  spec: { title: string; xLabel?: string; yLabel?: string },
  width: number,
  height: number,
  legendNames: string[],
  yTicks: number[],
  yLo: number,
  yHi: number,
): { f: Frame; my: (y: number) => number } {
  const yTickLabelW = Math.max(...yTicks.map((t) => textWidth(formatTick(t), S)), 20);
  const f: Frame = { left: 40 + yTickLabelW, right: width - legendWidth(legendNames), top: 44, bottom: height - 64 };
  const my = (y: number) => f.bottom - ((y - yLo) / (yHi - yLo || 1)) * (f.bottom - f.top);
  header(items, width, height, spec.title, spec.xLabel, spec.yLabel, f);
  yAxis(
    items,
    f,
    yTicks.filter((t) => t >= yLo - 1e-12 && t <= yHi + 1e-12),
    my,
  );
  return { f, my };
}

export interface LinePoint {
  x: number;
  y: number;
  /** Optional interval drawn as an error bar. */
  lo?: number;
  hi?: number;
}

export interface LineChartSpec {
  title: string;
  xLabel?: string;
  yLabel?: string;
  series: { name: string; points: LinePoint[]; color?: string; dashed?: boolean }[];
  /** Fixed tick positions and labels on x (e.g. budgets); default: nice ticks. */
  xTicks?: { value: number; label: string }[];
  yMin?: number;
  yMax?: number;
  width?: number;
  height?: number;
  /** Vertical dashed reference lines with a label at the top. */
  markers?: { x: number; label: string }[];
}

/** Line plot with markers, optional error bars, grid and legend. */
export function lineChart(spec: LineChartSpec): Scene {
  const width = spec.width ?? 960;
  const height = spec.height ?? 540;
  const items: SceneItem[] = [];
  const names = spec.series.map((s) => s.name);
  const colors = spec.series.map((s, i) => s.color ?? PALETTE[i % PALETTE.length]);
  const pts = spec.series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.y));
  const xs = pts
    .map((p) => p.x)
    .concat(spec.xTicks?.map((t) => t.value) ?? [])
    .concat(spec.markers?.map((m) => m.x) ?? []);
  const ys = pts.flatMap((p) => [p.y, p.lo ?? p.y, p.hi ?? p.y]).filter(Number.isFinite);
  let x0 = xs.length ? Math.min(...xs) : 0;
  let x1 = xs.length ? Math.max(...xs) : 1;
  if (x0 === x1) {
    x0 -= 0.5;
    x1 += 0.5;
  }
  const yTicks = extendTicks(niceTicks(spec.yMin ?? (ys.length ? Math.min(...ys) : 0), spec.yMax ?? (ys.length ? Math.max(...ys) : 1)), ys);
  const yLo = spec.yMin ?? Math.min(yTicks[0] ?? 0, ...ys);
  const yHi = spec.yMax ?? Math.max(yTicks[yTicks.length - 1] ?? 1, ...ys);
  const { f, my } = valueFrame(items, spec, width, height, names, yTicks, yLo, yHi);
  const pad = (f.right - f.left) * 0.03;
  const mx = (x: number) => f.left + pad + ((x - x0) / (x1 - x0)) * (f.right - f.left - 2 * pad);
  const xTicks = spec.xTicks ?? niceTicks(x0, x1).map((v) => ({ value: v, label: formatTick(v) }));
  for (const t of xTicks) {
    const x = mx(t.value);
    items.push({ kind: "line", x1: x, y1: f.bottom, x2: x, y2: f.bottom + 5, stroke: AXIS });
    items.push({ kind: "text", x, y: f.bottom + 18, text: t.label, scale: S, anchor: "middle", color: TEXT });
  }
  for (const m of spec.markers ?? []) {
    const x = mx(m.x);
    items.push({ kind: "line", x1: x, y1: f.top, x2: x, y2: f.bottom, stroke: "#888888", dash: [4, 4] });
    const right = x > (f.left + f.right) / 2;
    items.push({ kind: "text", x: right ? x - 4 : x + 4, y: f.top + 10, text: m.label, scale: S, anchor: right ? "end" : "start", color: "#555555" });
  }
  spec.series.forEach((s, i) => {
    const good = s.points.filter((p) => Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
    if (good.length > 1) items.push({ kind: "polyline", points: good.map((p) => [mx(p.x), my(p.y)]), stroke: colors[i], width: 2, dash: s.dashed ? [6, 4] : undefined });
    for (const p of good) {
      if (p.lo !== undefined && p.hi !== undefined && Number.isFinite(p.lo) && Number.isFinite(p.hi)) {
        const x = mx(p.x);
        items.push({ kind: "line", x1: x, y1: my(p.lo), x2: x, y2: my(p.hi), stroke: colors[i] });
        items.push({ kind: "line", x1: x - 4, y1: my(p.lo), x2: x + 4, y2: my(p.lo), stroke: colors[i] });
        items.push({ kind: "line", x1: x - 4, y1: my(p.hi), x2: x + 4, y2: my(p.hi), stroke: colors[i] });
      }
      items.push({ kind: "circle", cx: mx(p.x), cy: my(p.y), r: 3.5, fill: colors[i] });
    }
  });
  legend(items, names, colors, f.right + 16, f.top + 8, "line");
  return { width, height, background: "#ffffff", items };
}

export interface BarChartSpec {
  title: string;
  yLabel?: string;
  xLabel?: string;
  categories: string[];
  series: { name: string; values: (number | null)[]; lo?: (number | null)[]; hi?: (number | null)[]; color?: string }[];
  yMin?: number;
  yMax?: number;
  width?: number;
  height?: number;
}

/** Grouped bar chart: one group per category, one bar per series, optional error bars. */
export function barChart(spec: BarChartSpec): Scene {
  const width = spec.width ?? 960;
  const height = spec.height ?? 540;
  const items: SceneItem[] = [];
  const names = spec.series.map((s) => s.name);
  const colors = spec.series.map((s, i) => s.color ?? PALETTE[i % PALETTE.length]);
  const vals = spec.series.flatMap((s) => [...s.values, ...(s.lo ?? []), ...(s.hi ?? [])]).filter((v): v is number => v !== null && Number.isFinite(v));
  const yTicks = extendTicks(niceTicks(spec.yMin ?? Math.min(0, ...vals), spec.yMax ?? Math.max(0, ...vals)), vals);
  const yLo = spec.yMin ?? Math.min(yTicks[0] ?? 0, 0);
  const yHi = spec.yMax ?? Math.max(yTicks[yTicks.length - 1] ?? 1, ...vals);
  const { f, my } = valueFrame(items, spec, width, height, names.length > 1 ? names : [], yTicks, yLo, yHi);
  const band = (f.right - f.left) / Math.max(1, spec.categories.length);
  const barW = (band * 0.8) / Math.max(1, spec.series.length);
  spec.categories.forEach((cat, c) => {
    const bx = f.left + c * band + band * 0.1;
    // Full-size label if it fits the band, else half size, else truncated.
    const scale = textWidth(cat, S) <= band - 4 ? S : 1;
    const maxChars = Math.max(1, Math.floor((band - 4) / (6 * scale)));
    items.push({ kind: "text", x: f.left + (c + 0.5) * band, y: f.bottom + 18, text: cat.length > maxChars ? `${cat.slice(0, maxChars - 1)}~` : cat, scale, anchor: "middle", color: TEXT });
    spec.series.forEach((s, i) => {
      const v = s.values[c];
      if (v === null || v === undefined || !Number.isFinite(v)) return;
      const x = bx + i * barW;
      const y0 = my(Math.max(yLo, 0));
      const y1 = my(v);
      items.push({ kind: "rect", x, y: Math.min(y0, y1), w: Math.max(1, barW - 2), h: Math.abs(y1 - y0), fill: colors[i] });
      const lo = s.lo?.[c];
      const hi = s.hi?.[c];
      if (lo != null && hi != null && Number.isFinite(lo) && Number.isFinite(hi)) {
        const cx = x + (barW - 2) / 2;
        items.push({ kind: "line", x1: cx, y1: my(lo), x2: cx, y2: my(hi), stroke: AXIS });
        items.push({ kind: "line", x1: cx - 3, y1: my(lo), x2: cx + 3, y2: my(lo), stroke: AXIS });
        items.push({ kind: "line", x1: cx - 3, y1: my(hi), x2: cx + 3, y2: my(hi), stroke: AXIS });
      }
    });
  });
  if (names.length > 1) legend(items, names, colors, f.right + 16, f.top + 8, "box");
  return { width, height, background: "#ffffff", items };
}

/** Sequential colour map (light yellow -> dark blue), t in [0, 1]. */
export function sequentialColor(t: number): string {
  const anchors = [
    [255, 252, 214],
    [194, 230, 170],
    [94, 190, 180],
    [44, 127, 184],
    [37, 52, 148],
  ];
  const u = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (anchors.length - 1);
  const i = Math.min(anchors.length - 2, Math.floor(u));
  const w = u - i;
  const c = anchors[i].map((a, k) => Math.round(a + (anchors[i + 1][k] - a) * w));
  return `#${c.map((v) => v.toString(16).padStart(2, "0")).join("")}`;
}

export interface HeatmapSpec {
  title: string;
  xLabel?: string;
  yLabel?: string;
  xLabels: string[];
  yLabels: string[];
  /** values[row][col]; row r is drawn at yLabels[r] (top to bottom); null = no data. */
  values: (number | null)[][];
  min?: number;
  max?: number;
  /** Text printed in each cell (default: the value with 2 decimals). */
  cellText?: (v: number, row: number, col: number) => string;
  width?: number;
  height?: number;
}

/** Heatmap with row/column labels, values printed in the cells and a colour bar. */
export function heatmap(spec: HeatmapSpec): Scene {
  const rows = spec.yLabels.length;
  const cols = spec.xLabels.length;
  const flat = spec.values.flat().filter((v): v is number => v !== null && Number.isFinite(v));
  const lo = spec.min ?? (flat.length ? Math.min(...flat) : 0);
  const hi = spec.max ?? (flat.length ? Math.max(...flat) : 1);
  const labelW = Math.max(...spec.yLabels.map((l) => textWidth(l, S)), 10);
  const width = spec.width ?? Math.max(640, labelW + 60 + cols * 84 + 120);
  const height = spec.height ?? Math.max(320, 44 + rows * 40 + 80);
  const items: SceneItem[] = [];
  const f: Frame = { left: labelW + 48, right: width - 110, top: 44, bottom: height - 64 };
  header(items, width, height, spec.title, spec.xLabel, spec.yLabel, f);
  const cw = (f.right - f.left) / Math.max(1, cols);
  const ch = (f.bottom - f.top) / Math.max(1, rows);
  const fmt = spec.cellText ?? ((v: number) => v.toFixed(2));
  for (let r = 0; r < rows; r++) {
    items.push({ kind: "text", x: f.left - 8, y: f.top + (r + 0.5) * ch, text: spec.yLabels[r], scale: S, anchor: "end", color: TEXT });
    for (let c = 0; c < cols; c++) {
      const v = spec.values[r]?.[c] ?? null;
      const x = f.left + c * cw;
      const y = f.top + r * ch;
      if (v === null || !Number.isFinite(v)) {
        items.push({ kind: "rect", x, y, w: cw, h: ch, fill: "#eeeeee", stroke: "#ffffff" });
        continue;
      }
      const t = (v - lo) / (hi - lo || 1);
      items.push({ kind: "rect", x, y, w: cw, h: ch, fill: sequentialColor(t), stroke: "#ffffff" });
      const label = fmt(v, r, c);
      const scale = textWidth(label, S) < cw - 4 && ch >= 18 ? S : 1;
      if (textWidth(label, scale) < cw - 2) items.push({ kind: "text", x: x + cw / 2, y: y + ch / 2, text: label, scale, anchor: "middle", color: t > 0.55 ? "#ffffff" : TEXT });
    }
  }
  spec.xLabels.forEach((l, c) => {
    items.push({ kind: "text", x: f.left + (c + 0.5) * cw, y: f.bottom + 18, text: l, scale: S, anchor: "middle", color: TEXT });
  });
  // Colour bar.
  const bx = f.right + 24;
  const steps = 40;
  for (let i = 0; i < steps; i++) {
    const t0 = i / steps;
    const y = f.bottom - (i + 1) * ((f.bottom - f.top) / steps);
    items.push({ kind: "rect", x: bx, y, w: 18, h: (f.bottom - f.top) / steps + 1, fill: sequentialColor(t0 + 0.5 / steps) });
  }
  items.push({ kind: "text", x: bx + 24, y: f.top, text: formatTick(hi), scale: S, color: TEXT });
  items.push({ kind: "text", x: bx + 24, y: f.bottom, text: formatTick(lo), scale: S, color: TEXT });
  return { width, height, background: "#ffffff", items };
}
