// What follows a product y = x·Wᵀ in phi's linear layers: the bias, then for the
// MLP's fc1 the activation gelu_new. The reference in float64 JavaScript (JsMatmul
// uses it); the WebAssembly backend applies the same in its kernel threads
// (kernels/assembly/epilogue.ts), checked against this definition in the tests.

import type { Activation } from "./matmul";

/**
 * gelu_new: GELU with the tanh approximation (GPT-2's), 0.5·v·(1 + tanh(u)) with
 * u = √(2/π)·(v + 0.044715·v³). In place. Computed as v / (1 + e^(−2u)), the same
 * function (0.5·(1 + tanh u) = 1 / (1 + e^(−2u))) in float64: faster than Math.tanh here,
 * and without tanh's cancellation in 1 + tanh(u) for very negative u.
 */
export function geluNew(x: Float32Array): Float32Array {
  const c2 = -2 * Math.sqrt(2 / Math.PI);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    x[i] = v / (1 + Math.exp(c2 * (v + 0.044715 * v * v * v)));
  }
  return x;
}

/** y [T, rows] in place: y[t, i] = act(y[t, i] + bias[i]). */
export function biasAct(y: Float32Array, T: number, bias?: Float32Array, activation?: Activation): Float32Array {
  if (bias) {
    const n = bias.length;
    for (let t = 0; t < T; t++) for (let i = 0; i < n; i++) y[t * n + i] += bias[i];
  }
  if (activation === "gelu_new") geluNew(y);
  return y;
}
