/**
 * Dependency-free charts: a chart is built once as a `Scene` (a flat list of shapes in pixel
 * coordinates) and rendered to SVG text and, through a small rasterizer (5x7 bitmap font) and PNG
 * encoder (zlib deflate + CRC-32), to PNG bytes, so both files show the same layout.
 */
export {
  type BarChartSpec,
  barChart,
  formatTick,
  type HeatmapSpec,
  heatmap,
  type LineChartSpec,
  type LinePoint,
  lineChart,
  niceTicks,
  PALETTE,
  sequentialColor,
} from "./charts.js";
export { CELL_HEIGHT, CELL_WIDTH, GLYPH_HEIGHT, GLYPH_WIDTH, glyphRows, hasGlyph, textWidth } from "./font.js";
export { crc32, encodePng } from "./png.js";
export { Canvas, parseHex, type Rgb } from "./raster.js";
export { rasterize, renderPng, renderSvg, type Scene, type SceneItem } from "./scene.js";
