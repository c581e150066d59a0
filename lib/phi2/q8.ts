// Q8_0 in plain TypeScript: the reference the wasm kernel (kernels/assembly/q8.ts)
// is tested against, and JsMatmul's int8 path.
//
// A row is cut into blocks of 32 values; each block keeps one scale d (rounded to
// fp16, as GGUF's Q8_0 stores it) and 32 int8 q with value ≈ d · q:
//   d = max|w| / 127,   q = round(w / d) (half to even), |q| ≤ 127.
// A dot product of two quantized rows is Σ_blocks d_w · d_x · Σ_i q_w,i · q_x,i:
// integer sums inside a block (exact), one float multiply per block.

import { Q8_BLOCK } from "./matmul";

const fr = Math.fround;

/** Round half to even (as WebAssembly's f32x4.nearest). */
function roundEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** A non-negative float32 rounded to the nearest fp16 value (ties to even), as a float32; no overflow to inf. */
export function f16RoundScale(v: number): number {
  f32[0] = v;
  const bits = u32[0];
  const exp = ((bits >>> 23) & 0xff) - 127;
  if (exp < -24) return 0;
  const drop = exp < -14 ? 13 + (-14 - exp) : 13;
  const half = 2 ** (drop - 1);
  const mask = 2 ** drop - 1;
  const rest = bits & mask;
  let m = bits - rest;
  if (rest > half || (rest === half && Math.floor(bits / 2 ** drop) % 2 !== 0)) m += 2 ** drop;
  u32[0] = m;
  return f32[0];
}

/** Quantize n = blocks·32 values of `w` (float32 values) into q and d (one per block). */
export function quantizeQ8(w: Float32Array, q: Int8Array | Int16Array, d: Float32Array): void {
  if (w.length % Q8_BLOCK) throw new Error(`quantizeQ8: ${w.length} values, not a multiple of ${Q8_BLOCK}`);
  for (let b = 0; b < w.length / Q8_BLOCK; b++) {
    const o = b * Q8_BLOCK;
    let amax = 0;
    for (let i = 0; i < Q8_BLOCK; i++) amax = Math.max(amax, Math.abs(w[o + i]));
    const dd = fr(amax / 127);
    const id = dd !== 0 ? fr(1 / dd) : 0;
    d[b] = f16RoundScale(dd);
    for (let i = 0; i < Q8_BLOCK; i++) q[o + i] = Math.max(-127, Math.min(127, roundEven(fr(w[o + i] * id))));
  }
}

/** A quantized matrix [rows, cols]. */
export interface Q8Matrix {
  rows: number;
  cols: number;
  q: Int8Array; // [rows, cols]
  d: Float32Array; // [rows, cols/32]
}

export function quantizeMatrix(W: Float32Array, rows: number, cols: number): Q8Matrix {
  if (cols % Q8_BLOCK) throw new Error(`Q8_0 needs columns in multiples of ${Q8_BLOCK}, got ${cols}`);
  const q = new Int8Array(rows * cols);
  const d = new Float32Array((rows * cols) / Q8_BLOCK);
  quantizeQ8(W, q, d);
  return { rows, cols, q, d };
}

/** y = x · Wᵀ with W quantized and each row of x [T, cols] quantized the same way. */
export function q8Matmul(W: Q8Matrix, x: Float32Array, T: number): Float32Array {
  const { rows, cols, q, d } = W;
  const nb = cols / Q8_BLOCK;
  const xq = new Int16Array(T * cols);
  const xd = new Float32Array(T * nb);
  quantizeQ8(x, xq, xd);
  const y = new Float32Array(T * rows);
  for (let r = 0; r < rows; r++) {
    for (let t = 0; t < T; t++) {
      let s = 0;
      for (let b = 0; b < nb; b++) {
        const wo = r * cols + b * Q8_BLOCK, xo = t * cols + b * Q8_BLOCK;
        let isum = 0; // exact: |isum| ≤ 32 · 127²
        for (let i = 0; i < Q8_BLOCK; i++) isum += q[wo + i] * xq[xo + i];
        s += fr(d[r * nb + b] * xd[t * nb + b]) * isum;
      }
      y[t * rows + r] = s;
    }
  }
  return y;
}
