// Int8 weights, GGUF's Q8_0 layout idea: each row cut in blocks of 32 weights,
// one scale per block (rounded to fp16 as Q8_0 stores it, kept here as float32),
// w ≈ d · q with q an int8 in [-127, 127]. 1.125 bytes per weight instead of fp16's 2.
//
// Storage of a [rows, cols] matrix (cols a multiple of 32):
//   q  [rows, cols] int8            row-major, as the fp16 weights were
//   d  [rows, cols/32] float32      the block scales
//
// The activations x are quantized the same way once per call (quantizeX, as
// llama.cpp's Q8_0 × Q8_0 dot does), widened to int16 so that each block's dot
// product is exact integer arithmetic: i32x4.dot_i16x8_s multiplies 8 pairs and
// adds neighbours — 8 multiply-adds per instruction — and a block of 32 becomes
// one float multiply by dw · dx.

// Round to the nearest integer (half to even) and convert, for |v| < 2^22: adding
// 1.5·2^23 leaves the integer in the low mantissa bits (the float add itself rounds
// half to even), and subtracting the same constant's bits reads it out as an int32.
// Two operations instead of f32x4.nearest + i32x4.trunc_sat_f32x4_s (a long sequence on x64).
import { blockDot, hsum } from "./simd";

const MAGIC: f32 = 12582912.0; // 1.5 · 2^23
const MAGIC_BITS: i32 = 0x4b400000;
// @ts-ignore: decorator
@inline function roundToInt(v: v128): v128 {
  return i32x4.sub(f32x4.add(v, f32x4.splat(MAGIC)), i32x4.splat(MAGIC_BITS));
}

/**
 * Quantize n float32 at src (n a multiple of 32), block j of 32 into q + j·qStep (int8,
 * or int16 with `asI16`: x's form) and its scale into d + j·dStep. Q8_0's rule:
 * d = max|w| / 127 rounded to fp16, q = round(w · 127 / max|w|), rounding half to even.
 * |w · 127 / max|w|| ≤ 127 (+ rounding), so roundToInt applies. Returns 0 if a block
 * held inf or NaN (its scale is not finite), else 1.
 */
// @ts-ignore: decorator
@inline function quantizeBlocks(src: usize, n: i32, q: usize, qStep: usize, d: usize, dStep: usize, asI16: i32): i32 {
  let finite = 1;
  for (let j = 0; j < n >> 5; j++) {
    const p = src + (<usize>j << 7);
    const v0 = v128.load(p), v1 = v128.load(p, 16), v2 = v128.load(p, 32), v3 = v128.load(p, 48);
    const v4 = v128.load(p, 64), v5 = v128.load(p, 80), v6 = v128.load(p, 96), v7 = v128.load(p, 112);
    let m = f32x4.max(f32x4.max(f32x4.abs(v0), f32x4.abs(v1)), f32x4.max(f32x4.abs(v2), f32x4.abs(v3)));
    m = f32x4.max(m, f32x4.max(f32x4.max(f32x4.abs(v4), f32x4.abs(v5)), f32x4.max(f32x4.abs(v6), f32x4.abs(v7))));
    const amax = Mathf.max(Mathf.max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), Mathf.max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
    const dd: f32 = amax / 127;
    if (!isFinite<f32>(dd)) finite = 0;
    const id: f32 = dd != 0 ? <f32>1 / dd : 0;
    store<f32>(d + <usize>j * dStep, f16Round(dd));
    const s = f32x4.splat(id);
    const i0 = roundToInt(f32x4.mul(v0, s));
    const i1 = roundToInt(f32x4.mul(v1, s));
    const i2 = roundToInt(f32x4.mul(v2, s));
    const i3 = roundToInt(f32x4.mul(v3, s));
    const i4 = roundToInt(f32x4.mul(v4, s));
    const i5 = roundToInt(f32x4.mul(v5, s));
    const i6 = roundToInt(f32x4.mul(v6, s));
    const i7 = roundToInt(f32x4.mul(v7, s));
    const h0 = i16x8.narrow_i32x4_s(i0, i1), h1 = i16x8.narrow_i32x4_s(i2, i3);
    const h2 = i16x8.narrow_i32x4_s(i4, i5), h3 = i16x8.narrow_i32x4_s(i6, i7);
    const o = q + <usize>j * qStep;
    if (asI16) {
      v128.store(o, h0);
      v128.store(o, h1, 16);
      v128.store(o, h2, 32);
      v128.store(o, h3, 48);
    } else {
      v128.store(o, i8x16.narrow_i16x8_s(h0, h1));
      v128.store(o, i8x16.narrow_i16x8_s(h2, h3), 16);
    }
  }
  return finite;
}

/** quantizeBlocks into consecutive blocks: int8 (or int16) at q, the scales at d. */
export function quantizeQ8(src: usize, n: i32, q: usize, d: usize, asI16: i32): void {
  quantizeBlocks(src, n, q, asI16 ? 64 : 32, d, 4, asI16);
}

/** quantizeBlocks into int8 blocks qStep bytes apart and scales dStep apart (tiled.ts's Q8_0 layout); 0 if inf or NaN was met. */
export function quantizeQ8Strided(src: usize, n: i32, q: usize, qStep: i32, d: usize, dStep: i32): i32 {
  return quantizeBlocks(src, n, q, <usize>qStep, d, <usize>dStep, 0);
}

/** float32 → nearest fp16 value (ties to even), back as float32: Q8_0 stores its scales as fp16. */
// @ts-ignore: decorator
@inline function f16Round(v: f32): f32 {
  // scales are ≥ 0 and far from fp16's overflow for any sane weight; tiny ones flush like fp16 subnormals do
  const bits = reinterpret<u32>(v);
  const exp = <i32>((bits >>> 23) & 0xff) - 127;
  if (exp < -24) return 0;
  // keep 10 mantissa bits for normals, fewer for fp16 subnormals (exp < -14)
  const drop: u32 = exp < -14 ? <u32>(13 + (-14 - exp)) : 13;
  const half: u32 = 1 << (drop - 1);
  const mask: u32 = (1 << drop) - 1;
  let m = bits & ~mask;
  const rest = bits & mask;
  if (rest > half || (rest == half && ((bits >>> drop) & 1) != 0)) m += 1 << drop;
  return reinterpret<f32>(m);
}

/** x [T, cols] float32 → xq [T, cols] int16 and xd [T, cols/32] float32 (cols a multiple of 32). */
export function quantizeX(x: usize, T: i32, cols: i32, xq: usize, xd: usize): void {
  for (let t = 0; t < T; t++) {
    quantizeQ8(x + (<usize>t * <usize>cols << 2), cols, xq + (<usize>t * <usize>cols << 1), xd + (<usize>t * <usize>(cols >> 5) << 2), 1);
  }
}

/**
 * y[t·yStride + r] = Σ_blocks dw·dx · (q_w · q_x) for rows [0, rows) and tokens [0, T):
 * 4 rows per pass share each load of x; the 4 rows (4 · cols bytes) stay in L1 across tokens.
 */
export function q8Matmul(wq: usize, wd: usize, xq: usize, xd: usize, y: usize, rows: i32, cols: i32, T: i32, yStride: i32): void {
  const nb = cols >> 5;
  const rowD = <usize>nb << 2;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const q0 = wq + <usize>r * <usize>cols;
    const q1 = q0 + <usize>cols, q2 = q1 + <usize>cols, q3 = q2 + <usize>cols;
    const d0 = wd + <usize>r * rowD;
    const d1 = d0 + rowD, d2 = d1 + rowD, d3 = d2 + rowD;
    for (let t = 0; t < T; t++) {
      const xt = xq + (<usize>t * <usize>cols << 1);
      const dt = xd + <usize>t * rowD;
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      for (let b = 0; b < nb; b++) {
        const xo = xt + (<usize>b << 6);
        const x0 = v128.load(xo), x1 = v128.load(xo, 16), x2 = v128.load(xo, 32), x3 = v128.load(xo, 48);
        const ds = load<f32>(dt + (<usize>b << 2));
        const wo = <usize>b << 5;
        const bo = <usize>b << 2;
        a0 = f32x4.add(a0, f32x4.mul(f32x4.convert_i32x4_s(blockDot(q0 + wo, x0, x1, x2, x3)), f32x4.splat(ds * load<f32>(d0 + bo))));
        a1 = f32x4.add(a1, f32x4.mul(f32x4.convert_i32x4_s(blockDot(q1 + wo, x0, x1, x2, x3)), f32x4.splat(ds * load<f32>(d1 + bo))));
        a2 = f32x4.add(a2, f32x4.mul(f32x4.convert_i32x4_s(blockDot(q2 + wo, x0, x1, x2, x3)), f32x4.splat(ds * load<f32>(d2 + bo))));
        a3 = f32x4.add(a3, f32x4.mul(f32x4.convert_i32x4_s(blockDot(q3 + wo, x0, x1, x2, x3)), f32x4.splat(ds * load<f32>(d3 + bo))));
      }
      const yt = y + ((<usize>t * <usize>yStride + <usize>r) << 2);
      store<f32>(yt, hsum(a0));
      store<f32>(yt, hsum(a1), 4);
      store<f32>(yt, hsum(a2), 8);
      store<f32>(yt, hsum(a3), 12);
    }
  }
  for (; r < rows; r++) {
    const q0 = wq + <usize>r * <usize>cols;
    const d0 = wd + <usize>r * rowD;
    for (let t = 0; t < T; t++) {
      const xt = xq + (<usize>t * <usize>cols << 1);
      const dt = xd + <usize>t * rowD;
      let a0 = f32x4.splat(0);
      for (let b = 0; b < nb; b++) {
        const xo = xt + (<usize>b << 6);
        const s = blockDot(q0 + (<usize>b << 5), v128.load(xo), v128.load(xo, 16), v128.load(xo, 32), v128.load(xo, 48));
        a0 = f32x4.add(a0, f32x4.mul(f32x4.convert_i32x4_s(s), f32x4.splat(load<f32>(dt + (<usize>b << 2)) * load<f32>(d0 + (<usize>b << 2)))));
      }
      store<f32>(y + ((<usize>t * <usize>yStride + <usize>r) << 2), hsum(a0));
    }
  }
}
