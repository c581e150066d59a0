// The one contract between phi-2's model code (model.ts) and the kernels that do its
// heavy lifting. Decoding one token multiplies the activations by every weight
// matrix once. What follows a product (its bias, and GELU after fc1) is the
// backend's too, so that it runs where the product ran (activation.ts); everything
// else (LayerNorm, attention over the KV cache) is small and lives in model.ts.
//
// Two implementations:
//   - JsMatmul (matmul-js.ts): single-threaded reference, easy to read.
//   - the WebAssembly backend (kernels/): weights kept in their stored precision
//     (or int8) in shared wasm memories (a wasm32 memory holds at most 4 GiB),
//     split by output rows across one compute thread per core (workers and the
//     main thread). Its calls may start before they are awaited (see model.ts).

import type { WeightImage } from "./kernels/image";

export type WeightDtype = "F16" | "BF16" | "F32";

/**
 * How a backend holds a matrix in memory (and so how many bytes each token reads):
 *   "stored"  as the source has it (phi-2: fp16, 2 bytes a weight)
 *   "F32"     decoded to float32 at load (4 bytes)
 *   "Q8_0"    quantized at load, GGUF Q8_0 style: blocks of 32 int8 with one scale
 *             rounded to fp16 (1.125 bytes; the activations are quantized the same
 *             way per call, and each block's dot product is exact integer math).
 */
export type HoldDtype = "stored" | "F32" | "Q8_0";

/** Weights per Q8_0 block (a matrix's columns must be a multiple of it). */
export const Q8_BLOCK = 32;

/** Where a weight matrix's bytes come from. Row-major [rows = out, cols = in]. */
export type WeightSource =
  /** Bytes already in memory (little-endian, `dtype`). */
  | { kind: "bytes"; bytes: Uint8Array }
  /** A byte range of a file (a tensor inside a .safetensors shard): `offset` is absolute. */
  | { kind: "file"; file: string; offset: number }
  /** Deterministic pseudo-random values (benchmarks with phi-2's shapes, no download). */
  | { kind: "random"; seed: number; scale: number }
  /** Entry `index` of a weight image, already in the held form (the wasm backend's: kernels/image.ts). */
  | { kind: "image"; image: WeightImage; index: number };

/** What a product passes through after the bias: phi's MLP uses gelu_new (activation.ts). */
export type Activation = "gelu_new";

export interface WeightSpec {
  name: string;
  dtype: WeightDtype;
  rows: number; // out features
  cols: number; // in features
  source: WeightSource;
  /** How to hold it (default "stored"). */
  hold?: HoldDtype;
  /** [rows] added to every product (a linear layer's bias); none if absent. */
  bias?: Float32Array;
  /** Applied after the bias; the identity if absent. */
  activation?: Activation;
}

/** The checks every backend makes of a spec's bias and activation (the error names the weight). */
export function checkEpilogue(spec: WeightSpec): void {
  if (spec.bias !== undefined && spec.bias.length !== spec.rows) throw new Error(`${spec.name}: bias has ${spec.bias.length} values, the weight has ${spec.rows} rows`);
  if (spec.activation !== undefined && spec.activation !== "gelu_new") throw new Error(`${spec.name}: activation ${String(spec.activation)} not supported (gelu_new only)`);
}

/** y_i = act_i(x_i · W_iᵀ + bias_i) for each call: backend.matmulMany if it has one, else one call after another. */
export async function matmulMany(backend: MatmulBackend, calls: readonly { handle: number; x: Float32Array }[], T: number): Promise<Float32Array[]> {
  if (backend.matmulMany) return backend.matmulMany(calls, T);
  const out: Float32Array[] = [];
  for (const c of calls) out.push(await backend.matmul(c.handle, c.x, T));
  return out;
}

export interface MatmulBackend {
  /** A short description for logs: "js f32", "wasm-simd f16 × 2 threads". */
  readonly name: string;
  /** Load a weight matrix; returns a handle for matmul. */
  addWeight(spec: WeightSpec): Promise<number>;
  /**
   * y = act(x · Wᵀ + bias) for a registered weight W [out, in], with the bias and
   * activation of its spec (each optional).
   * x: [T, in] row-major float32; returns [T, out] float32.
   */
  matmul(handle: number, x: Float32Array, T: number): Promise<Float32Array>;
  /**
   * Several products with the same T in one go (one wake-up of the workers, whose
   * work items span all of them, so no core idles between them). Optional.
   */
  matmulMany?(calls: readonly { handle: number; x: Float32Array }[], T: number): Promise<Float32Array[]>;
  /** True when a matrix held "stored" takes float32 here, 4 bytes a value whatever the file's dtype (JsMatmul); the memory estimate counts on it. */
  readonly storedAsF32?: boolean;
  /** How the backend's fresh weight memory gets mapped, for logs (the wasm backend, kernels/prefault.ts). Optional. */
  readonly memoryNote?: string;
  /**
   * Weight images (the wasm backend's, kernels/image.ts): every weight as held, saved to
   * a file after one load and mapped at the next. openImage returns the image at
   * `file` if it is one of this backend's made from `key`, else why not (a missing
   * file, a stale one); it throws for a file that is not an image or is damaged.
   */
  openImage?(file: string, key: string): WeightImage | string;
  saveImage?(file: string, key: string, onProgress?: (done: number, total: number) => void): Promise<void>;
  /** How the weights from an image got into memory, for logs ("" before any did). */
  readonly imageNote?: string;
  /** Bytes of weight storage held (for memory reports). */
  weightBytes(): number;
  /** Release threads and memory. */
  close(): Promise<void>;
}
