// Deterministic pseudo-random weights, for benchmarks with phi-2's exact shapes
// without downloading it. Both matmul backends (matmul-js.ts and kernels/) use
// THIS definition, so a random model computes the same numbers on either.
//
// Definition (a WeightSource {kind: "random", seed, scale} of shape [rows, cols]):
//   element i of the row-major matrix (i = r * cols + c, counting from 0) is
//   (2 * u_i - 1) * scale, where u_i is the (i+1)-th output of mulberry32(seed);
//   for F16/BF16 weights that float32 value is then rounded to the dtype.
//
// mulberry32 (lib/random.ts) can jump straight to its i-th output, so a worker
// that holds rows [r0, r1) starts at i = r0 * cols.

import { floatToHalf } from "./f16";

import { STEP, mix, mulberry32, mulberry32At } from "../random";

export { mulberry32, mulberry32At };

/** Random weight element `index` as float32 value: (2u - 1) * scale. */
export function randomWeight(seed: number, scale: number, index: number): number {
  return (2 * mulberry32At(seed, index) - 1) * scale;
}

/**
 * Fill `out` with elements [start, start + out.length) of the random matrix.
 * (start = r0 * cols for a slice of rows starting at row r0.)
 */
export function fillRandomF32(out: Float32Array, seed: number, scale: number, start = 0): Float32Array {
  let a = (seed + Math.imul(start >>> 0, STEP)) | 0;
  for (let i = 0; i < out.length; i++) {
    a = (a + STEP) | 0;
    out[i] = (2 * mix(a) - 1) * scale;
  }
  return out;
}

/** Same values as fillRandomF32, rounded to float16 bits (round to nearest even). */
export function fillRandomF16(out: Uint16Array, seed: number, scale: number, start = 0): Uint16Array {
  let a = (seed + Math.imul(start >>> 0, STEP)) | 0;
  const tmp = new Float32Array(1); // round the value to float32 first, as fillRandomF32 stores it
  for (let i = 0; i < out.length; i++) {
    a = (a + STEP) | 0;
    tmp[0] = (2 * mix(a) - 1) * scale;
    out[i] = floatToHalf(tmp[0]);
  }
  return out;
}

/** Same values, rounded to bfloat16 bits (round to nearest even). */
export function fillRandomBF16(out: Uint16Array, seed: number, scale: number, start = 0): Uint16Array {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  let a = (seed + Math.imul(start >>> 0, STEP)) | 0;
  for (let i = 0; i < out.length; i++) {
    a = (a + STEP) | 0;
    f[0] = (2 * mix(a) - 1) * scale;
    const bits = u[0];
    out[i] = (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
  }
  return out;
}
