// The Q8_0 product with relaxed SIMD's int8 dot product, a second module
// (relaxed.wasm) used only where the runtime has relaxed SIMD without a flag and
// computes it right (wasm.ts checks with probe() below).
//
// Why: i32x4.relaxed_dot_i8x16_i7x16_add_s multiplies 16 int8 pairs and adds them
// into 4 int32 lanes in one instruction where the CPU has VNNI (V8 13, Node 24:
// vpdpbusd), against 6 for the same 16 products through int16 (q8.ts). Node 22's
// V8 12 lowers it to the same pmaddubsw + pmaddwd sequence as before.
//
// Its second operand must be 7-bit (0…127). Q8_0 keeps x in [−127, 127], so x goes
// in as |x| and its sign moves onto the weight: w·x = (w·sign x)·|x|, where
// w·sign x = (w XOR m) − m with m = −1 for a negative x, else 0 (exact: Q8_0 never
// holds −128). The integer sums are exactly q8.ts's; the result is the same to the bit.

import { quantizeQ8 } from "./q8";
import { hadd4, Q8_GROUP_BLOCK_BYTES } from "./tiled";

/** 4 rows' block dot: Σ over 32 columns of w·x as [Σ row 0, …] partial i32x4 (one per row, see hadd4). */
// @ts-ignore: decorator
@inline function blockDot(w: usize, a0: v128, a1: v128, m0: v128, m1: v128): v128 {
  const s = i32x4.relaxed_dot_i8x16_i7x16_add_s(i8x16.sub(v128.xor(v128.load(w), m0), m0), a0, i32x4.splat(0));
  return i32x4.relaxed_dot_i8x16_i7x16_add_s(i8x16.sub(v128.xor(v128.load(w, 16), m1), m1), a1, s);
}

/**
 * x [T, cols] float32 → Q8_0 int8 as |x| at ax and sign masks (0 or −1) at mx, [T, cols]
 * bytes each, and the block scales at xd [T, cols/32] (the same scales as q8.ts's quantizeX).
 */
export function quantizeXSigned(x: usize, T: i32, cols: i32, ax: usize, mx: usize, xd: usize): void {
  for (let t = 0; t < T; t++) {
    const o = <usize>t * <usize>cols;
    quantizeQ8(x + (o << 2), cols, ax + o, xd + (<usize>t * <usize>(cols >> 5) << 2), 0);
    for (let i = 0; i < cols; i += 16) {
      const q = v128.load(ax + o + <usize>i);
      v128.store(mx + o + <usize>i, i8x16.shr_s(q, 7));
      v128.store(ax + o + <usize>i, i8x16.abs(q));
    }
  }
}

/**
 * tiled.ts's q8MatmulTiled (the same layout: 144-byte blocks of 4 rows' scales and
 * int8) with x as |x| (ax) and sign masks (mx), both int8 [T, xStride], and scales xd [T, xStride/32].
 */
export function q8MatmulTiledRelaxed(w: usize, ax: usize, mx: usize, xd: usize, y: usize, rows: i32, cols: i32, T: i32, yStride: i32, xStride: i32, accumulate: i32): void {
  const nb = cols >> 5;
  for (let r = 0; r < rows; r += 4) {
    const g = w + (<usize>r * <usize>cols * 9 >> 3); // the group's 4 · cols · 9/8 bytes
    for (let t = 0; t < T; t++) {
      const at = ax + <usize>t * <usize>xStride;
      const mt = mx + <usize>t * <usize>xStride;
      const dt = xd + (<usize>t * <usize>(xStride >> 5) << 2);
      const yt = y + ((<usize>t * <usize>yStride + <usize>r) << 2);
      let acc = accumulate ? v128.load(yt) : f32x4.splat(0); // [4 rows]
      let p = g;
      for (let b = 0; b < nb; b++) {
        const o = <usize>b << 5;
        const a0 = v128.load(at + o), a1 = v128.load(at + o, 16);
        const m0 = v128.load(mt + o), m1 = v128.load(mt + o, 16);
        const s = hadd4(blockDot(p + 16, a0, a1, m0, m1), blockDot(p + 48, a0, a1, m0, m1), blockDot(p + 80, a0, a1, m0, m1), blockDot(p + 112, a0, a1, m0, m1));
        const scale = f32x4.mul(v128.load(p), f32x4.splat(load<f32>(dt + (<usize>b << 2))));
        acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(s), scale));
        p += Q8_GROUP_BLOCK_BYTES;
      }
      v128.store(yt, acc);
    }
  }
}

/**
 * The relaxed dot on fixed operands (lanes: 27, 100, −4·127², 0 + 5): what wasm.ts
 * compares against before it trusts this module. (Node 20's V8 with its flag doubles it.)
 */
export function probe(): i32 {
  const a = i8x16(-3, 5, 7, -2, 1, 1, 1, 1, -127, -127, -127, -127, 0, 0, 0, 0);
  const b = i8x16(2, 3, 4, 5, 10, 20, 30, 40, 127, 127, 127, 127, 0, 0, 0, 0);
  const r = i32x4.relaxed_dot_i8x16_i7x16_add_s(a, b, i32x4(0, 0, 0, 5));
  return i32x4.extract_lane(r, 0) == 27 && i32x4.extract_lane(r, 1) == 100 && i32x4.extract_lane(r, 2) == -64516 && i32x4.extract_lane(r, 3) == 5 ? 1 : 0;
}
