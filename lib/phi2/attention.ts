// The KV cache and causal attention against it: softmax(q·kᵀ/√headDim)·v for each
// new position, over every position it may see.
//
// Why WebAssembly here: per new token and layer, attention reads every cached key
// and value once (2 · positions · 2560 floats in phi-2). In plain JavaScript that
// took 0.28 ms a layer at 25 positions and 2.3 ms at 200: at 200 positions, longer
// than the layer's fc2 matmul it runs beside. The two SIMD kernels
// (kernels/assembly/attention.ts) do the dot products and the weighted sum; the
// softmax between them stays here, in float64.
//
// Layout. Each cache has its own wasm memory, freed with the cache: a small scratch
// (one query, one output, the scores), then for each layer its keys [capacity, width]
// and its values [capacity, width], so that one layer's positions are one
// contiguous read (laid out position by position, the same reads took about twice as
// long in decode). Growing moves everything into a new, larger memory.

import type { PhiConfig } from "./config";
import { Arena, kernelModule, MAX_ARENA_BYTES, PAGE } from "./kernels/wasm";

/** Keys and values of every position seen so far, for every layer, in float32. */
export class KVCache {
  /** Positions filled. */
  length = 0;
  /** Positions there is room for (grows on reserve). */
  capacity = 0;
  readonly numLayers: number;
  /** Floats per layer and position for keys (and again for values): numKvHeads · headDim. */
  readonly width: number;
  private arena!: Arena;
  private q = 0; // byte addresses in the arena: one query [numHeads · headDim]
  private out = 0; // one output [numHeads · headDim]
  private scores = 0; // [numHeads, capacity]
  private base = 0; // layer 0's keys

  constructor(private readonly config: PhiConfig, capacity: number) {
    this.numLayers = config.numLayers;
    this.width = config.numKvHeads * config.headDim;
    this.reserve(Math.max(1, capacity));
  }

  /** Make room for `n` positions (at least doubling, to keep appends cheap, up to max_position_embeddings). */
  reserve(n: number): void {
    if (n <= this.capacity) return;
    const { numHeads, headDim, maxPositions } = this.config;
    const cap = Math.max(n, Math.min(2 * this.capacity, maxPositions));
    const layersBytes = 8 * this.numLayers * this.width * cap;
    const scratchBytes = 4 * (2 * numHeads * headDim + numHeads * cap) + 64;
    const total = Math.ceil((PAGE + scratchBytes + layersBytes) / PAGE) * PAGE;
    if (total > MAX_ARENA_BYTES) {
      throw new Error(`KV cache: ${cap} positions need ${total} bytes, more than one wasm memory holds (${MAX_ARENA_BYTES} bytes)`);
    }
    const old = this.capacity > 0 ? { arena: this.arena, base: this.base, capacity: this.capacity } : null;
    this.arena = new Arena(kernelModule(), { slots: 0, maxBytes: total });
    this.q = this.arena.alloc(4 * numHeads * headDim);
    this.out = this.arena.alloc(4 * numHeads * headDim);
    this.scores = this.arena.alloc(4 * numHeads * cap);
    this.base = this.arena.alloc(layersBytes);
    // Touch every page now: the OS maps memory on first write, which costs ~3.4 s/GB
    // on this VM and would otherwise land in the decode steps (655 KB of fresh rows
    // per phi-2 token). llama.cpp too clears its KV cache when it creates it.
    this.arena.u8(this.base, layersBytes).fill(0);
    this.capacity = cap;
    if (old) {
      const rowsBytes = 4 * this.width * old.capacity;
      for (let l = 0; l < 2 * this.numLayers; l++) {
        // keys then values of each layer: the first old.capacity rows of each block
        this.arena.u8(this.base + l * 4 * this.width * cap, rowsBytes).set(old.arena.u8(old.base + l * rowsBytes, rowsBytes));
      }
    }
  }

  bytes(): number {
    return 2 * this.numLayers * this.capacity * this.width * 4;
  }

  /** Address of layer `layer`'s keys (or values) at position `pos`. */
  private rowAddress(layer: number, which: "k" | "v", pos: number): number {
    return this.base + 4 * this.width * ((2 * layer + (which === "v" ? 1 : 0)) * this.capacity + pos);
  }

  /** Store keys k and values v [T, width] of layer `layer` at positions pos0 … pos0+T−1 (reserved). */
  write(layer: number, pos0: number, k: Float32Array, v: Float32Array, T: number): void {
    const n = T * this.width;
    if (pos0 + T > this.capacity) throw new Error(`KV cache: position ${pos0 + T - 1} not reserved (capacity ${this.capacity})`);
    this.arena.f32(this.rowAddress(layer, "k", pos0), n).set(k.subarray(0, n));
    this.arena.f32(this.rowAddress(layer, "v", pos0), n).set(v.subarray(0, n));
  }

  /** Keys (or values) of one layer and position, a copy [width]. */
  read(layer: number, pos: number, which: "k" | "v"): Float32Array {
    return this.arena.f32(this.rowAddress(layer, which, pos), this.width).slice();
  }

  /**
   * Causal attention of queries q [T, numHeads · headDim] at positions pos0 … pos0+T−1
   * against this layer's cache (those positions written already): position pos0 + t
   * sees positions 0 … pos0 + t. Returns the heads' outputs [T, numHeads · headDim].
   */
  attend(layer: number, q: Float32Array, pos0: number, T: number): Float32Array {
    const { numHeads, numKvHeads, headDim } = this.config;
    const qw = numHeads * headDim;
    const group = numHeads / numKvHeads; // query heads per key/value head
    const scale = 1 / Math.sqrt(headDim);
    const k = this.arena.k;
    const keys = this.rowAddress(layer, "k", 0);
    const values = this.rowAddress(layer, "v", 0);
    const out = new Float32Array(T * qw);
    for (let t = 0; t < T; t++) {
      const n = pos0 + t + 1;
      this.arena.f32(this.q, qw).set(q.subarray(t * qw, (t + 1) * qw));
      k.attnScores(this.q, keys, 4 * this.width, this.scores, n, numHeads, group, headDim, scale);
      softmaxRows(this.arena.f32(this.scores, numHeads * n), numHeads, n);
      k.attnMix(this.scores, values, 4 * this.width, this.out, n, numHeads, group, headDim);
      out.set(this.arena.f32(this.out, qw), t * qw);
    }
    return out;
  }
}

/** Softmax of each row of x [rows, n], in place (max subtracted; float64 sums). */
function softmaxRows(x: Float32Array, rows: number, n: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    let max = -Infinity;
    for (let s = 0; s < n; s++) if (x[o + s] > max) max = x[o + s];
    let sum = 0;
    for (let s = 0; s < n; s++) sum += x[o + s] = Math.exp(x[o + s] - max);
    for (let s = 0; s < n; s++) x[o + s] /= sum;
  }
}
