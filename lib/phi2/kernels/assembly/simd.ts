// Inline SIMD helpers shared by the kernels (matvec.ts, q8.ts, tiled.ts).

// ---- fp16 → fp32 by bit operations -------------------------------------------
//
// fp16: sign(1) exponent(5) mantissa(10). Put its sign at bit 31 and its 15 other
// bits at bits 13..27 of a float32: that float32 is exactly value · 2^-112, for
// normal and subnormal halves alike (f32 exponent field = fp16 exponent field).
// Multiplying by 2^112 gives the value; inf/NaN (fp16 exponent 31) need their
// f32 exponent set to all ones afterwards.

export const SIGN_AND_BITS: i32 = 0x8fffe000; // bit 31 + bits 13..27
export const ABS_BITS: i32 = 0x0fffe000; // bits 13..27
export const INF_RAW: i32 = 0x0f7fffff; // raw magnitude > this ⇔ fp16 exponent is 31
export const F32_EXP: i32 = 0x7f800000;
export const TWO_POW_112: f32 = reinterpret<f32>(0x77800000);

/**
 * SIGN_AND_BITS × 4 in the module's static data: rawEven and rawOdd read their mask
 * from here (a memory operand of the and) rather than splat a constant. Node 24's V8
 * rebuilt a splatted constant at every use inside a loop (a vmovq and a broadcast, 8
 * times per 8 columns of 4 rows in the fp16 decode kernel), where Node 20's kept it in
 * a register: the kernel ran at 6.4 GMAC/s against 9.8. A load cannot be rebuilt; read at
 * each use it costs no more than loaded once (timed on both Nodes).
 */
export const F16_MASK = memory.data<i32>([SIGN_AND_BITS, SIGN_AND_BITS, SIGN_AND_BITS, SIGN_AND_BITS]);

/** Even elements (low halves of the i32 lanes) as "raw" f32 = value · 2^-112. */
// @ts-ignore: decorator
@inline export function rawEven(v: v128): v128 {
  return v128.and(i32x4.shr_s(i32x4.shl(v, 16), 3), v128.load(F16_MASK));
}
/** Odd elements (high halves). */
// @ts-ignore: decorator
@inline export function rawOdd(v: v128): v128 {
  return v128.and(i32x4.shr_s(v, 3), v128.load(F16_MASK));
}
/** raw → exact float32, including ±0, subnormals, ±inf and NaN. */
// @ts-ignore: decorator
@inline export function rawToF32(raw: v128): v128 {
  const special = i32x4.gt_s(v128.and(raw, i32x4.splat(ABS_BITS)), i32x4.splat(INF_RAW));
  return v128.or(f32x4.mul(raw, f32x4.splat(TWO_POW_112)), v128.and(special, i32x4.splat(F32_EXP)));
}
/**
 * One Q8_0 block: 32 int8 weights at w · 32 int16 x (x0…x3) → four int32 partial sums
 * (exact). Each load8x8_s reads 8 int8 and widens them to int16 in one instruction
 * (x64: pmovsxbw with a memory operand), cheaper than a 16-byte load and two extends.
 */
// @ts-ignore: decorator
@inline export function blockDot(w: usize, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  let s = i32x4.dot_i16x8_s(v128.load8x8_s(w), x0);
  s = i32x4.add(s, i32x4.dot_i16x8_s(v128.load8x8_s(w, 8), x1));
  s = i32x4.add(s, i32x4.dot_i16x8_s(v128.load8x8_s(w, 16), x2));
  return i32x4.add(s, i32x4.dot_i16x8_s(v128.load8x8_s(w, 24), x3));
}

/** The sum of a float32x4's lanes. */
// @ts-ignore: decorator
@inline export function hsum(a: v128): f32 {
  return f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 1) + f32x4.extract_lane(a, 2) + f32x4.extract_lane(a, 3);
}

// ---- float32 rows × tokens (prefill, after the weights are converted) --------

// @ts-ignore: decorator
@inline export function dot(a: usize, b: usize, n: i32): f32 {
  const n8 = n & ~7;
  let s0 = f32x4.splat(0), s1 = f32x4.splat(0);
  for (let c = 0; c < n8; c += 8) {
    const o = <usize>c << 2;
    s0 = f32x4.add(s0, f32x4.mul(v128.load(a + o), v128.load(b + o)));
    s1 = f32x4.add(s1, f32x4.mul(v128.load(a + o, 16), v128.load(b + o, 16)));
  }
  let s: f32 = 0;
  for (let c = n8; c < n; c++) s += load<f32>(a + (<usize>c << 2)) * load<f32>(b + (<usize>c << 2));
  return hsum(f32x4.add(s0, s1)) + s;
}

/** y[t·yStride + r] = dot(row, x'_t) for t < T; 4 tokens per pass over the row. */
// @ts-ignore: decorator
@inline export function dotTokens(row: usize, xp: usize, y: usize, T: i32, cols: i32, yStride: i32): void {
  const xStride = <usize>cols << 2;
  const c4 = cols & ~3;
  let t = 0;
  for (; t + 4 <= T; t += 4) {
    const x0 = xp + <usize>t * xStride;
    const x1 = x0 + xStride;
    const x2 = x1 + xStride;
    const x3 = x2 + xStride;
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
    for (let c = 0; c < c4; c += 4) {
      const o = <usize>c << 2;
      const wv = v128.load(row + o);
      s0 = f32x4.add(s0, f32x4.mul(wv, v128.load(x0 + o)));
      s1 = f32x4.add(s1, f32x4.mul(wv, v128.load(x1 + o)));
      s2 = f32x4.add(s2, f32x4.mul(wv, v128.load(x2 + o)));
      s3 = f32x4.add(s3, f32x4.mul(wv, v128.load(x3 + o)));
    }
    let e0: f32 = 0, e1: f32 = 0, e2: f32 = 0, e3: f32 = 0;
    for (let c = c4; c < cols; c++) {
      const o = <usize>c << 2;
      const wc = load<f32>(row + o);
      e0 += wc * load<f32>(x0 + o);
      e1 += wc * load<f32>(x1 + o);
      e2 += wc * load<f32>(x2 + o);
      e3 += wc * load<f32>(x3 + o);
    }
    store<f32>(y + ((<usize>t * <usize>yStride) << 2), hsum(s0) + e0);
    store<f32>(y + ((<usize>(t + 1) * <usize>yStride) << 2), hsum(s1) + e1);
    store<f32>(y + ((<usize>(t + 2) * <usize>yStride) << 2), hsum(s2) + e2);
    store<f32>(y + ((<usize>(t + 3) * <usize>yStride) << 2), hsum(s3) + e3);
  }
  for (; t < T; t++) store<f32>(y + ((<usize>t * <usize>yStride) << 2), dot(row, xp + <usize>t * xStride, cols));
}

/**
 * Two rows × four tokens per pass: 8 accumulators, and each loaded vector of
 * weights or of x is used 4 or 2 times (prefill is compute-bound, not memory-bound).
 */
// @ts-ignore: decorator
@inline export function dotTokens2(r0: usize, r1: usize, xp: usize, y: usize, T: i32, cols: i32, yStride: i32): void {
  const xStride = <usize>cols << 2;
  const c4 = cols & ~3;
  let t = 0;
  for (; t + 4 <= T; t += 4) {
    const x0 = xp + <usize>t * xStride;
    const x1 = x0 + xStride;
    const x2 = x1 + xStride;
    const x3 = x2 + xStride;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
    for (let c = 0; c < c4; c += 4) {
      const o = <usize>c << 2;
      const u = v128.load(r0 + o);
      const v = v128.load(r1 + o);
      let xv = v128.load(x0 + o);
      a0 = f32x4.add(a0, f32x4.mul(u, xv));
      b0 = f32x4.add(b0, f32x4.mul(v, xv));
      xv = v128.load(x1 + o);
      a1 = f32x4.add(a1, f32x4.mul(u, xv));
      b1 = f32x4.add(b1, f32x4.mul(v, xv));
      xv = v128.load(x2 + o);
      a2 = f32x4.add(a2, f32x4.mul(u, xv));
      b2 = f32x4.add(b2, f32x4.mul(v, xv));
      xv = v128.load(x3 + o);
      a3 = f32x4.add(a3, f32x4.mul(u, xv));
      b3 = f32x4.add(b3, f32x4.mul(v, xv));
    }
    const ys = <usize>yStride << 2;
    const yt = y + <usize>t * ys;
    store<f32>(yt, hsum(a0) + tailDot(r0, x0, c4, cols));
    store<f32>(yt, hsum(b0) + tailDot(r1, x0, c4, cols), 4);
    store<f32>(yt + ys, hsum(a1) + tailDot(r0, x1, c4, cols));
    store<f32>(yt + ys, hsum(b1) + tailDot(r1, x1, c4, cols), 4);
    store<f32>(yt + 2 * ys, hsum(a2) + tailDot(r0, x2, c4, cols));
    store<f32>(yt + 2 * ys, hsum(b2) + tailDot(r1, x2, c4, cols), 4);
    store<f32>(yt + 3 * ys, hsum(a3) + tailDot(r0, x3, c4, cols));
    store<f32>(yt + 3 * ys, hsum(b3) + tailDot(r1, x3, c4, cols), 4);
  }
  for (; t < T; t++) {
    const xt = xp + <usize>t * xStride;
    const yt = y + ((<usize>t * <usize>yStride) << 2);
    store<f32>(yt, dot(r0, xt, cols));
    store<f32>(yt, dot(r1, xt, cols), 4);
  }
}

// @ts-ignore: decorator
@inline export function tailDot(a: usize, b: usize, c4: i32, cols: i32): f32 {
  let s: f32 = 0;
  for (let c = c4; c < cols; c++) s += load<f32>(a + (<usize>c << 2)) * load<f32>(b + (<usize>c << 2));
  return s;
}
