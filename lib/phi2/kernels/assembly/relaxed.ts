// The Q8_0 product with relaxed SIMD's int8 dot product, and the fp16 prefill's GEMM
// with its fused multiply-add: a second module (relaxed.wasm) used only where the
// runtime has relaxed SIMD without a flag and computes it right (wasm.ts checks with
// probe() below).
//
// Why: i32x4.relaxed_dot_i8x16_i7x16_add_s multiplies 16 int8 pairs and adds them
// into 4 int32 lanes in one instruction where the CPU has VNNI (V8 13, Node 24:
// vpdpbusd), against 6 for the same 16 products through int16 (q8.ts). Node 22's
// V8 12 lowers it to the same pmaddubsw + pmaddwd sequence as before. Without VNNI
// it was slower than the int16 kernel (the sign transfer below costs extra), so the
// backend uses it only where the CPU has VNNI (wasm.ts: int8DotPays).
//
// Its second operand must be 7-bit (0…127). Q8_0 keeps x in [−127, 127], so x goes
// in as |x| and its sign moves onto the weight: w·x = (w·sign x)·|x|, where
// w·sign x = (w XOR m) − m with m = −1 for a negative x, else 0 (exact: Q8_0 never
// holds −128). The integer sums are exactly q8.ts's; the result is the same to the bit.

import { quantizeQ8 } from "./q8";
import { q8Tiled, f16Tiled } from "./tiled";

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
 * tiled.ts's q8MatmulTiled (the same layout and loop: tiled.ts's q8Tiled) with x as |x|
 * (ax) and sign masks (mx), both int8 [T, xStride], and scales xd [T, xStride/32].
 */
export function q8MatmulTiledRelaxed(w: usize, ax: usize, mx: usize, xd: usize, y: usize, rows: i32, cols: i32, T: i32, yStride: i32, xStride: i32, accumulate: i32): void {
  q8Tiled(w, ax, mx, xd, y, rows, cols, T, yStride, xStride, accumulate, true);
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

/**
 * tiled.ts's f16MatmulTiled (prefill: T > 1) with its multiply-adds fused where the CPU
 * has FMA: half the float operations of its inner loop, which are the GEMM's limit
 * (tiled.ts). Rounded once where f16MatmulTiled rounds twice, so the results differ from
 * that kernel's in their last bits (on a CPU without FMA, V8 multiplies and adds apart: no difference).
 */
export function f16MatmulTiledFused(w: usize, xp: usize, y: usize, rows: i32, cols: i32, T: i32, yStride: i32, tmp: usize, fast: i32): void {
  f16Tiled(w, xp, y, rows, cols, T, yStride, tmp, fast, true);
}
