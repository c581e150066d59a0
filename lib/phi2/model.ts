// phi-2's decoder, top to bottom: "a big model is just a huge function".
//
//   x = embed[ids]                                  [T, hidden]
//   for each of the numLayers layers:
//     h = LayerNorm(x)                              one norm feeds both branches
//     x = x + Attention(h) + MLP(h)                 attention and MLP in parallel
//   logits = lm_head(LayerNorm(x))                  [T, vocab]
//
// Attention: q, k, v = h·Wqᵀ+bq, h·Wkᵀ+bk, h·Wvᵀ+bv; rotary position embedding on the
// first rotaryDim dims of each head (32 of phi-2's 80); causal softmax(q·kᵀ/√headDim)·v;
// then `dense`. MLP: fc2(gelu_new(fc1(h))). Keys and values of past positions are
// kept in a KV cache (attention.ts), so decoding one new token needs only that token's row.
//
// Every weight matrix product goes through a MatmulBackend (matmul.ts), which also
// adds its bias and, after fc1, applies gelu_new; the LayerNorm parameters live
// here in float32. The embedding table
// (51200×2560: 262 MB in fp16) stays in its stored dtype and only the rows of the
// tokens at hand are decoded. Names follow transformers' PhiForCausalLM, whose
// tensors we read: model.layers.{i}.self_attn.q_proj.weight etc.

import { KVCache } from "./attention";
import { matrixWeightsOf, type PhiConfig } from "./config";
import { decodeToF32, DTYPE_BYTES } from "./f16";
import { matmulMany, type Activation, type HoldDtype, type MatmulBackend, type WeightDtype, type WeightSource } from "./matmul";
import type { WeightImage } from "./kernels/image";
import { fillRandomF32 } from "./random";
import type { SafetensorsModel } from "./safetensors";

/** A linear layer y = x·Wᵀ + b (then GELU for fc1): W [out, in] and b [out] held by the backend. */
interface Linear {
  handle: number;
  rows: number; // out
  cols: number; // in
}

interface Norm {
  weight: Float32Array; // [hidden]
  bias: Float32Array; // [hidden]
}

interface Layer {
  norm: Norm; // input_layernorm
  q: Linear; // [hidden, hidden]  (rows = numHeads·headDim)
  k: Linear; // [numKvHeads·headDim, hidden]
  v: Linear; // [numKvHeads·headDim, hidden]
  dense: Linear; // [hidden, hidden]
  fc1: Linear; // [intermediate, hidden]
  fc2: Linear; // [hidden, intermediate]
}

/** The embedding table [vocab, hidden], kept in its stored dtype. */
export interface Embedding {
  dtype: WeightDtype;
  rows: number;
  cols: number;
  /** Decode row `id` into `out` [cols]. */
  row(id: number, out: Float32Array): void;
  bytes: number;
}

function storedEmbedding(bytes: Uint8Array, dtype: WeightDtype, rows: number, cols: number): Embedding {
  const rowBytes = cols * DTYPE_BYTES[dtype];
  return {
    dtype, rows, cols, bytes: bytes.byteLength,
    row: (id, out) => void decodeToF32(bytes.subarray(id * rowBytes, (id + 1) * rowBytes), dtype, cols, out),
  };
}

/** Random embedding: row `id` is computed on demand (same generator as the weights). */
function randomEmbedding(seed: number, scale: number, rows: number, cols: number): Embedding {
  return { dtype: "F32", rows, cols, bytes: 0, row: (id, out) => void fillRandomF32(out, seed, scale, id * cols) };
}

/** Optional looks inside a forward pass (for checking against transformers' hooks). */
export interface ForwardHooks {
  /** i = 0: token embeddings; i ≥ 1: residual stream after layer i-1.  x: [T, hidden] */
  onResidual?(i: number, x: Float32Array): void;
  /** After the final LayerNorm, before lm_head. [T, hidden] */
  onFinalNorm?(x: Float32Array): void;
}

// ---------------------------------------------------------------- small math

/** LayerNorm over each row of x [T, n], eps as in the config. */
export function layerNorm(x: Float32Array, T: number, n: number, norm: Norm, eps: number): Float32Array {
  const y = new Float32Array(T * n);
  for (let t = 0; t < T; t++) {
    const o = t * n;
    let mean = 0;
    for (let i = 0; i < n; i++) mean += x[o + i];
    mean /= n;
    let variance = 0; // biased, as torch
    for (let i = 0; i < n; i++) variance += (x[o + i] - mean) ** 2;
    variance /= n;
    const inv = 1 / Math.sqrt(variance + eps);
    for (let i = 0; i < n; i++) y[o + i] = (x[o + i] - mean) * inv * norm.weight[i] + norm.bias[i];
  }
  return y;
}

/**
 * Rotary position embedding, "rotate half" style (transformers' Phi), in place on
 * x [T, heads, headDim] for positions pos0 … pos0+T-1, touching only the first
 * rotaryDim dims of each head. With half = rotaryDim/2 and f_j = pos · θ^(-2j/rotaryDim):
 *   x'[j]      = x[j]·cos f_j − x[j+half]·sin f_j
 *   x'[j+half] = x[j+half]·cos f_j + x[j]·sin f_j
 */
export function applyRotary(x: Float32Array, T: number, heads: number, headDim: number, rotaryDim: number, pos0: number, theta: number): void {
  const half = rotaryDim / 2;
  const fr = Math.fround; // the frequencies in float32, as torch computes them
  for (let t = 0; t < T; t++) {
    const pos = pos0 + t;
    for (let j = 0; j < half; j++) {
      const invFreq = fr(1 / fr(theta ** fr((2 * j) / rotaryDim)));
      const f = fr(pos * invFreq);
      const cos = Math.cos(f), sin = Math.sin(f);
      for (let h = 0; h < heads; h++) {
        const o = (t * heads + h) * headDim;
        const a = x[o + j], b = x[o + j + half];
        x[o + j] = a * cos - b * sin;
        x[o + j + half] = b * cos + a * sin;
      }
    }
  }
}

// ---------------------------------------------------------------- the model

/** How PhiModel.load / random place the matrices. */
export interface WeightOptions {
  /** How the backend holds them: "stored" (default: as in the files), "F32", "Q8_0" (int8, quantized at load). */
  hold?: HoldDtype;
  /** Called after each matrix with the weights placed so far and the total (for a progress bar). */
  onProgress?(done: number, total: number): void;
  /**
   * A weight image of this model (kernels/image.ts, opened by load.ts's withImage): the
   * matrices come from it, in the order buildLayers adds them, instead of the files.
   */
  image?: WeightImage;
}

/** Where matrix number i comes from: the image's entry i if there is an image, else `otherwise`. */
function sourceOf(opts: WeightOptions, i: number, otherwise: WeightSource): WeightSource {
  return opts.image ? { kind: "image", image: opts.image, index: i } : otherwise;
}

/**
 * phi's decoder layers, final LayerNorm and lm_head, in transformers' names and in
 * one fixed order (random weights take their seeds in it): PhiModel.load reads each
 * from the files, PhiModel.random generates it. onProgress: after each matrix, the
 * weights placed so far and the total.
 */
async function buildLayers(
  config: PhiConfig,
  place: (prefix: string, rows: number, cols: number, activation?: Activation) => Promise<Linear>,
  norm: (prefix: string) => Norm,
  onProgress?: (done: number, total: number) => void,
): Promise<{ layers: Layer[]; finalNorm: Norm; lmHead: Linear }> {
  const total = matrixWeightsOf(config);
  let done = 0;
  const linear = async (prefix: string, rows: number, cols: number, activation?: Activation): Promise<Linear> => {
    const l = await place(prefix, rows, cols, activation);
    done += rows * cols;
    onProgress?.(done, total);
    return l;
  };
  const { hidden, intermediate, vocabSize } = config;
  const kvWidth = config.numKvHeads * config.headDim;
  const layers: Layer[] = [];
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}`;
    layers.push({
      norm: norm(`${p}.input_layernorm`),
      q: await linear(`${p}.self_attn.q_proj`, hidden, hidden),
      k: await linear(`${p}.self_attn.k_proj`, kvWidth, hidden),
      v: await linear(`${p}.self_attn.v_proj`, kvWidth, hidden),
      dense: await linear(`${p}.self_attn.dense`, hidden, hidden),
      fc1: await linear(`${p}.mlp.fc1`, intermediate, hidden, "gelu_new"), // the MLP's activation with it
      fc2: await linear(`${p}.mlp.fc2`, hidden, intermediate),
    });
  }
  const finalNorm = norm("model.final_layernorm");
  const lmHead = await linear("lm_head", vocabSize, hidden);
  return { layers, finalNorm, lmHead };
}

export class PhiModel {
  private constructor(
    readonly config: PhiConfig,
    readonly backend: MatmulBackend,
    readonly embedding: Embedding,
    private readonly layers: Layer[],
    private readonly finalNorm: Norm,
    private readonly lmHead: Linear,
  ) {}

  /** Weights from safetensors (names as transformers' PhiForCausalLM). */
  static async load(st: SafetensorsModel, config: PhiConfig, backend: MatmulBackend, opts: WeightOptions = {}): Promise<PhiModel> {
    const { hold = "stored" } = opts;
    const { hidden, vocabSize } = config;
    const check = (name: string, shape: number[]) => {
      const t = st.info(name);
      if (t.shape.join(",") !== shape.join(",")) throw new Error(`${t.file}: tensor "${name}" has shape [${t.shape}], config.json implies [${shape}]`);
      return t;
    };
    const vec = (name: string, n: number) => (check(name, [n]), st.readF32(name));
    let placed = 0;
    const linear = async (prefix: string, rows: number, cols: number, activation?: Activation): Promise<Linear> => {
      const t = check(`${prefix}.weight`, [rows, cols]);
      if (t.dtype !== "F16" && t.dtype !== "BF16" && t.dtype !== "F32") throw new Error(`${t.file}: tensor "${t.name}" has dtype ${t.dtype}`);
      const source = sourceOf(opts, placed++, { kind: "file", file: t.file, offset: t.offset });
      const bias = vec(`${prefix}.bias`, rows);
      const handle = await backend.addWeight({ name: t.name, dtype: t.dtype, rows, cols, source, hold, bias, activation });
      return { handle, rows, cols };
    };
    const norm = (prefix: string): Norm => ({ weight: vec(`${prefix}.weight`, hidden), bias: vec(`${prefix}.bias`, hidden) });

    const e = check("model.embed_tokens.weight", [vocabSize, hidden]);
    if (e.dtype !== "F16" && e.dtype !== "BF16" && e.dtype !== "F32") throw new Error(`${e.file}: embedding dtype ${e.dtype}`);
    // the embedding table (phi-2: 262 MB) is read on libuv's thread pool while this thread
    // fills its share of the layers (it would otherwise read it while the workers wait)
    const embeddingBytes = st.readBytesAsync(e.name);
    let built: Awaited<ReturnType<typeof buildLayers>>;
    try {
      built = await buildLayers(config, linear, norm, opts.onProgress);
    } catch (err) {
      await embeddingBytes.catch(() => undefined); // the caller closes the files: not while the read runs
      throw err;
    }
    const embedding = storedEmbedding(await embeddingBytes, e.dtype, vocabSize, hidden);
    return new PhiModel(config, backend, embedding, built.layers, built.finalNorm, built.lmHead);
  }

  /**
   * phi's shapes with deterministic random weights (random.ts), for benchmarks
   * without the download. Matrices uniform in ±1/√in (so activations stay O(1)),
   * LayerNorm weight 1 and bias 0, other biases 0.
   */
  static async random(config: PhiConfig, backend: MatmulBackend, dtype: WeightDtype = "F16", seed = 1, opts: WeightOptions = {}): Promise<PhiModel> {
    const { hold = "stored" } = opts;
    const { hidden, vocabSize } = config;
    let next = seed;
    let placed = 0;
    const linear = async (prefix: string, rows: number, cols: number, activation?: Activation): Promise<Linear> => {
      const source = sourceOf(opts, placed++, { kind: "random", seed: next++, scale: 1 / Math.sqrt(cols) });
      // zero biases, still added: the same work per token as a real model's
      const handle = await backend.addWeight({ name: `${prefix}.weight`, dtype, rows, cols, source, hold, bias: new Float32Array(rows), activation });
      return { handle, rows, cols };
    };
    const norm = (): Norm => ({ weight: new Float32Array(hidden).fill(1), bias: new Float32Array(hidden) });
    const embedding = randomEmbedding(next++, 1, vocabSize, hidden); // (seed first: the weights' seeds follow in buildLayers' order)
    const { layers, finalNorm, lmHead } = await buildLayers(config, linear, norm, opts.onProgress);
    return new PhiModel(config, backend, embedding, layers, finalNorm, lmHead);
  }

  /** An empty KV cache with room for `capacity` positions (it grows if needed). */
  newCache(capacity = 64): KVCache {
    return new KVCache(this.config, capacity);
  }

  private linear(l: Linear, x: Float32Array, T: number): Promise<Float32Array> {
    return this.backend.matmul(l.handle, x, T); // [T, rows]
  }

  /** Several linear layers in one backend call (one wake-up of the kernel threads). */
  private linears(ls: readonly { l: Linear; x: Float32Array }[], T: number): Promise<Float32Array[]> {
    return matmulMany(this.backend, ls.map(({ l, x }) => ({ handle: l.handle, x })), T);
  }

  /**
   * Causal self-attention of T new positions against the cache (which they are
   * appended to), from their q, k, v [T, heads·headDim]; returns the heads' outputs
   * [T, numHeads·headDim] before `dense`.
   */
  private attention(li: number, q: Float32Array, k: Float32Array, v: Float32Array, T: number, cache: KVCache): Float32Array {
    const { numHeads, numKvHeads, headDim, rotaryDim, ropeTheta } = this.config;
    const pos0 = cache.length;
    applyRotary(q, T, numHeads, headDim, rotaryDim, pos0, ropeTheta);
    applyRotary(k, T, numKvHeads, headDim, rotaryDim, pos0, ropeTheta);
    cache.write(li, pos0, k, v, T);
    return cache.attend(li, q, pos0, T);
  }

  /**
   * Run `ids` (the next T tokens after those already in `cache`) through the model,
   * appending them to the cache. Returns logits [T, vocab] for every position when
   * allLogits, else [1, vocab] for the last one (all generation needs).
   */
  async forward(ids: readonly number[], cache: KVCache, opts: { allLogits?: boolean; hooks?: ForwardHooks } = {}): Promise<Float32Array> {
    const T = ids.length;
    if (T === 0) throw new Error("forward: no tokens");
    const x = await this.layersOn(ids, [{ cache, t0: 0, T }], opts.hooks);
    // final LayerNorm and lm_head only on the rows wanted: generation needs just the last one
    const { hidden, layerNormEps: eps } = this.config;
    const normRows = opts.allLogits || opts.hooks?.onFinalNorm ? T : 1;
    const normed = layerNorm(x.subarray((T - normRows) * hidden), normRows, hidden, this.finalNorm, eps); // [normRows, hidden]
    opts.hooks?.onFinalNorm?.(normed);
    const rowsOut = opts.allLogits ? T : 1;
    return this.linear(this.lmHead, normed.slice((normRows - rowsOut) * hidden), rowsOut); // [rowsOut, vocab]
  }

  /**
   * Batch decoding: one new token for each of B sequences (ids[b] after caches[b]'s
   * positions), in one pass over the weights — every matrix multiplies all B rows at
   * once, so each weight byte is read once per step, not B times. Returns logits [B, vocab].
   */
  async forwardBatch(ids: readonly number[], caches: readonly KVCache[]): Promise<Float32Array> {
    const B = ids.length;
    if (B === 0 || caches.length !== B) throw new Error(`forwardBatch: ${B} ids for ${caches.length} caches`);
    if (new Set(caches).size !== B) throw new Error("forwardBatch: each sequence needs its own cache");
    const x = await this.layersOn(ids, caches.map((cache, b) => ({ cache, t0: b, T: 1 })));
    const { hidden, layerNormEps: eps } = this.config;
    return this.linear(this.lmHead, layerNorm(x, B, hidden, this.finalNorm, eps), B); // [B, vocab]
  }

  /**
   * The decoder layers on the rows of `ids` ([rows, hidden] after the embedding).
   * Rows [t0, t0 + T) of each segment are the next T positions of its cache: the
   * matrices see all rows at once, attention each segment against its own cache.
   */
  private async layersOn(ids: readonly number[], segments: readonly { cache: KVCache; t0: number; T: number }[], hooks?: ForwardHooks): Promise<Float32Array> {
    const { hidden, vocabSize, numHeads, numKvHeads, headDim, layerNormEps: eps } = this.config;
    const rows = ids.length;
    for (const { cache, T } of segments) {
      if (cache.length + T > this.config.maxPositions) throw new Error(`forward: ${cache.length + T} positions exceed max_position_embeddings ${this.config.maxPositions}`);
      cache.reserve(cache.length + T);
    }
    let x = new Float32Array(rows * hidden); // [rows, hidden]
    ids.forEach((id, t) => {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new Error(`forward: token id ${id} outside the embedding's ${vocabSize} rows`);
      this.embedding.row(id, x.subarray(t * hidden, (t + 1) * hidden));
    });
    hooks?.onResidual?.(0, x);

    const qw = numHeads * headDim, kw = numKvHeads * headDim;
    for (let li = 0; li < this.layers.length; li++) {
      const layer = this.layers[li];
      const h = layerNorm(x, rows, hidden, layer.norm, eps); // [rows, hidden]
      // everything that reads h in one backend call, then everything that ends in the residual stream
      const [q, k, v, f] = await this.linears([layer.q, layer.k, layer.v, layer.fc1].map((l) => ({ l, x: h })), rows); // f = gelu(fc1(h)): [rows, intermediate]
      // attention and the MLP are parallel branches in phi: fc2 starts on the kernel
      // threads now (a backend may begin a call before it is awaited) while this
      // thread computes attention, then joins them
      const mlp = this.linears([{ l: layer.fc2, x: f }], rows); // [rows, hidden]
      mlp.catch(() => undefined); // (awaited below; this only keeps an early throw from leaving it unhandled)
      const heads = new Float32Array(rows * qw); // [rows, hidden]
      for (const { cache, t0, T } of segments) {
        const part = (a: Float32Array, w: number) => a.subarray(t0 * w, (t0 + T) * w);
        heads.set(this.attention(li, part(q, qw), part(k, kw), part(v, kw), T, cache), t0 * qw);
      }
      const [m] = await mlp;
      const a = await this.linear(layer.dense, heads, rows); // [rows, hidden]
      const next = new Float32Array(rows * hidden);
      for (let i = 0; i < next.length; i++) next[i] = a[i] + m[i] + x[i]; // the order transformers adds them
      x = next;
      hooks?.onResidual?.(li + 1, x);
    }
    for (const s of segments) s.cache.length += s.T;
    return x;
  }

  /** Parameters: matrices + biases + norms + embedding (counted from the shapes). */
  numParams(): number {
    const lin = (l: Linear) => l.rows * l.cols + l.rows;
    const { hidden } = this.config;
    let n = this.embedding.rows * this.embedding.cols + lin(this.lmHead) + 2 * hidden;
    for (const l of this.layers) n += 2 * hidden + lin(l.q) + lin(l.k) + lin(l.v) + lin(l.dense) + lin(l.fc1) + lin(l.fc2);
    return n;
  }

  /** Bytes of weights this model holds: the backend's matrices + the stored embedding. */
  weightBytes(): number {
    return this.backend.weightBytes() + this.embedding.bytes;
  }

  async close(): Promise<void> {
    await this.backend.close();
  }
}
