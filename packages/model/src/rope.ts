/**
 * RoPE tables in transformers' "default" convention, reproducing its float32 arithmetic:
 * inv_freq[i] = 1 / theta^(2i/d) (f32), angle = inv_freq[i] * pos (f32), emb = cat(angles, angles),
 * and the rotation x * cos + rotate_half(x) * sin with rotate_half(x) = cat(-x2, x1).
 * Returns cos and sin, each [T, headDim] row-major.
 */
export function ropeTables(T: number, headDim: number, theta: number): { cos: Float32Array; sin: Float32Array } {
  const half = headDim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const expo = Math.fround((2 * i) / headDim);
    inv[i] = Math.fround(1 / Math.fround(theta ** expo));
  }
  const cos = new Float32Array(T * headDim);
  const sin = new Float32Array(T * headDim);
  for (let t = 0; t < T; t++) {
    const row = t * headDim;
    for (let i = 0; i < half; i++) {
      const a = Math.fround(inv[i] * t);
      const c = Math.cos(a);
      const s = Math.sin(a);
      cos[row + i] = c;
      cos[row + half + i] = c;
      sin[row + i] = s;
      sin[row + half + i] = s;
    }
  }
  return { cos, sin };
}
