import { expectInt } from "../validate.js";
import { CELL_HEIGHT, CELL_WIDTH, GLYPH_HEIGHT, GLYPH_WIDTH, glyphRows, textWidth } from "./font.js";

/** An opaque colour as [r, g, b], 0..255. */
export type Rgb = readonly [number, number, number];

/** Parses "#rrggbb" into [r, g, b]. */
export function parseHex(hex: string): Rgb {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) throw new Error(`colour must be #rrggbb, got ${hex}`);
  return [Number.parseInt(m[1], 16), Number.parseInt(m[2], 16), Number.parseInt(m[3], 16)];
}

/**
 * A minimal RGBA canvas ([height, width, 4], top row first) with the primitives the charts need:
 * filled rectangles, thick lines, filled discs and bitmap text (horizontal or rotated -90 degrees).
 * Coordinates are pixels; shapes are clipped to the canvas. No anti-aliasing.
 */
export class Canvas {
  readonly data: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = [255, 255, 255],
  ) {
    expectInt("width", width, 1);
    expectInt("height", height, 1);
    this.data = new Uint8Array(width * height * 4);
    for (let i = 0; i < width * height; i++) {
      this.data[i * 4] = background[0];
      this.data[i * 4 + 1] = background[1];
      this.data[i * 4 + 2] = background[2];
      this.data[i * 4 + 3] = 255;
    }
  }

  /** Blends `c` over pixel (x, y) with opacity `alpha` (0..1); outside the canvas does nothing. */
  setPixel(x: number, y: number, c: Rgb, alpha = 1): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 4;
    if (alpha >= 1) {
      this.data[i] = c[0];
      this.data[i + 1] = c[1];
      this.data[i + 2] = c[2];
    } else {
      for (let k = 0; k < 3; k++) this.data[i + k] = Math.round(this.data[i + k] * (1 - alpha) + c[k] * alpha);
    }
  }

  getPixel(x: number, y: number): Rgb {
    const i = (y * this.width + x) * 4;
    return [this.data[i], this.data[i + 1], this.data[i + 2]];
  }

  /** Fills the pixels whose centres lie in [x, x+w) x [y, y+h). */
  fillRect(x: number, y: number, w: number, h: number, c: Rgb, alpha = 1): void {
    const x0 = Math.max(0, Math.round(x));
    const y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + w));
    const y1 = Math.min(this.height, Math.round(y + h));
    for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) this.setPixel(xx, yy, c, alpha);
  }

  /** Outline of a rectangle, 1 pixel wide. */
  strokeRect(x: number, y: number, w: number, h: number, c: Rgb): void {
    this.line(x, y, x + w, y, c);
    this.line(x + w, y, x + w, y + h, c);
    this.line(x + w, y + h, x, y + h, c);
    this.line(x, y + h, x, y, c);
  }

  /** A line of `width` pixels (square brush) from (x0, y0) to (x1, y1); `dash` = [on, off] pixel lengths. */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, width = 1, dash?: readonly [number, number]): void {
    let ax = Math.round(x0);
    let ay = Math.round(y0);
    const bx = Math.round(x1);
    const by = Math.round(y1);
    const dx = Math.abs(bx - ax);
    const dy = -Math.abs(by - ay);
    const sx = ax < bx ? 1 : -1;
    const sy = ay < by ? 1 : -1;
    let err = dx + dy;
    const r0 = -Math.floor((width - 1) / 2);
    const r1 = r0 + Math.max(1, Math.round(width)) - 1;
    for (let step = 0; ; step++) {
      if (!dash || step % (dash[0] + dash[1]) < dash[0]) {
        for (let oy = r0; oy <= r1; oy++) for (let ox = r0; ox <= r1; ox++) this.setPixel(ax + ox, ay + oy, c);
      }
      if (ax === bx && ay === by) break;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        ax += sx;
      }
      if (e2 <= dx) {
        err += dx;
        ay += sy;
      }
    }
  }

  /** A filled disc of radius r centred at (cx, cy). */
  disc(cx: number, cy: number, r: number, c: Rgb): void {
    const x0 = Math.floor(cx - r);
    const x1 = Math.ceil(cx + r);
    const y0 = Math.floor(cy - r);
    const y1 = Math.ceil(cy + r);
    for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) this.setPixel(x, y, c);
  }

  /**
   * Bitmap text at integer `scale`. (x, y) is the anchor: horizontally the start, middle or end of
   * the text; vertically the middle of the glyph cell. `rotate` -90 runs the text bottom to top
   * (for y-axis labels), the anchor then applying along the rotated direction.
   */
  text(x: number, y: number, s: string, c: Rgb, opts: { scale?: number; anchor?: "start" | "middle" | "end"; rotate?: 0 | -90 } = {}): void {
    const scale = Math.max(1, Math.round(opts.scale ?? 1));
    const w = textWidth(s, scale);
    const shift = opts.anchor === "middle" ? w / 2 : opts.anchor === "end" ? w : 0;
    const half = (GLYPH_HEIGHT * scale) / 2;
    const chars = [...s];
    for (let k = 0; k < chars.length; k++) {
      const rows = glyphRows(chars[k]);
      for (let gy = 0; gy < GLYPH_HEIGHT; gy++) {
        for (let gx = 0; gx < GLYPH_WIDTH; gx++) {
          if (!((rows[gy] >> (GLYPH_WIDTH - 1 - gx)) & 1)) continue;
          // Glyph-space offset of this pixel from the anchor: u along the text, v down the glyph.
          const u = k * CELL_WIDTH * scale + gx * scale - shift;
          const v = gy * scale - half;
          if (opts.rotate === -90) this.fillRect(Math.round(x + v), Math.round(y - u - scale), scale, scale, c);
          else this.fillRect(Math.round(x + u), Math.round(y + v), scale, scale, c);
        }
      }
    }
  }
}

export { CELL_HEIGHT, CELL_WIDTH };
