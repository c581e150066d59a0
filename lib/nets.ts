// Networks, twice: once in the lecture's matrix form with explicit number[][] (to
// see what y = b + cᵀσ(b + W·x) computes), once as TensorFlow.js models (to train).
// A test checks both give the same y for the same weights.
import * as tf from "@tensorflow/tfjs";
import { backendReady } from "./backend";
import { mulberry32 } from "./random";
import { relu, sigmoid } from "./sigmoid";

/** The course's seeded generator (lib/random), re-exported for the tests and notebooks. */
export { mulberry32 };

export type Activation = "relu" | "sigmoid";

const act = (a: Activation): ((x: number) => number) => (a === "relu" ? relu : sigmoid);

// ---------------------------------------------------------------- matrix form

/** One dense layer: W [outputs, inputs], b [outputs]. */
export interface MatrixLayer {
  W: number[][];
  b: number[];
}

/**
 * A network as explicit matrices: hidden layers with an activation, then a linear
 * output layer. One hidden layer is the lecture's y = b + cᵀσ(b + W·x), where the
 * output layer's W is the row cᵀ and its b the scalar b.
 */
export interface MatrixNet {
  layers: MatrixLayer[]; // hidden..., output
  activation: Activation;
}

/** W·x + b for one layer. */
export function affine(layer: MatrixLayer, x: number[]): number[] {
  return layer.W.map((row, i) => {
    if (row.length !== x.length) throw new Error(`affine: W has ${row.length} columns but x has ${x.length} values`);
    let s = layer.b[i];
    for (let j = 0; j < x.length; j++) s += row[j] * x[j];
    return s;
  });
}

/** y for one input x [inputs]: r = b + W·x, a = σ(r) per hidden layer, then the linear output. */
export function matrixForward(net: MatrixNet, x: number[]): number[] {
  const sigma = act(net.activation);
  let a = x;
  net.layers.forEach((layer, l) => {
    const r = affine(layer, a); // [outputs of layer l]
    a = l < net.layers.length - 1 ? r.map(sigma) : r;
  });
  return a;
}

/** The lecture's names for a one-hidden-layer net: y = b + cᵀσ(bVec + W·x). */
export function lectureForm(net: MatrixNet): { W: number[][]; bVec: number[]; c: number[]; b: number } {
  if (net.layers.length !== 2 || net.layers[1].W.length !== 1)
    throw new Error("lectureForm: the lecture's form has one hidden layer and one output");
  return { W: net.layers[0].W, bVec: net.layers[0].b, c: net.layers[1].W[0], b: net.layers[1].b[0] };
}

/** θ: every number in the matrices, counted from their shapes. */
export function matrixParameterCount(net: MatrixNet): number {
  return net.layers.reduce((s, l) => s + l.W.length * (l.W[0]?.length ?? 0) + l.b.length, 0);
}

/** A matrix net with weights from a seeded uniform(−scale, scale), for drawing and tests. */
export function randomMatrixNet(sizes: number[], activation: Activation, seed: number, scale = 1): MatrixNet {
  const rand = mulberry32(seed);
  const u = (): number => (2 * rand() - 1) * scale;
  const layers = sizes.slice(1).map((out, l) => ({
    W: Array.from({ length: out }, () => Array.from({ length: sizes[l] }, u)),
    b: Array.from({ length: out }, u),
  }));
  return { layers, activation };
}

// ---------------------------------------------------------------- counting parameters

export interface LayerCount {
  layer: string; // "hidden 1", "output"
  inputs: number;
  outputs: number;
  weights: number; // inputs × outputs
  biases: number; // outputs
  total: number;
}

/** Parameters per dense layer of inputs → widths… → outputs: inputs×outputs + biases each. */
export function parameterCounts(inputs: number, hidden: number[], outputs = 1): LayerCount[] {
  const sizes = [inputs, ...hidden, outputs];
  return sizes.slice(1).map((out, l) => {
    const inp = sizes[l];
    return {
      layer: l < hidden.length ? `hidden ${l + 1}` : "output",
      inputs: inp,
      outputs: out,
      weights: inp * out,
      biases: out,
      total: inp * out + out,
    };
  });
}

export function parameterCount(inputs: number, hidden: number[], outputs = 1): number {
  return parameterCounts(inputs, hidden, outputs).reduce((s, l) => s + l.total, 0);
}

// ---------------------------------------------------------------- TensorFlow.js models

export interface MlpSpec {
  inputs: number; // days of history (56 in the lecture's sweeps)
  width: number; // neurons per hidden layer
  depth: number; // hidden layers (0 = the linear model)
  activation: Activation;
  seed: number; // initial weights come from this seed
}

/** The hidden widths of a spec: [width] × depth. */
export const hiddenWidths = (s: MlpSpec): number[] => Array.from({ length: s.depth }, () => s.width);

/** A short name: "56 → 100 → 100 → 1 ReLU". */
export function mlpName(s: MlpSpec): string {
  const sizes = [s.inputs, ...hiddenWidths(s), 1].join(" → ");
  return s.depth === 0 ? `${sizes} linear` : `${sizes} ${s.activation === "relu" ? "ReLU" : "sigmoid"}`;
}

/**
 * inputs → [width] × depth → 1, dense layers. Kernels start from Glorot-uniform with
 * a per-layer seed (seed, seed+1, …), biases at 0, so the same spec always starts
 * from the same weights. Call `await initBackend()` first.
 */
export function mlp(s: MlpSpec): tf.Sequential {
  if (!backendReady()) throw new Error("mlp: call `await initBackend()` (lib/backend) before building models");
  const model = tf.sequential();
  const sizes = [...hiddenWidths(s), 1];
  sizes.forEach((units, l) => {
    model.add(
      tf.layers.dense({
        units,
        inputShape: l === 0 ? [s.inputs] : undefined,
        activation: l < sizes.length - 1 ? s.activation : "linear",
        kernelInitializer: tf.initializers.glorotUniform({ seed: s.seed + l }),
        biasInitializer: "zeros",
      }),
    );
  });
  return model;
}

/** The model's weights as a MatrixNet (tfjs stores kernels as [inputs, outputs]: transpose to W). */
export function toMatrixNet(model: tf.LayersModel, activation: Activation): MatrixNet {
  const weights = model.getWeights();
  const layers: MatrixLayer[] = [];
  for (let i = 0; i < weights.length; i += 2) {
    const kernel = weights[i].arraySync() as number[][]; // [inputs, outputs]
    const bias = weights[i + 1].arraySync() as number[]; // [outputs]
    const W = bias.map((_, o) => kernel.map((row) => row[o])); // [outputs, inputs]
    layers.push({ W, b: bias });
  }
  return { layers, activation };
}

/** Put a MatrixNet's weights into a model of the same shapes. */
export function setFromMatrixNet(model: tf.LayersModel, net: MatrixNet): void {
  const tensors = net.layers.flatMap((l) => {
    const kernel = l.W[0].map((_, i) => l.W.map((row) => row[i])); // [inputs, outputs]
    return [tf.tensor2d(kernel), tf.tensor1d(l.b)];
  });
  model.setWeights(tensors);
  tensors.forEach((t) => t.dispose());
}

/**
 * Where a 1-input, one-hidden-layer ReLU net bends: unit i switches on or off where
 * its r_i = b_i + w_i·x crosses 0, i.e. at x = −b_i / w_i. `scale` maps the net's input
 * units back to the data's (x_data = mu + sigma·x), as trainNet measures x in them.
 * Units with w_i = 0 or c_i = 0 never bend the output and are left out. Sorted.
 */
export function reluKinks(net: MatrixNet, scale: { mu: number; sigma: number } = { mu: 0, sigma: 1 }): number[] {
  const { W, bVec, c } = lectureForm(net);
  if (net.activation !== "relu" || W[0].length !== 1) throw new Error("reluKinks: needs a ReLU net with one input and one hidden layer");
  const out: number[] = [];
  W.forEach((row, i) => {
    if (row[0] !== 0 && c[i] !== 0) out.push(scale.mu + scale.sigma * (-bVec[i] / row[0]));
  });
  return out.sort((a, b) => a - b);
}
