// Attention of one new position against the KV cache (../../attention.ts owns the
// layout and runs the softmax between the two calls).
//
// Position s's keys (or values) start at k + s·stride (bytes), one layer's cache.
// A query head h reads key/value head h / group (grouped queries; group = 1 for
// phi-2). Both kernels walk the positions in order.

/** scores[h·n + s] = scale · q_h · k_s,h/group for s < n. q: [heads, headDim]. */
export function attnScores(q: usize, k: usize, stride: usize, scores: usize, n: i32, heads: i32, group: i32, headDim: i32, scale: f32): void {
  const d4 = headDim & ~3;
  const hdBytes = <usize>headDim << 2;
  for (let s = 0; s < n; s++) {
    const ks = k + <usize>s * stride;
    for (let h = 0; h < heads; h++) {
      const qh = q + <usize>h * hdBytes;
      const kh = ks + <usize>(h / group) * hdBytes;
      let acc = f32x4.splat(0);
      for (let d = 0; d < d4; d += 4) {
        const o = <usize>d << 2;
        acc = f32x4.add(acc, f32x4.mul(v128.load(qh + o), v128.load(kh + o)));
      }
      let dot = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
      for (let d = d4; d < headDim; d++) dot += load<f32>(qh + (<usize>d << 2)) * load<f32>(kh + (<usize>d << 2));
      store<f32>(scores + ((<usize>h * <usize>n + <usize>s) << 2), dot * scale);
    }
  }
}

/** out[h] = Σ_s p[h·n + s] · v_s,h/group for s < n. out: [heads, headDim]. */
export function attnMix(p: usize, v: usize, stride: usize, out: usize, n: i32, heads: i32, group: i32, headDim: i32): void {
  const d4 = headDim & ~3;
  const hdBytes = <usize>headDim << 2;
  memory.fill(out, 0, <usize>heads * hdBytes);
  for (let s = 0; s < n; s++) {
    const vs = v + <usize>s * stride;
    for (let h = 0; h < heads; h++) {
      const w = load<f32>(p + ((<usize>h * <usize>n + <usize>s) << 2));
      const ww = f32x4.splat(w);
      const oh = out + <usize>h * hdBytes;
      const vh = vs + <usize>(h / group) * hdBytes;
      for (let d = 0; d < d4; d += 4) {
        const o = <usize>d << 2;
        v128.store(oh + o, f32x4.add(v128.load(oh + o), f32x4.mul(ww, v128.load(vh + o))));
      }
      for (let d = d4; d < headDim; d++) {
        const o = <usize>d << 2;
        store<f32>(oh + o, load<f32>(oh + o) + w * load<f32>(vh + o));
      }
    }
  }
}
