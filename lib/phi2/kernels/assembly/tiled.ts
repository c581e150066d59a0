// The "tiled" weight layout: rows in groups of 4, interleaved chunk by chunk.
//
// Row-major, a matrix-vector product that does 4 rows at a time reads 4 streams
// that jump to new addresses every row (a phi-2 row is only 5 KB): the hardware
// prefetcher keeps re-learning them, and one core pulled 11–12 GB/s out of the
// ~25 it can read. Tiled, the same product reads ONE sequential stream through
// the whole matrix. Measured here (one thread, 210 MB of weights, so from DRAM):
// fp16 5.7 → 8.4 GMAC/s, Q8_0 13.9 → 18.3 GMAC/s. The layout is what llama.cpp's
// "repacked" CPU formats do too.
//
// fp16 [rows, cols] (rows % 4 == 0, cols % 8 == 0): group g holds rows 4g…4g+3;
// for each chunk of 8 columns, 4 × 16 bytes: row 4g's 8 halves, then 4g+1's, …
//
// A group occupies exactly the bytes its 4 rows did, so a block of rows starting at
// a multiple of 4 starts at the same address as row-major. The load tiles each chunk
// of rows on its way from the file (or generator) into place: no second pass.
//
// Q8_0 [rows, cols] (rows % 4 == 0, cols % 32 == 0): group g at 4g · cols · 9/8 bytes;
// for each block of 32 columns, 144 bytes: the 4 rows' block scales (float32, one
// v128), then their 4 × 32 int8. The scales ride in the same stream as the weights
// (quantized straight into place at load: q8.ts's quantizeQ8Strided). One stream
// instead of two, one thread on a [40960, 2560] matrix from DRAM, timed in one
// process (Node 24): 18.9–22.0 → 21.8–22.5 GMAC/s (this kernel), 23.1–25.9 →
// 28.3–29.5 (relaxed.ts's); with another process streaming at the same time, as the
// other core does in decode, 13.1–13.6 → 16.2–16.7.
export const Q8_GROUP_BLOCK_BYTES = 144;

import { rawEven, rawOdd, rawToF32, hsum, blockDot } from "./simd";

/** The row-major fp16 matrix src [rows, cols] (rows % 4 == 0, cols % 8 == 0) tiled into dst. */
export function tileF16(src: usize, dst: usize, rows: i32, cols: i32): void {
  const rowBytes = <usize>cols << 1;
  for (let r = 0; r < rows; r += 4) {
    const s = src + <usize>r * rowBytes;
    for (let c: usize = 0; c < rowBytes; c += 16) {
      v128.store(dst, v128.load(s + c));
      v128.store(dst, v128.load(s + rowBytes + c), 16);
      v128.store(dst, v128.load(s + 2 * rowBytes + c), 32);
      v128.store(dst, v128.load(s + 3 * rowBytes + c), 48);
      dst += 64;
    }
  }
}

// ---- fp16, T = 1 ----------------------------------------------------------------

/**
 * Σ over the 8 columns at p of one row's halves times x' (xe: the even columns, xd: the
 * odd): raw, or converted exactly. The even halves are taken as the high halves of the
 * lanes of a load 2 bytes earlier (rawOdd: 2 operations, where rawEven takes 3; the
 * bytes below them are masked off): one more load, one less operation. One thread, in
 * cache, timed in one process: 9.8 → 11.3 GMAC/s; whole fp16 decode steps (2 threads,
 * from DRAM) alternating in one process: 222.8 → 215.0 and 216.6 → 215.3 ms/token.
 */
// @ts-ignore: decorator
@inline function halves8(p: usize, xe: v128, xd: v128, exact: bool): v128 {
  const e = rawOdd(v128.load(p - 2)), o = rawOdd(v128.load(p));
  return exact ? f32x4.add(f32x4.mul(rawToF32(e), xe), f32x4.mul(rawToF32(o), xd)) : f32x4.add(f32x4.mul(e, xe), f32x4.mul(o, xd));
}

/** The tiled fp16 matrix-vector product; `exact` is a constant at each call, so the compiler keeps one branch. */
// @ts-ignore: decorator
@inline function matvecTiled(w: usize, xp: usize, y: usize, rows: i32, cols: i32, exact: bool): void {
  let p = w;
  for (let r = 0; r < rows; r += 4) {
    // one accumulator per row, even and odd products summed first: with 8 accumulators one
    // lived on the stack (a load and a store per 8 columns); 4 ran 12–19 % faster, timed in one process
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (let c = 0; c < cols; c += 8) {
      const xo = xp + (<usize>c << 2);
      const xe = v128.load(xo);
      const xd = v128.load(xo, 16);
      a0 = f32x4.add(a0, halves8(p, xe, xd, exact));
      a1 = f32x4.add(a1, halves8(p + 16, xe, xd, exact));
      a2 = f32x4.add(a2, halves8(p + 32, xe, xd, exact));
      a3 = f32x4.add(a3, halves8(p + 48, xe, xd, exact));
      p += 64;
    }
    const yr = y + (<usize>r << 2);
    store<f32>(yr, hsum(a0));
    store<f32>(yr, hsum(a1), 4);
    store<f32>(yr, hsum(a2), 8);
    store<f32>(yr, hsum(a3), 12);
  }
}

/** Tiled fp16 · x', fast path (x' permuted and scaled by 2^112, weights finite: see f16MatvecFast). */
export function f16MatvecTiled(w: usize, xp: usize, y: usize, rows: i32, cols: i32): void {
  matvecTiled(w, xp, y, rows, cols, false);
}

/** Tiled fp16 · x', exact conversion (any weights; x' permuted, not scaled). */
export function f16MatvecTiledExact(w: usize, xp: usize, y: usize, rows: i32, cols: i32): void {
  matvecTiled(w, xp, y, rows, cols, true);
}

// ---- fp16, T > 1 (prefill) --------------------------------------------------------

/** Columns per block in f16MatmulTiled: 4 weight rows and the x' of a few tokens stay in L1. */
const KB: i32 = 512;

/** [Σa, Σb, Σc, Σd] of four f32x4 (a transpose-and-add). */
// @ts-ignore: decorator
@inline function fhadd4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(v128.shuffle<f32>(a, b, 0, 4, 1, 5), v128.shuffle<f32>(a, b, 2, 6, 3, 7)); // [a0+a2, b0+b2, a1+a3, b1+b3]
  const cd = f32x4.add(v128.shuffle<f32>(c, d, 0, 4, 1, 5), v128.shuffle<f32>(c, d, 2, 6, 3, 7));
  return f32x4.add(v128.shuffle<f32>(ab, cd, 0, 1, 4, 5), v128.shuffle<f32>(ab, cd, 2, 3, 6, 7));
}

// @ts-ignore: decorator
@inline function addTo(p: usize, v: v128): void {
  v128.store(p, f32x4.add(v128.load(p), v));
}

/**
 * A group's chunks [p, p + 8·kb) → float32 at tmp, 128 bytes per 8 columns: the 4 rows'
 * even columns, then their odd ones (x' order): raw halves (value · 2^-112), or the
 * exact values. Interleaved so that the multiply loop reads them through one pointer
 * with constant offsets. (With a pointer per row V8 reloads loop variables from the
 * stack every iteration; timed in one process against that version, the two ran at the
 * same speed, 16.3–16.9 GMAC/s a thread at T = 10: the multiplies are the limit.)
 */
// @ts-ignore: decorator
@inline function convert(p: usize, tmp: usize, kb: i32, exact: bool): void {
  const end = p + (<usize>kb << 3);
  for (; p < end; p += 64, tmp += 128) {
    for (let i: usize = 0; i < 4; i++) {
      const v = v128.load(p + (i << 4));
      const e = rawEven(v), o = rawOdd(v);
      v128.store(tmp + (i << 4), exact ? rawToF32(e) : e);
      v128.store(tmp + (i << 4), exact ? rawToF32(o) : o, 64);
    }
  }
}

/**
 * Tiled fp16, T tokens (a GEMM): y[t·yStride + r] = Σ_c W[r, c] · x'[t, c].
 * x' permuted; `fast`: x' scaled by 2^112 and the weights finite, so the raw halves
 * (value · 2^-112) need no multiply and no inf/NaN fix-up (as f16MatvecTiled), else
 * x' not scaled and each weight converted exactly. For each group of 4 rows and each block of KB columns,
 * the weights are converted once to float32 in tmp (4 · KB floats, interleaved so that one
 * pointer with constant offsets reads them), then multiplied with the tokens two at a time:
 * 4 rows × 2 tokens = 8 accumulators, each loaded weight vector used twice and each x
 * vector four times, all in L1.
 */
export function f16MatmulTiled(w: usize, xp: usize, y: usize, rows: i32, cols: i32, T: i32, yStride: i32, tmp: usize, fast: i32): void {
  f16Tiled(w, xp, y, rows, cols, T, yStride, tmp, fast, false);
}

/**
 * a + w · x: multiplied and rounded, then added and rounded; or, `fused` (relaxed.wasm
 * only), relaxed SIMD's multiply-add, which V8 compiles to one fused instruction
 * (rounded once) where the CPU has FMA.
 */
// @ts-ignore: decorator
@inline function madd(a: v128, w: v128, x: v128, fused: bool): v128 {
  if (fused) {
    if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(w, x, a);
    unreachable();
  }
  return f32x4.add(a, f32x4.mul(w, x));
}

/** f16MatmulTiled's loop; `fused` (a constant at each call): its multiply-adds through madd. */
// @ts-ignore: decorator
@inline export function f16Tiled(w: usize, xp: usize, y: usize, rows: i32, cols: i32, T: i32, yStride: i32, tmp: usize, fast: i32, fused: bool): void {
  const ys = <usize>yStride << 2; // bytes between tokens in y
  const xs = <usize>cols << 2; // bytes between tokens in x'
  for (let t = 0; t < T; t++) memory.fill(y + <usize>t * ys, 0, <usize>rows << 2);
  for (let r = 0; r < rows; r += 4) {
    const g = w + <usize>r * (<usize>cols << 1); // the group's 4 rows, tiled
    const yr = y + (<usize>r << 2);
    for (let c0 = 0; c0 < cols; c0 += KB) {
      const kb = min(KB, cols - c0);
      const tmpEnd = tmp + (<usize>kb << 4); // 16 bytes per column: 4 rows of float32
      const p = g + (<usize>c0 << 3); // chunk c0/8, 64 bytes each
      // (two calls, not convert(…, !fast): the flag must be a constant for the compiler to fold it)
      if (fast) convert(p, tmp, kb, false);
      else convert(p, tmp, kb, true);
      const xc = xp + (<usize>c0 << 2);
      let t = 0;
      for (; t + 2 <= T; t += 2) {
        let u = xc + <usize>t * xs;
        let v = u + xs;
        let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0); // token t, rows 0…3
        let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0); // token t + 1
        for (let q = tmp; q < tmpEnd; q += 64) {
          const w0 = v128.load(q), w1 = v128.load(q, 16), w2 = v128.load(q, 32), w3 = v128.load(q, 48);
          const xu = v128.load(u);
          a0 = madd(a0, w0, xu, fused);
          a1 = madd(a1, w1, xu, fused);
          a2 = madd(a2, w2, xu, fused);
          a3 = madd(a3, w3, xu, fused);
          const xv = v128.load(v);
          b0 = madd(b0, w0, xv, fused);
          b1 = madd(b1, w1, xv, fused);
          b2 = madd(b2, w2, xv, fused);
          b3 = madd(b3, w3, xv, fused);
          u += 16;
          v += 16;
        }
        addTo(yr + <usize>t * ys, fhadd4(a0, a1, a2, a3));
        addTo(yr + <usize>(t + 1) * ys, fhadd4(b0, b1, b2, b3));
      }
      if (t < T) {
        let u = xc + <usize>t * xs;
        let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
        for (let q = tmp; q < tmpEnd; q += 64) {
          const xu = v128.load(u);
          a0 = madd(a0, v128.load(q), xu, fused);
          a1 = madd(a1, v128.load(q, 16), xu, fused);
          a2 = madd(a2, v128.load(q, 32), xu, fused);
          a3 = madd(a3, v128.load(q, 48), xu, fused);
          u += 16;
        }
        addTo(yr + <usize>t * ys, fhadd4(a0, a1, a2, a3));
      }
    }
  }
}

// ---- Q8_0 ---------------------------------------------------------------------------

/** [Σa, Σb, Σc, Σd] of four i32x4 (a transpose-and-add). */
// @ts-ignore: decorator
@inline export function hadd4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = i32x4.add(v128.shuffle<i32>(a, b, 0, 4, 1, 5), v128.shuffle<i32>(a, b, 2, 6, 3, 7)); // [a0+a2, b0+b2, a1+a3, b1+b3]
  const cd = i32x4.add(v128.shuffle<i32>(c, d, 0, 4, 1, 5), v128.shuffle<i32>(c, d, 2, 6, 3, 7));
  return i32x4.add(v128.shuffle<i32>(ab, cd, 0, 1, 4, 5), v128.shuffle<i32>(ab, cd, 2, 3, 6, 7));
}

/**
 * Tiled Q8_0 weights (w: groups of 144-byte blocks, see above) · quantized x (xq int16
 * [T, xStride], xd float32 [T, xStride/32], natural order; the weight's cols are
 * x's first cols), T tokens: y[t·yStride + r], or added to y when `accumulate`.
 * The 4 rows' exact integer block sums come out as one i32x4, so each block costs
 * one convert and one multiply by (the 4 rows' scales × x's scale) for all 4 rows.
 * A wide matrix is held as column panels (see compute.ts), one call each.
 */
export function q8MatmulTiled(w: usize, xq: usize, xd: usize, y: usize, rows: i32, cols: i32, T: i32, yStride: i32, xStride: i32, accumulate: i32): void {
  q8Tiled(w, xq, 0, xd, y, rows, cols, T, yStride, xStride, accumulate, false);
}

/**
 * q8MatmulTiled's loop, for both forms of x: int16 x at xa (`relaxed` false), or, in
 * relaxed.wasm (`relaxed` true), |x| at xa and its sign masks at xm, int8 [T, xStride]
 * each (relaxed.ts). `relaxed` is a constant at each call, so one branch is compiled.
 */
// @ts-ignore: decorator
@inline export function q8Tiled(w: usize, xa: usize, xm: usize, xd: usize, y: usize, rows: i32, cols: i32, T: i32, yStride: i32, xStride: i32, accumulate: i32, relaxed: bool): void {
  const nb = cols >> 5;
  for (let r = 0; r < rows; r += 4) {
    const g = w + (<usize>r * <usize>cols * 9 >> 3); // the group's 4 · cols · 9/8 bytes
    for (let t = 0; t < T; t++) {
      const xt = <usize>t * <usize>xStride; // token t's first column (× 2 bytes for int16 x)
      const dt = xd + (<usize>t * <usize>(xStride >> 5) << 2);
      const yt = y + ((<usize>t * <usize>yStride + <usize>r) << 2);
      let acc = accumulate ? v128.load(yt) : f32x4.splat(0); // [4 rows]
      let p = g;
      for (let b = 0; b < nb; b++) {
        const s = relaxed ? blockSumsRelaxed(p, xa + xt + (<usize>b << 5), xm + xt + (<usize>b << 5)) : blockSums(p, xa + (xt << 1) + (<usize>b << 6));
        const scale = f32x4.mul(v128.load(p), f32x4.splat(load<f32>(dt + (<usize>b << 2))));
        acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(s), scale));
        p += Q8_GROUP_BLOCK_BYTES;
      }
      v128.store(yt, acc);
    }
  }
}

/** The 4 rows' integer sums over the block at p (its int8 start 16 bytes in) with int16 x at xo. */
// @ts-ignore: decorator
@inline function blockSums(p: usize, xo: usize): v128 {
  const x0 = v128.load(xo), x1 = v128.load(xo, 16), x2 = v128.load(xo, 32), x3 = v128.load(xo, 48);
  return hadd4(blockDot(p + 16, x0, x1, x2, x3), blockDot(p + 48, x0, x1, x2, x3), blockDot(p + 80, x0, x1, x2, x3), blockDot(p + 112, x0, x1, x2, x3));
}

/**
 * blockSums through relaxed SIMD's int8 dot (relaxed.ts explains the sign transfer), with
 * |x| at ao and its sign masks at mo. Only relaxed.wasm, built with relaxed SIMD, compiles
 * its body (the feature test is the compiler's constant); elsewhere it is unreachable.
 */
// @ts-ignore: decorator
@inline function blockSumsRelaxed(p: usize, ao: usize, mo: usize): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    const a0 = v128.load(ao), a1 = v128.load(ao, 16);
    const m0 = v128.load(mo), m1 = v128.load(mo, 16);
    return hadd4(dotSigned(p + 16, a0, a1, m0, m1), dotSigned(p + 48, a0, a1, m0, m1), dotSigned(p + 80, a0, a1, m0, m1), dotSigned(p + 112, a0, a1, m0, m1));
  }
  unreachable();
  return v128.splat<i32>(0);
}

/** One row's 32 int8 at w · x given as |x| (a0, a1) and sign masks (m0, m1): partial i32x4 sums (see hadd4). */
// @ts-ignore: decorator
@inline function dotSigned(w: usize, a0: v128, a1: v128, m0: v128, m1: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    const s = i32x4.relaxed_dot_i8x16_i7x16_add_s(i8x16.sub(v128.xor(v128.load(w), m0), m0), a0, i32x4.splat(0));
    return i32x4.relaxed_dot_i8x16_i7x16_add_s(i8x16.sub(v128.xor(v128.load(w, 16), m1), m1), a1, s);
  }
  unreachable();
  return v128.splat<i32>(0);
}
