// AssemblyScript source of the WebAssembly SIMD kernels (compiled by
// scripts/build-wasm.mjs into ../matvec.wasm; not part of the tsc build).
//
// The JS side (../wasm.ts, ../worker.ts) owns the memory layout: it passes byte
// addresses of weights, inputs and outputs inside this module's imported memory,
// which all worker threads share.
//
// Weights are row-major [rows = out, cols = in] in their stored dtype. Every
// kernel computes y[t, r] = Σ_c W[r, c] · x[t, c] in float32.
//
// The "x-prime" layout. A 16-byte load of 8 fp16 (or bf16) weights, read as four
// i32 lanes, holds element 2k in the low half and 2k+1 in the high half of lane k.
// Converting each half in place (no widening shuffles) gives the even elements in
// one f32x4 and the odd ones in another, so x is prepared once per call (prepX) in
// the same order: for each block of 8 columns x[c], x[c+2], x[c+4], x[c+6],
// x[c+1], x[c+3], x[c+5], x[c+7]; the last cols % 8 columns stay in natural order.

// fp16 → fp32 by bit operations: see simd.ts.
import { rawEven, rawOdd, rawToF32, hsum, TWO_POW_112, F32_EXP, dot, dotTokens, dotTokens2 } from "./simd";

/** One fp16 (scalar, used for the cols % 8 tail) → float32, exact. */
// @ts-ignore: decorator
@inline function halfToF32(h: u32): f32 {
  const raw = ((h & 0x8000) << 16) | ((h & 0x7fff) << 13);
  let f = reinterpret<f32>(raw) * TWO_POW_112;
  if ((h & 0x7c00) == 0x7c00) f = reinterpret<f32>(reinterpret<u32>(f) | F32_EXP);
  return f;
}
/** bf16 is the top half of a float32. */
// @ts-ignore: decorator
@inline function bf16Even(v: v128): v128 {
  return i32x4.shl(v, 16);
}
// @ts-ignore: decorator
@inline function bf16Odd(v: v128): v128 {
  return v128.and(v, i32x4.splat(0xffff0000));
}

/** Convert n fp16 at src into float32 at dst in natural order (tests all 65536 bit patterns). */
export function f16ToF32(src: usize, dst: usize, n: i32): void {
  const n8 = n & ~7;
  for (let i = 0; i < n8; i += 8) {
    const v = v128.load(src + (<usize>i << 1));
    const e = rawToF32(rawEven(v));
    const o = rawToF32(rawOdd(v));
    v128.store(dst + (<usize>i << 2), v128.shuffle<f32>(e, o, 0, 4, 1, 5));
    v128.store(dst + (<usize>i << 2), v128.shuffle<f32>(e, o, 2, 6, 3, 7), 16);
  }
  for (let i = n8; i < n; i++) store<f32>(dst + (<usize>i << 2), halfToF32(load<u16>(src + (<usize>i << 1))));
}

/**
 * The largest |h| of the n fp16 at src, as bits (h & 0x7fff; 0 for n = 0): inf or NaN
 * among them iff it is ≥ 0x7c00 (then the fast kernel does not apply), and the largest
 * exponent, which says whether f16ScalePow2 may scale them (see below).
 */
export function f16MaxAbs(src: usize, n: i32): i32 {
  const n8 = n & ~7;
  const mask = i16x8.splat(0x7fff);
  let m = i16x8.splat(0);
  for (let i = 0; i < n8; i += 8) m = i16x8.max_u(m, v128.and(v128.load(src + (<usize>i << 1)), mask));
  m = i16x8.max_u(m, v128.shuffle<u16>(m, m, 4, 5, 6, 7, 0, 1, 2, 3)); // lanes folded: 8 → 4 → 2 → 1
  m = i16x8.max_u(m, v128.shuffle<u16>(m, m, 2, 3, 0, 1, 2, 3, 0, 1));
  m = i16x8.max_u(m, v128.shuffle<u16>(m, m, 1, 0, 1, 0, 1, 0, 1, 0));
  let best = <u32>i16x8.extract_lane_u(m, 0);
  for (let i = n8; i < n; i++) best = max(best, <u32>load<u16>(src + (<usize>i << 1)) & 0x7fff);
  return <i32>best;
}

// ---- fp16 subnormals -----------------------------------------------------------
//
// A subnormal fp16 becomes a subnormal ("denormal") float32 in the raw form above,
// and x86 multiplies with a denormal operand take a ~100-cycle microcode assist:
// with 0.3% subnormal weights (typical of trained fp16 weights ~N(0, 0.02)) one
// thread here (AMD EPYC, Zen 5) fell from 7.75 to 5.81 GMAC/s, timed in one process;
// the sparse lists below cost 3–8 % instead. So at load time the worker moves each matrix's
// subnormals into a small sparse list (CSR) and zeroes them in the dense copy;
// the kernels never meet a denormal and sparseAdd adds the rest back exactly.
// Now most matrices need neither: held × 2^10 (f16ScalePow2 below; compute.ts says
// when), no half is subnormal. The lists remain for a matrix with a half ≥ 64 or inf/NaN.

// @ts-ignore: decorator
@inline function isSubnormal16(h: u32): bool {
  return (h & 0x7c00) == 0 && (h & 0x03ff) != 0;
}
// @ts-ignore: decorator
@inline function subnormalLanes(v: v128): v128 {
  const expZero = i16x8.eq(v128.and(v, i16x8.splat(0x7c00)), i16x8.splat(0));
  const mantNonZero = v128.not(i16x8.eq(v128.and(v, i16x8.splat(0x03ff)), i16x8.splat(0)));
  return v128.and(expZero, mantNonZero);
}

/** How many of the n fp16 at src are subnormal. */
export function f16CountSubnormals(src: usize, n: i32): i32 {
  const n8 = n & ~7;
  let count = 0;
  for (let i = 0; i < n8; i += 8) {
    count += <i32>popcnt(i16x8.bitmask(subnormalLanes(v128.load(src + (<usize>i << 1)))));
  }
  for (let i = n8; i < n; i++) if (isSubnormal16(load<u16>(src + (<usize>i << 1)))) count++;
  return count;
}

/** counts[r] = number of subnormals in row r of the fp16 matrix w [rows, cols]; returns the total. */
export function f16CountSubnormalsPerRow(w: usize, rows: i32, cols: i32, counts: usize): i32 {
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const c = f16CountSubnormals(w + <usize>r * (<usize>cols << 1), cols);
    store<u32>(counts + (<usize>r << 2), c);
    total += c;
  }
  return total;
}

/**
 * Move the subnormals of the fp16 matrix w [rows, cols] into CSR form and zero
 * them in w: row r's entries go to k = rowStart[r], rowStart[r] + 1, … (rowStart
 * from the counts above, so workers can extract their own rows in parallel), at
 * column colIdx[k] (u32) with value vals[k] (f32, exact).
 */
export function f16ExtractSubnormalsAt(w: usize, rows: i32, cols: i32, rowStart: usize, colIdx: usize, vals: usize): void {
  const c8 = cols & ~7;
  for (let r = 0; r < rows; r++) {
    let k = load<u32>(rowStart + (<usize>r << 2));
    const row = w + <usize>r * (<usize>cols << 1);
    for (let c = 0; c < cols; c++) {
      if (c < c8 && (c & 7) == 0 && !v128.any_true(subnormalLanes(v128.load(row + (<usize>c << 1))))) {
        c += 7;
        continue;
      }
      const h = <u32>load<u16>(row + (<usize>c << 1));
      if (isSubnormal16(h)) {
        store<u32>(colIdx + (<usize>k << 2), c);
        store<f32>(vals + (<usize>k << 2), halfToF32(h));
        store<u16>(row + (<usize>c << 1), 0);
        k++;
      }
    }
  }
}

/** f16ExtractSubnormalsAt for w held tiled (assembly/tiled.ts): row r's 8 columns at c lie at group(r) + 8c + 16·(r % 4). */
export function f16ExtractSubnormalsTiled(w: usize, rows: i32, cols: i32, rowStart: usize, colIdx: usize, vals: usize): void {
  const rowBytes = <usize>cols << 1;
  for (let r = 0; r < rows; r++) {
    let k = load<u32>(rowStart + (<usize>r << 2));
    let p = w + <usize>(r & ~3) * rowBytes + (<usize>(r & 3) << 4);
    for (let c = 0; c < cols; c += 8, p += 64) {
      if (!v128.any_true(subnormalLanes(v128.load(p)))) continue;
      for (let e = 0; e < 8; e++) {
        const h = <u32>load<u16>(p + (<usize>e << 1));
        if (isSubnormal16(h)) {
          store<u32>(colIdx + (<usize>k << 2), c + e);
          store<f32>(vals + (<usize>k << 2), halfToF32(h));
          store<u16>(p + (<usize>e << 1), 0);
          k++;
        }
      }
    }
  }
}

/**
 * Multiply the n fp16 at p by 2^k in place, exactly. The caller has checked that no
 * exponent overflows (f16MaxAbs ≤ F16_SCALABLE_MAX for k = F16_SCALE_EXP) and that none
 * is inf or NaN. A normal half's exponent field grows by k; a subnormal m · 2^-24 becomes
 * m · 2^(k-24), normalized when that is ≥ 2^-14 (always, for k = 10), its bits shifted
 * out all zero. Elementwise, so it serves row-major and tiled matrices alike.
 */
export function f16ScalePow2(p: usize, n: i32, k: i32): void {
  const n8 = n & ~7;
  const step = i16x8.splat(<i16>(k << 10));
  for (let i = 0; i < n8; i += 8) {
    const a = p + (<usize>i << 1);
    const v = v128.load(a);
    if (!v128.any_true(subnormalLanes(v))) {
      // every lane normal or ±0: the exponent field of the nonzero ones grows by k (no carry into the sign: no overflow)
      const nonzero = v128.not(i16x8.eq(v128.and(v, i16x8.splat(0x7fff)), i16x8.splat(0)));
      v128.store(a, i16x8.add(v, v128.and(nonzero, step)));
    } else {
      for (let e = 0; e < 8; e++) store<u16>(a + (<usize>e << 1), scaleHalf(load<u16>(a + (<usize>e << 1)), k));
    }
  }
  for (let i = n8; i < n; i++) store<u16>(p + (<usize>i << 1), scaleHalf(load<u16>(p + (<usize>i << 1)), k));
}

// @ts-ignore: decorator
@inline function scaleHalf(h: u32, k: i32): u16 {
  const sign = h & 0x8000;
  const mag = h & 0x7fff;
  if (mag == 0) return <u16>h;
  if (mag >= 0x0400) return <u16>(h + (<u32>k << 10)); // normal
  const v = mag << k; // the subnormal's mantissa · 2^k, in units of 2^-24
  if (v < 0x0400) return <u16>(sign | v); // still subnormal
  const top = 31 - clz(v); // its leading bit: 10 … 9 + k
  return <u16>(sign | (<u32>(top - 9) << 10) | ((v >> (top - 10)) & 0x03ff));
}

/** y[t·yStride + i] += Σ_k vals[k] · x[t·cols + colIdx[k]] over row (row0 + i)'s entries; x natural order. */
export function sparseAdd(y: usize, row0: i32, rows: i32, rowStart: usize, colIdx: usize, vals: usize, x: usize, cols: i32, T: i32, yStride: i32): void {
  for (let i = 0; i < rows; i++) {
    const k0 = load<u32>(rowStart + (<usize>(row0 + i) << 2));
    const k1 = load<u32>(rowStart + (<usize>(row0 + i + 1) << 2));
    if (k0 == k1) continue;
    // 4 tokens at a time: each entry's value and column are read once for 4 sums that
    // do not wait on each other (one sum per token waited on its own adds)
    const xs = <usize>cols << 2;
    let t = 0;
    for (; t + 4 <= T; t += 4) {
      const x0 = x + <usize>t * xs;
      let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
      for (let k = k0; k < k1; k++) {
        const v = load<f32>(vals + (<usize>k << 2));
        const xc = x0 + (<usize>load<u32>(colIdx + (<usize>k << 2)) << 2);
        s0 += v * load<f32>(xc);
        s1 += v * load<f32>(xc + xs);
        s2 += v * load<f32>(xc + 2 * xs);
        s3 += v * load<f32>(xc + 3 * xs);
      }
      addAt(y + ((<usize>t * <usize>yStride + <usize>i) << 2), s0);
      addAt(y + ((<usize>(t + 1) * <usize>yStride + <usize>i) << 2), s1);
      addAt(y + ((<usize>(t + 2) * <usize>yStride + <usize>i) << 2), s2);
      addAt(y + ((<usize>(t + 3) * <usize>yStride + <usize>i) << 2), s3);
    }
    // one token (all of decode): two sums, even and odd entries, so that each add waits on
    // the one before last, not on the one before. Whole fp16 decode steps (random phi-2
    // weights, 0.4 % of them subnormal: 10.8 M entries), alternating in one process with
    // this part skipped (wrong results, timing only): one sum cost 9–17 ms a step (of
    // 180–200), two sums 4 (167 against 163 ms, medians of 30 steps each). Timed directly
    // later (timestamps around each call, main thread): 9.3–9.8 ms of a 172–190 ms step. In a
    // bare loop this form took 0.4–0.6 ns an entry with the lists in cache and 1.0–1.2 with
    // them in memory (8 bytes an entry, short runs per block); in the model, 1.8.
    for (; t < T; t++) {
      const xt = x + <usize>t * xs;
      let s0: f32 = 0, s1: f32 = 0;
      let k = k0;
      for (; k + 2 <= k1; k += 2) {
        const e = <usize>k << 2;
        s0 += load<f32>(vals + e) * load<f32>(xt + (<usize>load<u32>(colIdx + e) << 2));
        s1 += load<f32>(vals + e, 4) * load<f32>(xt + (<usize>load<u32>(colIdx + e, 4) << 2));
      }
      if (k < k1) s0 += load<f32>(vals + (<usize>k << 2)) * load<f32>(xt + (<usize>load<u32>(colIdx + (<usize>k << 2)) << 2));
      addAt(y + ((<usize>t * <usize>yStride + <usize>i) << 2), s0 + s1);
    }
  }
}

// @ts-ignore: decorator
@inline function addAt(p: usize, s: f32): void {
  store<f32>(p, load<f32>(p) + s);
}

/**
 * x (T rows of cols float32, natural order) → x' (permuted as above when
 * `permute`, times `scale`). Returns max |x| (NaN if x holds a NaN).
 */
export function prepX(x: usize, xp: usize, T: i32, cols: i32, permute: i32, scale: f32): f32 {
  const c8 = cols & ~7;
  const s = f32x4.splat(scale);
  let m = f32x4.splat(0);
  let mTail: f32 = 0;
  for (let t = 0; t < T; t++) {
    const src = x + <usize>t * <usize>cols * 4;
    const dst = xp + <usize>t * <usize>cols * 4;
    for (let c = 0; c < c8; c += 8) {
      const a = v128.load(src + (<usize>c << 2));
      const b = v128.load(src + (<usize>c << 2), 16);
      m = f32x4.max(m, f32x4.max(f32x4.abs(a), f32x4.abs(b)));
      if (permute) {
        v128.store(dst + (<usize>c << 2), f32x4.mul(v128.shuffle<f32>(a, b, 0, 2, 4, 6), s));
        v128.store(dst + (<usize>c << 2), f32x4.mul(v128.shuffle<f32>(a, b, 1, 3, 5, 7), s), 16);
      } else {
        v128.store(dst + (<usize>c << 2), f32x4.mul(a, s));
        v128.store(dst + (<usize>c << 2), f32x4.mul(b, s), 16);
      }
    }
    for (let c = c8; c < cols; c++) {
      const v = load<f32>(src + (<usize>c << 2));
      const av = Mathf.abs(v);
      mTail = isNaN(v) || av > mTail ? av : mTail;
      if (isNaN(mTail)) mTail = v; // keep NaN sticky
      store<f32>(dst + (<usize>c << 2), v * scale);
    }
  }
  const mv = Mathf.max(Mathf.max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), Mathf.max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
  return Mathf.max(mv, mTail);
}

// ---- T = 1 (decoding): one pass over the weights, 4 rows at a time ------------

/**
 * fp16, fast path: x' must be permuted AND scaled by 2^112, weights finite.
 * Then raw(w) · x' = w · x exactly (scaling by a power of two commutes with
 * rounding), and the conversion costs 5 integer ops per 8 weights.
 */
export function f16MatvecFast(w: usize, xp: usize, y: usize, rows: i32, cols: i32): void {
  const rowBytes = <usize>cols << 1;
  const c8 = cols & ~7;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const w0 = w + <usize>r * rowBytes;
    const w1 = w0 + rowBytes;
    const w2 = w1 + rowBytes;
    const w3 = w2 + rowBytes;
    let a0 = f32x4.splat(0), b0 = f32x4.splat(0), a1 = f32x4.splat(0), b1 = f32x4.splat(0);
    let a2 = f32x4.splat(0), b2 = f32x4.splat(0), a3 = f32x4.splat(0), b3 = f32x4.splat(0);
    for (let c = 0; c < c8; c += 8) {
      const xo = <usize>c << 2;
      const wo = <usize>c << 1;
      const xe = v128.load(xp + xo);
      const xd = v128.load(xp + xo, 16);
      let v = v128.load(w0 + wo);
      a0 = f32x4.add(a0, f32x4.mul(rawEven(v), xe));
      b0 = f32x4.add(b0, f32x4.mul(rawOdd(v), xd));
      v = v128.load(w1 + wo);
      a1 = f32x4.add(a1, f32x4.mul(rawEven(v), xe));
      b1 = f32x4.add(b1, f32x4.mul(rawOdd(v), xd));
      v = v128.load(w2 + wo);
      a2 = f32x4.add(a2, f32x4.mul(rawEven(v), xe));
      b2 = f32x4.add(b2, f32x4.mul(rawOdd(v), xd));
      v = v128.load(w3 + wo);
      a3 = f32x4.add(a3, f32x4.mul(rawEven(v), xe));
      b3 = f32x4.add(b3, f32x4.mul(rawOdd(v), xd));
    }
    store<f32>(y + (<usize>r << 2), hsum(f32x4.add(a0, b0)) + f16TailFast(w0, xp, c8, cols));
    store<f32>(y + (<usize>r << 2), hsum(f32x4.add(a1, b1)) + f16TailFast(w1, xp, c8, cols), 4);
    store<f32>(y + (<usize>r << 2), hsum(f32x4.add(a2, b2)) + f16TailFast(w2, xp, c8, cols), 8);
    store<f32>(y + (<usize>r << 2), hsum(f32x4.add(a3, b3)) + f16TailFast(w3, xp, c8, cols), 12);
  }
  for (; r < rows; r++) {
    const w0 = w + <usize>r * rowBytes;
    let a0 = f32x4.splat(0), b0 = f32x4.splat(0);
    for (let c = 0; c < c8; c += 8) {
      const v = v128.load(w0 + (<usize>c << 1));
      a0 = f32x4.add(a0, f32x4.mul(rawEven(v), v128.load(xp + (<usize>c << 2))));
      b0 = f32x4.add(b0, f32x4.mul(rawOdd(v), v128.load(xp + (<usize>c << 2), 16)));
    }
    store<f32>(y + (<usize>r << 2), hsum(f32x4.add(a0, b0)) + f16TailFast(w0, xp, c8, cols));
  }
}

// @ts-ignore: decorator
@inline function f16TailFast(wRow: usize, xp: usize, c8: i32, cols: i32): f32 {
  let s: f32 = 0;
  for (let c = c8; c < cols; c++) {
    const h = <u32>load<u16>(wRow + (<usize>c << 1));
    s += reinterpret<f32>(((h & 0x8000) << 16) | ((h & 0x7fff) << 13)) * load<f32>(xp + (<usize>c << 2));
  }
  return s;
}

/** fp16, exact conversion (any weights, x' permuted, not scaled). */
export function f16MatvecExact(w: usize, xp: usize, y: usize, rows: i32, cols: i32): void {
  const rowBytes = <usize>cols << 1;
  const c8 = cols & ~7;
  for (let r = 0; r < rows; r++) {
    const w0 = w + <usize>r * rowBytes;
    let a0 = f32x4.splat(0), b0 = f32x4.splat(0);
    for (let c = 0; c < c8; c += 8) {
      const v = v128.load(w0 + (<usize>c << 1));
      a0 = f32x4.add(a0, f32x4.mul(rawToF32(rawEven(v)), v128.load(xp + (<usize>c << 2))));
      b0 = f32x4.add(b0, f32x4.mul(rawToF32(rawOdd(v)), v128.load(xp + (<usize>c << 2), 16)));
    }
    let s: f32 = 0;
    for (let c = c8; c < cols; c++) s += halfToF32(load<u16>(w0 + (<usize>c << 1))) * load<f32>(xp + (<usize>c << 2));
    store<f32>(y + (<usize>r << 2), hsum(f32x4.add(a0, b0)) + s);
  }
}

/** bf16 (x' permuted, not scaled). */
export function bf16Matvec(w: usize, xp: usize, y: usize, rows: i32, cols: i32): void {
  const rowBytes = <usize>cols << 1;
  const c8 = cols & ~7;
  let r = 0;
  for (; r + 2 <= rows; r += 2) {
    const w0 = w + <usize>r * rowBytes;
    const w1 = w0 + rowBytes;
    let a0 = f32x4.splat(0), b0 = f32x4.splat(0), a1 = f32x4.splat(0), b1 = f32x4.splat(0);
    for (let c = 0; c < c8; c += 8) {
      const xe = v128.load(xp + (<usize>c << 2));
      const xd = v128.load(xp + (<usize>c << 2), 16);
      let v = v128.load(w0 + (<usize>c << 1));
      a0 = f32x4.add(a0, f32x4.mul(bf16Even(v), xe));
      b0 = f32x4.add(b0, f32x4.mul(bf16Odd(v), xd));
      v = v128.load(w1 + (<usize>c << 1));
      a1 = f32x4.add(a1, f32x4.mul(bf16Even(v), xe));
      b1 = f32x4.add(b1, f32x4.mul(bf16Odd(v), xd));
    }
    store<f32>(y + (<usize>r << 2), hsum(f32x4.add(a0, b0)) + bf16Tail(w0, xp, c8, cols));
    store<f32>(y + (<usize>r << 2), hsum(f32x4.add(a1, b1)) + bf16Tail(w1, xp, c8, cols), 4);
  }
  for (; r < rows; r++) {
    const w0 = w + <usize>r * rowBytes;
    let a0 = f32x4.splat(0), b0 = f32x4.splat(0);
    for (let c = 0; c < c8; c += 8) {
      const v = v128.load(w0 + (<usize>c << 1));
      a0 = f32x4.add(a0, f32x4.mul(bf16Even(v), v128.load(xp + (<usize>c << 2))));
      b0 = f32x4.add(b0, f32x4.mul(bf16Odd(v), v128.load(xp + (<usize>c << 2), 16)));
    }
    store<f32>(y + (<usize>r << 2), hsum(f32x4.add(a0, b0)) + bf16Tail(w0, xp, c8, cols));
  }
}

// @ts-ignore: decorator
@inline function bf16Tail(wRow: usize, xp: usize, c8: i32, cols: i32): f32 {
  let s: f32 = 0;
  for (let c = c8; c < cols; c++) {
    s += reinterpret<f32>(<u32>load<u16>(wRow + (<usize>c << 1)) << 16) * load<f32>(xp + (<usize>c << 2));
  }
  return s;
}

/** float32 weights (x natural order). */
export function f32Matvec(w: usize, x: usize, y: usize, rows: i32, cols: i32): void {
  const rowBytes = <usize>cols << 2;
  for (let r = 0; r < rows; r++) store<f32>(y + (<usize>r << 2), dot(w + <usize>r * rowBytes, x, cols));
}


// ---- T > 1 (prefill): convert each row once, reuse it for every token --------

/** Row r of an fp16/bf16 matrix → float32 at tmp, in x' order (exact). */
// @ts-ignore: decorator
@inline function rowToF32(wRow: usize, tmp: usize, cols: i32, bf16: bool): void {
  const c8 = cols & ~7;
  for (let c = 0; c < c8; c += 8) {
    const v = v128.load(wRow + (<usize>c << 1));
    if (bf16) {
      v128.store(tmp + (<usize>c << 2), bf16Even(v));
      v128.store(tmp + (<usize>c << 2), bf16Odd(v), 16);
    } else {
      v128.store(tmp + (<usize>c << 2), rawToF32(rawEven(v)));
      v128.store(tmp + (<usize>c << 2), rawToF32(rawOdd(v)), 16);
    }
  }
  for (let c = c8; c < cols; c++) {
    const h = <u32>load<u16>(wRow + (<usize>c << 1));
    store<f32>(tmp + (<usize>c << 2), bf16 ? reinterpret<f32>(h << 16) : halfToF32(h));
  }
}




/** fp16 or bf16 weights, T tokens: y[t·yStride + r]. x' permuted, not scaled. tmp: 2 rows of f32. */
export function halfMatmul(w: usize, xp: usize, y: usize, rows: i32, cols: i32, T: i32, yStride: i32, tmp: usize, bf16: i32): void {
  const rowBytes = <usize>cols << 1;
  const tmp1 = tmp + (<usize>cols << 2);
  let r = 0;
  for (; r + 2 <= rows; r += 2) {
    const w0 = w + <usize>r * rowBytes;
    if (bf16) {
      rowToF32(w0, tmp, cols, true);
      rowToF32(w0 + rowBytes, tmp1, cols, true);
    } else {
      rowToF32(w0, tmp, cols, false);
      rowToF32(w0 + rowBytes, tmp1, cols, false);
    }
    dotTokens2(tmp, tmp1, xp, y + (<usize>r << 2), T, cols, yStride);
  }
  if (r < rows) {
    if (bf16) rowToF32(w + <usize>r * rowBytes, tmp, cols, true);
    else rowToF32(w + <usize>r * rowBytes, tmp, cols, false);
    dotTokens(tmp, xp, y + (<usize>r << 2), T, cols, yStride);
  }
}

/** float32 weights, T tokens (x natural order). */
export function f32Matmul(w: usize, x: usize, y: usize, rows: i32, cols: i32, T: i32, yStride: i32): void {
  const rowBytes = <usize>cols << 2;
  let r = 0;
  for (; r + 2 <= rows; r += 2) {
    const w0 = w + <usize>r * rowBytes;
    dotTokens2(w0, w0 + rowBytes, x, y + (<usize>r << 2), T, cols, yStride);
  }
  if (r < rows) dotTokens(w + <usize>r * rowBytes, x, y + (<usize>r << 2), T, cols, yStride);
}

// ---- memory bandwidth: stream-sum n bytes (n multiple of 64) ------------------

export function streamSum(src: usize, n: usize): i32 {
  let s0 = i32x4.splat(0), s1 = i32x4.splat(0), s2 = i32x4.splat(0), s3 = i32x4.splat(0);
  const end = src + n;
  for (let p = src; p < end; p += 64) {
    s0 = i32x4.add(s0, v128.load(p));
    s1 = i32x4.add(s1, v128.load(p, 16));
    s2 = i32x4.add(s2, v128.load(p, 32));
    s3 = i32x4.add(s3, v128.load(p, 48));
  }
  const s = i32x4.add(i32x4.add(s0, s1), i32x4.add(s2, s3));
  return i32x4.extract_lane(s, 0) + i32x4.extract_lane(s, 1) + i32x4.extract_lane(s, 2) + i32x4.extract_lane(s, 3);
}

// ---- float32 → fp16 / bf16, round to nearest even (random weights at load) ----
//
// The random weights of random.ts are float32 values rounded to the dtype; the
// workers generate the float32 values with random.ts itself and round them here
// (the same IEEE rounding as f16.ts's floatToHalf, ~10× faster than in JS).

export function f32ToF16(src: usize, dst: usize, n: i32): void {
  // 8 at a time when all 8 round to normal halves (the usual case), else one by one
  const n8 = n & ~7;
  const lo = i32x4.splat(0x38800000); // 2^-14: smallest normal half
  const hi = i32x4.splat(0x477ff000); // 65520: rounds to inf
  let i = 0;
  for (; i < n8; i += 8) {
    const a = v128.load(src + (<usize>i << 2));
    const b = v128.load(src + (<usize>i << 2), 16);
    const absA = v128.and(a, i32x4.splat(0x7fffffff));
    const absB = v128.and(b, i32x4.splat(0x7fffffff));
    const ok = v128.and(
      v128.and(i32x4.ge_s(absA, lo), i32x4.lt_s(absA, hi)),
      v128.and(i32x4.ge_s(absB, lo), i32x4.lt_s(absB, hi)),
    );
    if (!i32x4.all_true(ok)) {
      f32ToF16Scalar(src + (<usize>i << 2), dst + (<usize>i << 1), 8);
      continue;
    }
    // round to nearest even at bit 13, then re-bias the exponent (127 → 15)
    const one = i32x4.splat(1);
    const rA = i32x4.add(i32x4.add(absA, i32x4.splat(0xfff)), v128.and(i32x4.shr_u(absA, 13), one));
    const rB = i32x4.add(i32x4.add(absB, i32x4.splat(0xfff)), v128.and(i32x4.shr_u(absB, 13), one));
    const hA = v128.or(i32x4.shr_u(i32x4.sub(rA, i32x4.splat(0x38000000)), 13), v128.and(i32x4.shr_u(a, 16), i32x4.splat(0x8000)));
    const hB = v128.or(i32x4.shr_u(i32x4.sub(rB, i32x4.splat(0x38000000)), 13), v128.and(i32x4.shr_u(b, 16), i32x4.splat(0x8000)));
    v128.store(dst + (<usize>i << 1), i16x8.narrow_i32x4_u(hA, hB));
  }
  f32ToF16Scalar(src + (<usize>i << 2), dst + (<usize>i << 1), n - i);
}

function f32ToF16Scalar(src: usize, dst: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const bits = load<u32>(src + (<usize>i << 2));
    const sign = (bits >>> 16) & 0x8000;
    const exp = <i32>((bits >>> 23) & 0xff);
    let mant = bits & 0x7fffff;
    let h: u32;
    if (exp == 0xff) {
      h = sign | 0x7c00 | (mant ? 0x200 : 0); // inf / NaN
    } else {
      const e = exp - 127 + 15;
      if (e >= 31) {
        h = sign | 0x7c00; // overflow → inf
      } else if (e <= 0) {
        if (e < -10) {
          h = sign; // underflow → ±0
        } else {
          mant |= 0x800000; // subnormal half: shift the implicit 1 in
          const shift = <u32>(14 - e);
          const half: u32 = 1 << (shift - 1);
          const rest = mant & ((<u32>1 << shift) - 1);
          let m = mant >>> shift;
          if (rest > half || (rest == half && (m & 1) != 0)) m++;
          h = sign | m;
        }
      } else {
        h = sign | (<u32>e << 10) | (mant >>> 13);
        const rest = mant & 0x1fff;
        if (rest > 0x1000 || (rest == 0x1000 && (h & 1) != 0)) h++; // may carry into the exponent: correct
      }
    }
    store<u16>(dst + (<usize>i << 1), <u16>h);
  }
}

export function f32ToBF16(src: usize, dst: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const bits = load<u32>(src + (<usize>i << 2));
    store<u16>(dst + (<usize>i << 1), <u16>((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16));
  }
}

// ---- int8 weights (Q8_0-style blocks): see q8.ts ------------------------------
export { quantizeQ8, quantizeQ8Strided, quantizeX, q8Matmul } from "./q8";

// ---- the tiled layout (4 rows interleaved; one sequential stream): see tiled.ts ----
export { tileF16, f16MatvecTiled, f16MatvecTiledExact, f16MatmulTiled, q8MatmulTiled } from "./tiled";

// ---- attention of a new position against the KV cache: see attention.ts ----------
export { attnScores, attnMix } from "./attention";

// ---- after a product: bias and GELU on the rows just computed: see epilogue.ts -----
export { biasAct } from "./epilogue";

// ---- random weights (random.ts's definition, ~5× faster than in JS) -----------

/**
 * dst[i] = float32((2·u − 1) · scale) for the outputs u of mulberry32(seed) number
 * start + i, exactly as random.ts's fillRandomF32 (the same int32 steps; the
 * product in float64, rounded once to float32).
 */
export function randomF32(dst: usize, n: i32, seed: i32, start: u32, scale: f64): void {
  let a: i32 = seed + <i32>(start * 0x6d2b79f5);
  for (let i = 0; i < n; i++) {
    a += 0x6d2b79f5;
    let t: i32 = (a ^ (a >>> 15)) * (1 | a);
    t = (t + (t ^ (t >>> 7)) * (61 | t)) ^ t;
    const u = <f64>(<u32>(t ^ (t >>> 14))) / 4294967296.0;
    store<f32>(dst + (<usize>i << 2), <f32>((2 * u - 1) * scale));
  }
}
