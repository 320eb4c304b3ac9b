import { encodePng } from "./png.js";
import { Canvas, parseHex } from "./raster.js";

/**
 * A chart as a flat list of drawing items in pixel coordinates (y down), rendered twice: to SVG
 * text and to a PNG through the built-in rasterizer, so both files show the same layout. Text
 * `scale` is the bitmap font's integer scale (cell 6x8 pixels at scale 1); SVG uses a monospace
 * font of 10 x scale pixels, about the same advance.
 */
export type SceneItem =
  | { kind: "rect"; x: number; y: number; w: number; h: number; fill: string; stroke?: string; opacity?: number }
  | { kind: "line"; x1: number; y1: number; x2: number; y2: number; stroke: string; width?: number; dash?: [number, number] }
  | { kind: "polyline"; points: [number, number][]; stroke: string; width?: number; dash?: [number, number] }
  | { kind: "circle"; cx: number; cy: number; r: number; fill: string }
  | { kind: "text"; x: number; y: number; text: string; color?: string; scale?: number; anchor?: "start" | "middle" | "end"; rotate?: 0 | -90 };

export interface Scene {
  width: number;
  height: number;
  background: string;
  items: SceneItem[];
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const r2 = (v: number) => Math.round(v * 100) / 100;

/** SVG 1.1 text of a scene. */
export function renderSvg(scene: Scene): string {
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${scene.width}" height="${scene.height}" viewBox="0 0 ${scene.width} ${scene.height}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace">`,
    `<rect x="0" y="0" width="${scene.width}" height="${scene.height}" fill="${scene.background}"/>`,
  ];
  for (const it of scene.items) {
    switch (it.kind) {
      case "rect":
        out.push(
          `<rect x="${r2(it.x)}" y="${r2(it.y)}" width="${r2(it.w)}" height="${r2(it.h)}" fill="${it.fill}"${it.stroke ? ` stroke="${it.stroke}"` : ""}${it.opacity !== undefined ? ` fill-opacity="${it.opacity}"` : ""}/>`,
        );
        break;
      case "line":
        out.push(
          `<line x1="${r2(it.x1)}" y1="${r2(it.y1)}" x2="${r2(it.x2)}" y2="${r2(it.y2)}" stroke="${it.stroke}" stroke-width="${it.width ?? 1}"${it.dash ? ` stroke-dasharray="${it.dash.join(" ")}"` : ""}/>`,
        );
        break;
      case "polyline":
        out.push(
          `<polyline fill="none" points="${it.points.map(([x, y]) => `${r2(x)},${r2(y)}`).join(" ")}" stroke="${it.stroke}" stroke-width="${it.width ?? 1}"${it.dash ? ` stroke-dasharray="${it.dash.join(" ")}"` : ""}/>`,
        );
        break;
      case "circle":
        out.push(`<circle cx="${r2(it.cx)}" cy="${r2(it.cy)}" r="${r2(it.r)}" fill="${it.fill}"/>`);
        break;
      case "text": {
        const size = 10 * (it.scale ?? 1);
        const anchor = it.anchor ?? "start";
        const rot = it.rotate === -90 ? ` transform="rotate(-90 ${r2(it.x)} ${r2(it.y)})"` : "";
        out.push(
          `<text x="${r2(it.x)}" y="${r2(it.y)}" font-size="${size}" fill="${it.color ?? "#222222"}" text-anchor="${anchor}" dominant-baseline="central"${rot}>${esc(it.text)}</text>`,
        );
        break;
      }
    }
  }
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

/** Rasterizes a scene onto a canvas. */
export function rasterize(scene: Scene): Canvas {
  const cv = new Canvas(scene.width, scene.height, parseHex(scene.background));
  for (const it of scene.items) {
    switch (it.kind) {
      case "rect":
        cv.fillRect(it.x, it.y, it.w, it.h, parseHex(it.fill), it.opacity ?? 1);
        if (it.stroke) cv.strokeRect(it.x, it.y, it.w, it.h, parseHex(it.stroke));
        break;
      case "line":
        cv.line(it.x1, it.y1, it.x2, it.y2, parseHex(it.stroke), it.width ?? 1, it.dash);
        break;
      case "polyline":
        for (let i = 1; i < it.points.length; i++) {
          const [a, b] = [it.points[i - 1], it.points[i]];
          cv.line(a[0], a[1], b[0], b[1], parseHex(it.stroke), it.width ?? 1, it.dash);
        }
        break;
      case "circle":
        cv.disc(it.cx, it.cy, it.r, parseHex(it.fill));
        break;
      case "text":
        cv.text(it.x, it.y, it.text, parseHex(it.color ?? "#222222"), { scale: it.scale ?? 1, anchor: it.anchor, rotate: it.rotate });
        break;
    }
  }
  return cv;
}

/** PNG bytes of a scene. */
export function renderPng(scene: Scene): Uint8Array {
  const cv = rasterize(scene);
  return encodePng(cv.width, cv.height, cv.data);
}
