// The reference MatmulBackend: weights decoded to float32, one thread, plain loops.
// Easy to read and check; ≈1.3 GMAC/s, so phi-2 (2.65 GMAC per token) runs at
// ≈0.5 tokens/s with it and needs 11 GB for its weights (the kernels/ backend
// keeps them in fp16 and uses every core).

import * as fs from "node:fs";
import { decodeToF32, DTYPE_BYTES } from "./f16";
import { biasAct } from "./activation";
import { checkEpilogue, type Activation, type MatmulBackend, type WeightSpec } from "./matmul";
import { q8Matmul, quantizeMatrix, type Q8Matrix } from "./q8";
import { fillRandomBF16, fillRandomF16, fillRandomF32 } from "./random";

const CHUNK = 1 << 26; // read files 64 MB at a time (a single readSync is capped at 2 GB)

/** The stored bytes of a weight, whatever its source, decoded to float32 [rows * cols]. */
export function weightToF32(spec: WeightSpec): Float32Array {
  const { dtype, rows, cols, source } = spec;
  const n = rows * cols;
  const out = new Float32Array(n);
  if (source.kind === "random") {
    if (dtype === "F32") return fillRandomF32(out, source.seed, source.scale);
    // the value the dtype can hold, as the kernels see it
    const bits = dtype === "F16" ? fillRandomF16(new Uint16Array(n), source.seed, source.scale) : fillRandomBF16(new Uint16Array(n), source.seed, source.scale);
    return decodeToF32(new Uint8Array(bits.buffer), dtype, n, out);
  }
  const size = DTYPE_BYTES[dtype];
  if (source.kind === "bytes") {
    if (source.bytes.byteLength !== n * size) throw new Error(`${spec.name}: ${source.bytes.byteLength} bytes, expected ${rows}×${cols}×${size}`);
    return decodeToF32(source.bytes, dtype, n, out);
  }
  if (source.kind === "image") throw new Error(`${spec.name}: a weight image holds the wasm kernels' layout; this backend reads the model's files`);
  // "file": read by offset, a chunk of whole elements at a time
  const fd = fs.openSync(source.file, "r");
  try {
    const per = Math.floor(CHUNK / size);
    const buf = new Uint8Array(per * size);
    for (let i = 0; i < n; i += per) {
      const count = Math.min(per, n - i);
      const want = count * size;
      let got = 0;
      while (got < want) {
        const r = fs.readSync(fd, buf, got, want - got, source.offset + i * size + got);
        if (r === 0) throw new Error(`${source.file}: ended while reading weight "${spec.name}"`);
        got += r;
      }
      decodeToF32(buf.subarray(0, want), dtype, count, out.subarray(i, i + count));
    }
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

export class JsMatmul implements MatmulBackend {
  readonly name = "js f32 × 1 thread";
  readonly storedAsF32 = true;
  private weights: { m: { W: Float32Array; rows: number; cols: number } | Q8Matrix; bias?: Float32Array; activation?: Activation }[] = [];

  /** "stored" and "F32" both become float32 here (the stored values, exactly); "Q8_0" is quantized. */
  async addWeight(spec: WeightSpec): Promise<number> {
    checkEpilogue(spec);
    const W = weightToF32(spec);
    const m = spec.hold === "Q8_0" ? quantizeMatrix(W, spec.rows, spec.cols) : { W, rows: spec.rows, cols: spec.cols };
    this.weights.push({ m, bias: spec.bias?.slice(), activation: spec.activation });
    return this.weights.length - 1;
  }

  /** y[t, o] = act(Σ_i x[t, i] · W[o, i] + bias[o])   x: [T, in], W: [out, in] → y: [T, out] */
  async matmul(handle: number, x: Float32Array, T: number): Promise<Float32Array> {
    const w = this.weights[handle];
    if (!w) throw new Error(`JsMatmul: no weight with handle ${handle}`);
    if (x.length !== T * w.m.cols) throw new Error(`JsMatmul: x has ${x.length} values, expected T=${T} × ${w.m.cols}`);
    return biasAct("q" in w.m ? q8Matmul(w.m, x, T) : product(w.m, x, T), T, w.bias, w.activation);
  }

  weightBytes(): number {
    return this.weights.reduce((s, { m }) => s + ("q" in m ? m.q.byteLength + m.d.byteLength : m.W.byteLength), 0);
  }

  async close(): Promise<void> {
    this.weights = [];
  }
}

/** y[t, o] = Σ_i x[t, i] · W[o, i] */
function product(w: { W: Float32Array; rows: number; cols: number }, x: Float32Array, T: number): Float32Array {
  const { W, rows, cols } = w;
  const y = new Float32Array(T * rows);
  for (let o = 0; o < rows; o++) {
    const wo = o * cols;
    for (let t = 0; t < T; t++) {
      const xt = t * cols;
      // four partial sums: shorter dependency chains, and fewer rounding steps in a row
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      let i = 0;
      for (; i + 3 < cols; i += 4) {
        s0 += x[xt + i] * W[wo + i];
        s1 += x[xt + i + 1] * W[wo + i + 1];
        s2 += x[xt + i + 2] * W[wo + i + 2];
        s3 += x[xt + i + 3] * W[wo + i + 3];
      }
      for (; i < cols; i++) s0 += x[xt + i] * W[wo + i];
      y[t * rows + o] = s0 + s1 + s2 + s3;
    }
  }
  return y;
}
