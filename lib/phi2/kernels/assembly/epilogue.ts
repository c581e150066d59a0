// What follows a product in the kernel threads, on each block of output rows they
// have just computed: y += bias, then (phi's fc1) gelu_new. Here rather than on the
// main thread, it is shared by the cores with the product itself and runs in SIMD:
// fc1's GELU over 10240 values took 135 µs a layer in float64 JavaScript while the
// other core waited, about 4 ms of a token.
//
// gelu_new(v) = 0.5·v·(1 + tanh(u)), u = √(2/π)·(v + 0.044715·v³), computed as
// v / (1 + e^(−2u)) (the same function) with a float32 e^a below.

const MAGIC: f32 = 12582912.0; // 1.5 · 2^23: see roundToInt in q8.ts
const MAGIC_BITS: i32 = 0x4b400000;
const LOG2E: f32 = 1.4426950408889634;
// ln 2 split in two: LN2_HI keeps 16 significant bits, so n · LN2_HI is exact for the
// |n| ≤ 127 used here, and LN2_LO = ln 2 − LN2_HI restores the rest
const LN2_HI: f32 = 0.693145751953125;
const LN2_LO: f32 = 1.4286068203094173e-6;
const GELU_C: f32 = -1.5957691216057308; // −2·√(2/π)

/**
 * e^a for each lane, to about 2 float32 ulp for a in [−87, 88.3]; GELU only needs
 * "tiny" below that range and "huge" above it, so a is clamped to [−87, 89], and
 * above 88.3 the result is +inf (n = 128: an all-ones exponent). e^a = 2^n · e^r with
 * n = round(a / ln 2), |r| ≤ ln(2)/2, and e^r by its Taylor series to r^7 (the first
 * term left out is below 0.35^8 / 8! ≈ 6·10^−9).
 */
// @ts-ignore: decorator
@inline function exp4(a: v128): v128 {
  a = f32x4.min(f32x4.max(a, f32x4.splat(-87)), f32x4.splat(89));
  const t = f32x4.add(f32x4.mul(a, f32x4.splat(LOG2E)), f32x4.splat(MAGIC)); // n in t's low mantissa bits
  const n = f32x4.sub(t, f32x4.splat(MAGIC)); // n as a float
  const r = f32x4.sub(f32x4.sub(a, f32x4.mul(n, f32x4.splat(LN2_HI))), f32x4.mul(n, f32x4.splat(LN2_LO)));
  let p = f32x4.add(f32x4.mul(r, f32x4.splat(<f32>(1.0 / 5040))), f32x4.splat(<f32>(1.0 / 720)));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>(1.0 / 120)));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>(1.0 / 24)));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>(1.0 / 6)));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>0.5));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>1));
  // 2^n: n + 127 in the exponent field (n ∈ [−126, 128] after the clamp: a normal float, or inf)
  const scale = i32x4.shl(i32x4.add(i32x4.sub(t, i32x4.splat(MAGIC_BITS)), i32x4.splat(127)), 23);
  return f32x4.mul(p, scale);
}

// @ts-ignore: decorator
@inline function gelu4(v: v128): v128 {
  const u = f32x4.mul(f32x4.splat(GELU_C), f32x4.add(v, f32x4.mul(f32x4.splat(<f32>0.044715), f32x4.mul(v, f32x4.mul(v, v)))));
  return f32x4.div(v, f32x4.add(f32x4.splat(1), exp4(u)));
}

/**
 * y[t·rows + i] = act(y[t·rows + i] + bias[i]) for i < rows, t < T. bias = 0: no bias;
 * gelu ≠ 0: act = gelu_new, else the identity.
 */
export function biasAct(y: usize, bias: usize, rows: i32, T: i32, gelu: i32): void {
  const r4 = rows & ~3;
  for (let t = 0; t < T; t++) {
    const yt = y + (<usize>t * <usize>rows << 2);
    for (let i = 0; i < r4; i += 4) {
      const p = yt + (<usize>i << 2);
      let v = v128.load(p);
      if (bias) v = f32x4.add(v, v128.load(bias + (<usize>i << 2)));
      if (gelu) v = gelu4(v);
      v128.store(p, v);
    }
    // the last rows % 4 through the same lanes, one at a time (each result as the others')
    for (let i = r4; i < rows; i++) {
      const p = yt + (<usize>i << 2);
      let v = f32x4.splat(load<f32>(p));
      if (bias) v = f32x4.add(v, f32x4.splat(load<f32>(bias + (<usize>i << 2))));
      if (gelu) v = gelu4(v);
      store<f32>(p, f32x4.extract_lane(v, 0));
    }
  }
}
