// The one contract between phi-2's model code (model.ts) and the kernels that do its
// heavy lifting. Decoding one token multiplies the activations by every weight
// matrix once; everything else (LayerNorm, attention over the KV cache, GELU) is
// small and lives in plain TypeScript in model.ts.
//
// Two implementations:
//   - JsMatmul (matmul-js.ts): single-threaded reference, easy to read.
//   - the worker/WebAssembly backend (kernels/): weights kept in their stored
//     precision, split by output rows across worker threads, each with its own
//     wasm memory (a wasm32 memory holds at most 4 GiB).

export type WeightDtype = "F16" | "BF16" | "F32";

/** Where a weight matrix's bytes come from. Row-major [rows = out, cols = in]. */
export type WeightSource =
  /** Bytes already in memory (little-endian, `dtype`). */
  | { kind: "bytes"; bytes: Uint8Array }
  /** A byte range of a file (a tensor inside a .safetensors shard): `offset` is absolute. */
  | { kind: "file"; file: string; offset: number }
  /** Deterministic pseudo-random values (benchmarks with phi-2's shapes, no download). */
  | { kind: "random"; seed: number; scale: number };

export interface WeightSpec {
  name: string;
  dtype: WeightDtype;
  rows: number; // out features
  cols: number; // in features
  source: WeightSource;
}

export interface MatmulBackend {
  /** A short description for logs: "js f32", "wasm-simd f16 × 2 threads". */
  readonly name: string;
  /** Load a weight matrix; returns a handle for matmul. */
  addWeight(spec: WeightSpec): Promise<number>;
  /**
   * y = x · Wᵀ for a registered weight W [out, in].
   * x: [T, in] row-major float32; returns [T, out] float32 (bias is the caller's job).
   */
  matmul(handle: number, x: Float32Array, T: number): Promise<Float32Array>;
  /** Bytes of weight storage held (for memory reports). */
  weightBytes(): number;
  /** Release threads and memory. */
  close(): Promise<void>;
}
