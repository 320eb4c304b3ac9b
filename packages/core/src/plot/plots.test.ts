import { inflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { barChart, formatTick, heatmap, lineChart, niceTicks, sequentialColor } from "./charts.js";
import { GLYPH_HEIGHT, glyphRows, hasGlyph, textWidth } from "./font.js";
import { crc32, encodePng } from "./png.js";
import { Canvas } from "./raster.js";
import { rasterize, renderPng, renderSvg } from "./scene.js";

/** Minimal PNG reader for the tests: checks signature and CRCs, inflates IDAT, undoes filter 0. */
function decodePng(png: Uint8Array): { width: number; height: number; rgba: Uint8Array } {
  expect([...png.subarray(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let o = 8;
  let width = 0;
  let height = 0;
  const idat: Uint8Array[] = [];
  const types: string[] = [];
  while (o < png.length) {
    const len = view.getUint32(o);
    const type = String.fromCharCode(...png.subarray(o + 4, o + 8));
    types.push(type);
    const data = png.subarray(o + 8, o + 8 + len);
    expect(view.getUint32(o + 8 + len)).toBe(crc32(png.subarray(o + 4, o + 8 + len)));
    if (type === "IHDR") {
      width = view.getUint32(o + 8);
      height = view.getUint32(o + 12);
      expect([...data.subarray(8)]).toEqual([8, 6, 0, 0, 0]);
    }
    if (type === "IDAT") idat.push(data);
    o += 12 + len;
  }
  expect(types[0]).toBe("IHDR");
  expect(types[types.length - 1]).toBe("IEND");
  const raw = inflateSync(Buffer.concat(idat));
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (width * 4 + 1)]).toBe(0);
    rgba.set(raw.subarray(y * (width * 4 + 1) + 1, (y + 1) * (width * 4 + 1)), y * width * 4);
  }
  return { width, height, rgba };
}

describe("PNG encoder", () => {
  it("CRC-32 matches the standard check values", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
    expect(crc32(new TextEncoder().encode("IEND"))).toBe(0xae426082);
  });
  it("round-trips pixels through zlib", () => {
    const rgba = Uint8Array.from({ length: 3 * 2 * 4 }, (_, i) => (i * 37) % 256);
    const png = encodePng(3, 2, rgba);
    const back = decodePng(png);
    expect(back.width).toBe(3);
    expect(back.height).toBe(2);
    expect(back.rgba).toEqual(rgba);
    expect(() => encodePng(3, 2, rgba.subarray(1))).toThrow(/rgba/);
  });
});

describe("bitmap font and canvas", () => {
  it("has every printable ASCII glyph, 7 rows of 5 bits", () => {
    for (let c = 32; c < 127; c++) {
      const ch = String.fromCharCode(c);
      expect(hasGlyph(ch), ch).toBe(true);
      const rows = glyphRows(ch);
      expect(rows.length).toBe(GLYPH_HEIGHT);
      expect(rows.every((r) => r < 32)).toBe(true);
    }
    expect(textWidth("ab", 2)).toBe(22);
  });
  it("draws glyph pixels where the bitmap says", () => {
    const cv = new Canvas(10, 10);
    // "I" at scale 1: top row .###. -> pixels x = 1..3 of row 0 when anchored at (0, 3.5)
    cv.text(0, 3.5, "I", [0, 0, 0]);
    expect(cv.getPixel(0, 0)).toEqual([255, 255, 255]);
    expect(cv.getPixel(1, 0)).toEqual([0, 0, 0]);
    expect(cv.getPixel(2, 3)).toEqual([0, 0, 0]); // the stem
    expect(cv.getPixel(1, 3)).toEqual([255, 255, 255]);
  });
  it("draws lines end to end and clips", () => {
    const cv = new Canvas(5, 5);
    cv.line(0, 0, 4, 4, [10, 20, 30]);
    for (let i = 0; i < 5; i++) expect(cv.getPixel(i, i)).toEqual([10, 20, 30]);
    cv.line(-10, 2, 20, 2, [1, 2, 3]);
    expect(cv.getPixel(0, 2)).toEqual([1, 2, 3]);
    expect(cv.getPixel(4, 2)).toEqual([1, 2, 3]);
  });
});

describe("charts", () => {
  it("nice ticks are round and cover the range", () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(93, 141)).toEqual([100, 110, 120, 130, 140]);
    expect(formatTick(0.30000000000000004)).toBe("0.3");
    expect(sequentialColor(0)).toBe("#fffcd6");
    expect(sequentialColor(1)).toBe("#253494");
  });
  it("line, bar and heatmap scenes render to SVG and a valid PNG", () => {
    const scenes = [
      lineChart({
        title: "Perplexity vs budget",
        xLabel: "budget",
        yLabel: "ppl",
        series: [
          { name: "h2o", points: [{ x: 0.1, y: 120, lo: 110, hi: 130 }, { x: 0.2, y: 100 }] },
          { name: "pagerank", points: [{ x: 0.1, y: 115 }, { x: 0.2, y: 98 }] },
        ],
      }),
      barChart({ title: "Accuracy", categories: ["full", "h2o"], series: [{ name: "acc", values: [1, 0.5], lo: [0.8, 0.3], hi: [1, 0.7] }] }),
      heatmap({ title: "Needle", xLabels: ["0", "0.5", "1"], yLabels: ["h2o", "pagerank"], values: [[1, 0.5, null], [0, 1, 0.25]], min: 0, max: 1 }),
    ];
    for (const s of scenes) {
      const svg = renderSvg(s);
      expect(svg.startsWith("<svg")).toBe(true);
      expect(svg.trim().endsWith("</svg>")).toBe(true);
      const png = decodePng(renderPng(s));
      expect([png.width, png.height]).toEqual([s.width, s.height]);
      // Something was drawn: not every pixel is the white background.
      const cv = rasterize(s);
      let ink = 0;
      for (let i = 0; i < cv.data.length; i += 4) if (cv.data[i] !== 255 || cv.data[i + 1] !== 255 || cv.data[i + 2] !== 255) ink++;
      expect(ink).toBeGreaterThan(500);
    }
    expect(renderSvg(scenes[0])).toContain("Perplexity vs budget");
    expect(renderSvg(scenes[2])).toContain(">0.25<");
  });
  it("escapes text in SVG", () => {
    const s = barChart({ title: "a<b & c", categories: ["x"], series: [{ name: "s", values: [1] }] });
    expect(renderSvg(s)).toContain("a&lt;b &amp; c");
  });
});
