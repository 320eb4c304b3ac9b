/**
 * bfloat16 <-> float32 conversion. bf16 is the top half of a float32 (1 sign, 8 exponent, 7
 * mantissa bits); Uint16Array holds the raw bits. Conversion to bf16 rounds to nearest, ties to
 * even (as CUDA's __float2bfloat16_rn); NaN stays a (quiet) NaN.
 */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** One float32 value (a JS number is rounded to float32 first) to bf16 bits. */
export function f32ToBf16(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x007fffff) !== 0) return ((bits >>> 16) | 0x0040) & 0xffff;
  const rounded = bits + 0x7fff + ((bits >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

/** bf16 bits to the float32 value (exact). */
export function bf16ToF32(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0];
}

/** Float32Array -> bf16 bits (Uint16Array of the same length). */
export function toBf16(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32ToBf16(values[i]);
  return out;
}

/** bf16 bits -> Float32Array of the same length. */
export function fromBf16(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const view = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) view[i] = bits[i] << 16;
  return out;
}
