// Half-precision numbers by bit operations. phi-2 is published in float16
// (1 sign bit, 5 exponent bits, 10 mantissa bits); some models use bfloat16
// (the top 16 bits of a float32). We compute in float32.

import { DTYPE_BYTES } from "./dtypes";
import type { WeightDtype } from "./matmul";

export { DTYPE_BYTES }; // the table lives in dtypes.ts

/** float16 bits → number (exact: every float16 is a float32). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24; // zero and subnormals
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

// 65536-entry table: decoding by lookup is faster than the branches above.
let HALF_TABLE: Float32Array | undefined;
function halfTable(): Float32Array {
  if (!HALF_TABLE) {
    HALF_TABLE = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) HALF_TABLE[h] = halfToFloat(h);
  }
  return HALF_TABLE;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** number → float16 bits, round to nearest even (as torch's .half()). */
export function floatToHalf(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / NaN
  const e = exp - 127 + 15; // re-biased exponent
  if (e >= 31) return sign | 0x7c00; // overflow → inf
  if (e <= 0) {
    // subnormal half (or zero): shift the implicit 1 in, round to nearest even
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && m & 1)) m++;
    return sign | m;
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // may carry into the exponent: correct
  return h;
}

/** bfloat16 bits → number. */
export function bf16ToFloat(b: number): number {
  u32[0] = (b & 0xffff) << 16;
  return f32[0];
}

/**
 * Decode `count` little-endian elements of `dtype` from `bytes` into `out` (float32).
 * `out` defaults to a new Float32Array.
 */
export function decodeToF32(
  bytes: Uint8Array,
  dtype: WeightDtype,
  count = bytes.byteLength / DTYPE_BYTES[dtype],
  out = new Float32Array(count),
): Float32Array {
  const size = DTYPE_BYTES[dtype];
  if (bytes.byteLength < count * size) throw new Error(`decodeToF32: ${bytes.byteLength} bytes hold fewer than ${count} ${dtype} values`);
  // fast path: the file's little-endian order is this machine's, and the bytes are aligned
  if (LITTLE_ENDIAN && bytes.byteOffset % size === 0) {
    if (dtype === "F32") {
      out.set(new Float32Array(bytes.buffer, bytes.byteOffset, count));
      return out;
    }
    const h = new Uint16Array(bytes.buffer, bytes.byteOffset, count);
    if (dtype === "F16") {
      const table = halfTable();
      for (let i = 0; i < count; i++) out[i] = table[h[i]];
    } else {
      const u = new Uint32Array(out.buffer, out.byteOffset, count);
      for (let i = 0; i < count; i++) u[i] = h[i] << 16; // bfloat16 = the top half of a float32
    }
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === "F32") {
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
  } else if (dtype === "F16") {
    const table = halfTable();
    for (let i = 0; i < count; i++) out[i] = table[view.getUint16(2 * i, true)];
  } else {
    for (let i = 0; i < count; i++) out[i] = bf16ToFloat(view.getUint16(2 * i, true));
  }
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
