// The KV cache's attention (wasm SIMD dot products and weighted sums, softmax in
// between) against the definition written out plainly in float64 here:
// out_t,h = Σ_s softmax_s(q_t,h · k_s,h/group / √headDim) · v_s,h/group, s ≤ pos0 + t.
import { describe, expect, test } from "vitest";
import { KVCache } from "../lib/phi2/attention";
import type { PhiConfig } from "../lib/phi2/config";
import { fillRandomF32 } from "../lib/phi2/random";

function config(numHeads: number, numKvHeads: number, headDim: number, numLayers = 3, maxPositions = 64): PhiConfig {
  return {
    vocabSize: 16, hidden: numHeads * headDim, intermediate: 4 * numHeads * headDim, numLayers, numHeads, numKvHeads, headDim,
    rotaryDim: 2, ropeTheta: 10000, layerNormEps: 1e-5, maxPositions, bosTokenId: 0, eosTokenId: 0, dtype: "float16",
  };
}

const random = (n: number, seed: number) => {
  const a = new Float32Array(n);
  fillRandomF32(a, seed, 1, 0);
  return a;
};

/** The definition, in float64: keys and values [positions, numKvHeads·headDim] of one layer. */
function reference(c: PhiConfig, q: Float32Array, keys: Float32Array[], values: Float32Array[], pos0: number, T: number): Float64Array {
  const { numHeads, numKvHeads, headDim } = c;
  const group = numHeads / numKvHeads;
  const out = new Float64Array(T * numHeads * headDim);
  for (let t = 0; t < T; t++) {
    const n = pos0 + t + 1;
    for (let h = 0; h < numHeads; h++) {
      const kv = Math.floor(h / group) * headDim;
      const qh = q.subarray((t * numHeads + h) * headDim, (t * numHeads + h + 1) * headDim);
      const scores = keys.slice(0, n).map((k) => qh.reduce((s, x, d) => s + x * k[kv + d], 0) / Math.sqrt(headDim));
      const max = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - max));
      const sum = e.reduce((a, b) => a + b, 0);
      for (let d = 0; d < headDim; d++) {
        out[(t * numHeads + h) * headDim + d] = e.reduce((s, p, i) => s + (p / sum) * values[i][kv + d], 0);
      }
    }
  }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

describe("KVCache.attend against the definition", () => {
  // [numHeads, numKvHeads, headDim]: phi-2's head size, grouped queries, a head size that is not a multiple of 4
  for (const [numHeads, numKvHeads, headDim] of [[4, 4, 80], [4, 2, 16], [6, 3, 6], [2, 1, 5]]) {
    test(`${numHeads} heads, ${numKvHeads} key/value heads, headDim ${headDim}: prompt of 5, then 9 single positions`, () => {
      const c = config(numHeads, numKvHeads, headDim);
      const width = numKvHeads * headDim, qw = numHeads * headDim;
      const cache = new KVCache(c, 2); // small on purpose: it has to grow, keeping what it holds
      const layer = 1;
      const keys: Float32Array[] = [], values: Float32Array[] = [];
      let seed = 1;
      for (const T of [5, 1, 1, 1, 1, 1, 1, 1, 1, 1]) {
        const pos0 = cache.length;
        const q = random(T * qw, seed++), k = random(T * width, seed++), v = random(T * width, seed++);
        for (let t = 0; t < T; t++) {
          keys.push(k.slice(t * width, (t + 1) * width));
          values.push(v.slice(t * width, (t + 1) * width));
        }
        cache.reserve(pos0 + T);
        for (let l = 0; l < c.numLayers; l++) {
          // the other layers get other rows: attend must read only its own layer
          if (l === layer) cache.write(l, pos0, k, v, T);
          else cache.write(l, pos0, random(T * width, 1000 + l), random(T * width, 2000 + l), T);
        }
        const out = cache.attend(layer, q, pos0, T);
        expect(maxAbsDiff(out, reference(c, q, keys, values, pos0, T)), `positions ${pos0}…${pos0 + T - 1}`).toBeLessThan(1e-5);
        cache.length += T;
      }
      expect(cache.capacity).toBeGreaterThanOrEqual(14);
      for (const s of [0, 4, 13]) {
        expect(cache.read(layer, s, "k")).toEqual(keys[s]);
        expect(cache.read(layer, s, "v")).toEqual(values[s]);
      }
    });
  }

  test("a position one past the reserved ones is refused, naming the capacity", () => {
    const cache = new KVCache(config(2, 2, 8), 4);
    const row = new Float32Array(16);
    expect(() => cache.write(0, 4, row, row, 1)).toThrow(/position 4 not reserved \(capacity 4\)/);
  });

  test("a cache larger than one wasm memory (4 GiB) is refused, naming the positions and the limit", () => {
    // 64 layers × 2 × 16384 floats × 4 bytes = 8 MiB a position: 600 positions are 5 GB
    expect(() => new KVCache(config(64, 64, 256, 64, 2048), 600)).toThrow(/KV cache: 600 positions need \d+ bytes, more than one wasm memory holds \(4294901760 bytes\)/);
  });

  test("the cache grows to max_position_embeddings and no further than asked", () => {
    const c = config(2, 2, 8, 2, 40);
    const cache = new KVCache(c, 16);
    cache.reserve(17);
    expect(cache.capacity).toBe(32); // doubled
    cache.reserve(33);
    expect(cache.capacity).toBe(40); // doubling would pass the config's limit
    expect(cache.bytes()).toBe(2 * 2 * 40 * 16 * 4);
  });
});
