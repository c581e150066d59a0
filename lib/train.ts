// Training a TensorFlow.js model on (X, y) with the lecture's loss (MAE), reproducibly.
//
// - Same seed, same losses: weights start from seeded initialisers (nets.ts), mini-batches
//   come from a seeded shuffle, and the backend runs the same ops in the same order.
// - Units: inside the loop, x and y are measured as (v − μ)/σ with μ, σ of the training
//   labels. That is only a change of units (the first and last layer absorb it; the
//   parameter count is the same), but it keeps sigmoids out of saturation and lets one
//   learning rate suit every model. Losses are reported back in the data's units.
// - Speed: the loss is read back from the device only every `recordEvery` epochs; every other
//   step is queued without waiting (a read-back per step cost 10–40 % of the full-batch
//   epochs/s here, depending on load: see `npm run bench -- train`).
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "./backend";
import { liveDisplay } from "./display";
import { mae } from "./loss";
import { mulberry32 } from "./random";
import { Figure, Json, layout, line } from "./plot";
import { MlpSpec, hiddenWidths, mlp, mlpName, parameterCount } from "./nets";

export interface XY {
  X: number[][]; // [n, inputs]
  y: number[]; // [n]
}

export interface Scale {
  mu: number;
  sigma: number;
}

/** μ and σ of the training labels: the unit the loop measures in. */
export function scaleOf(y: number[]): Scale {
  const mu = y.reduce((s, v) => s + v, 0) / y.length;
  const sigma = Math.sqrt(y.reduce((s, v) => s + (v - mu) ** 2, 0) / y.length) || 1;
  return { mu, sigma };
}

export interface TrainOptions {
  numEpochs: number;
  /** Examples per step; 0 or ≥ n = full batch (one step per epoch). Default full batch. */
  batchSize?: number;
  /** Adam's learning rate, in the scaled units (default 0.01). */
  lr?: number;
  /**
   * Learning rate at the last epoch, reached by a cosine schedule (default: lr, constant).
   * MAE's gradient is a sign: it does not shrink near the minimum, so with a constant
   * rate the weights keep bouncing around it; a falling rate lets them settle.
   */
  lrEnd?: number;
  /** Seed of the mini-batch shuffle (default 0). */
  seed?: number;
  /** Read the loss back every this many epochs (default: about 50 points per curve). */
  recordEvery?: number;
  /** Also track the loss on this held-out set at each recorded epoch. */
  heldOut?: XY;
  /** What the held-out set is, for labels: "validation" or "test" (default "test"). */
  heldOutName?: string;
  /** Shown in the progress line. */
  label?: string;
  /** Live progress line (default true). */
  progress?: boolean;
}

export interface TrainResult {
  label: string;
  epochs: number[]; // the recorded epochs (1-based)
  trainLoss: number[]; // MAE on the training set at each recorded epoch, data units
  heldOutLoss: number[]; // same on opts.heldOut (empty without it)
  heldOutName: string; // "validation" or "test"
  finalTrain: number; // MAE of the final model on the training set
  finalHeldOut: number | null;
  seconds: number;
  epochsPerSecond: number;
  scale: Scale;
}

/** Predictions in data units for rows X [n, inputs]. */
export function predictNet(model: tf.LayersModel, X: number[][], scale: Scale): number[] {
  const out = tf.tidy(() => {
    const x = tf.tensor2d(X).sub(scale.mu).div(scale.sigma);
    return (model.predict(x) as tf.Tensor).reshape([-1]).mul(scale.sigma).add(scale.mu);
  });
  const values = Array.from(out.dataSync());
  out.dispose();
  return values;
}

/** MAE of the model on a set, computed in plain JS from its predictions. */
export function evaluate(model: tf.LayersModel, data: XY, scale: Scale): number {
  return mae(data.y, predictNet(model, data.X, scale));
}

/** A seeded permutation of 0..n−1 (Fisher–Yates). */
export function shuffled(n: number, rand: () => number): Int32Array {
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/** Train `model` in place with Adam on MAE; returns the loss curve. */
export async function trainNet(model: tf.LayersModel, train: XY, opts: TrainOptions): Promise<TrainResult> {
  await initBackend();
  const n = train.y.length;
  const scale = scaleOf(train.y);
  const batch = opts.batchSize && opts.batchSize < n ? opts.batchSize : n;
  const recordEvery = opts.recordEvery ?? Math.max(1, Math.round(opts.numEpochs / 50));
  const label = opts.label ?? model.name;
  const lr0 = opts.lr ?? 0.01;
  const lrEnd = opts.lrEnd ?? lr0;
  // COURSE_DENSE_FORWARD=0: the layers API's model.apply (only to measure what denseForward gives).
  const forward = (process.env.COURSE_DENSE_FORWARD === "0" ? null : denseForward(model)) ?? ((x: tf.Tensor) => model.apply(x) as tf.Tensor);
  const varList = model.trainableWeights.map((w) => w.read() as tf.Variable); // only this model's weights
  // Adam on the host (HostAdam below) by default: tf.train.adam's ~15 small kernels per
  // weight tensor per step cost more than the arithmetic. COURSE_ADAM=tfjs: the original.
  const optimizer: Optimizer = process.env.COURSE_ADAM === "tfjs" ? (tf.train.adam(lr0) as unknown as Optimizer) : new HostAdam(varList, lr0);
  // Adam reads its learningRate field at every step, so the schedule can set it per epoch.
  const setLr = (epoch: number): void => {
    const t = opts.numEpochs > 1 ? (epoch - 1) / (opts.numEpochs - 1) : 1;
    optimizer.learningRate = lrEnd + ((lr0 - lrEnd) * (1 + Math.cos(Math.PI * t))) / 2;
  };
  const rand = mulberry32(opts.seed ?? 0);
  const toX = (X: number[][]): tf.Tensor2D => tf.tidy(() => tf.tensor2d(X).sub(scale.mu).div(scale.sigma));
  const toY = (y: number[]): tf.Tensor2D => tf.tidy(() => tf.tensor2d(y, [y.length, 1]).sub(scale.mu).div(scale.sigma));
  const X = toX(train.X); // [n, inputs]
  const Y = toY(train.y); // [n, 1]
  const hoX = opts.heldOut ? toX(opts.heldOut.X) : null;
  const hoY = opts.heldOut ? toY(opts.heldOut.y) : null;
  const lossOf = (x: tf.Tensor, y: tf.Tensor) => (): tf.Scalar => tf.mean(tf.abs(tf.sub(forward(x), y)));
  // One step on (x, y); the loss comes back only when asked. With HostAdam on a Dense
  // stack, the gradients come from maeBackprop (COURSE_BACKPROP=autodiff: from tf.variableGrads).
  // COURSE_BACKPROP=tensor: maeBackprop through tfjs ops instead of rawMaeBackprop.
  const layers = process.env.COURSE_BACKPROP === "autodiff" ? null : denseLayers(model);
  const useRawKernels = process.env.COURSE_BACKPROP !== "tensor";
  const step = (x: tf.Tensor2D, y: tf.Tensor2D, wantLoss: boolean): tf.Scalar | null => {
    if (!(optimizer instanceof HostAdam) || !layers) return optimizer.minimize(lossOf(x, y), wantLoss, varList);
    const raw = useRawKernels ? rawMaeBackprop(layers, x, y, wantLoss) : null;
    if (raw) {
      optimizer.applyHostGradients(raw.grads, 1 / x.shape[0]);
      return raw.loss === null ? null : tf.scalar(raw.loss);
    }
    const { grads, loss } = maeBackprop(layers, x, y, wantLoss);
    optimizer.applyGradients(grads);
    grads.forEach((g) => g.dispose());
    return loss;
  };

  const live = opts.progress === false ? null : liveDisplay();
  const result: TrainResult = { label, epochs: [], trainLoss: [], heldOutLoss: [], heldOutName: opts.heldOutName ?? "test", finalTrain: NaN, finalHeldOut: null, seconds: 0, epochsPerSecond: 0, scale };
  const t0 = performance.now();
  let lastUpdate = -Infinity;
  for (let epoch = 1; epoch <= opts.numEpochs; epoch++) {
    const logging = epoch % recordEvery === 0 || epoch === 1 || epoch === opts.numEpochs;
    if (lrEnd !== lr0) setLr(epoch);
    let epochLoss: tf.Scalar | null = null;
    if (batch === n) {
      // Full batch: one step; the cost comes back only when we log it.
      epochLoss = step(X, Y, logging);
    } else {
      const order = shuffled(n, rand);
      const idx = tf.tensor1d(order, "int32");
      const [Xs, Ys] = [tf.gather(X, idx), tf.gather(Y, idx)]; // this epoch's order
      idx.dispose();
      const costs: tf.Scalar[] = []; // batch losses × size/n, kept on the device until the epoch ends
      for (let start = 0; start < n; start += batch) {
        const size = Math.min(batch, n - start);
        const xb = Xs.slice([start, 0], [size, -1]);
        const yb = Ys.slice([start, 0], [size, -1]);
        const cost = step(xb, yb, logging);
        if (cost) {
          costs.push(tf.tidy(() => cost.mul(size / n) as tf.Scalar));
          cost.dispose();
        }
        xb.dispose();
        yb.dispose();
      }
      if (costs.length) {
        epochLoss = tf.tidy(() => tf.addN(costs) as tf.Scalar);
        costs.forEach((c) => c.dispose());
      }
      Xs.dispose();
      Ys.dispose();
    }
    if (logging && epochLoss) {
      result.epochs.push(epoch);
      result.trainLoss.push((await epochLoss.data())[0] * scale.sigma);
      epochLoss.dispose();
      if (hoX && hoY) {
        const t = tf.tidy(lossOf(hoX, hoY));
        result.heldOutLoss.push((await t.data())[0] * scale.sigma);
        t.dispose();
      }
      const secs = (performance.now() - t0) / 1000;
      const last = (a: number[]): string => (a.length ? a[a.length - 1].toFixed(3) : "–");
      // At most a few progress messages per second, each between two turns of the event
      // loop, so the kernel gets to send them (and to answer its heartbeat) while the
      // fit runs. (Bursts of messages used to hang tslab outright — zeromq's EBUSY after
      // 512 synchronous sends — which scripts/tslab-preload now prevents for every cell.)
      if (live && (performance.now() - lastUpdate > 400 || epoch === opts.numEpochs)) {
        lastUpdate = performance.now();
        await nextTurn();
        live.update(
          `${label}: epoch ${epoch}/${opts.numEpochs} · train L ${last(result.trainLoss)}` +
            (hoX ? ` · ${result.heldOutName} L ${last(result.heldOutLoss)}` : "") +
            ` · ${(epoch / secs).toFixed(0)} epochs/s`,
        );
        await nextTurn();
      }
    }
  }
  result.seconds = (performance.now() - t0) / 1000;
  result.epochsPerSecond = opts.numEpochs / result.seconds;
  result.finalTrain = evaluate(model, train, scale);
  result.finalHeldOut = opts.heldOut ? evaluate(model, opts.heldOut, scale) : null;
  await nextTurn();
  live?.done(
    `${label}: ${opts.numEpochs} epochs in ${result.seconds.toFixed(1)} s (${result.epochsPerSecond.toFixed(0)} epochs/s) · ` +
      `train L ${result.finalTrain.toFixed(3)}` +
      (result.finalHeldOut !== null ? ` · ${result.heldOutName} L ${result.finalHeldOut.toFixed(3)}` : ""),
  );
  await nextTurn();
  optimizer.dispose();
  [X, Y, hoX, hoY].forEach((t) => t?.dispose());
  return result;
}

// ---------------------------------------------------------------- one model, several seeds

export interface SpecResult extends TrainResult {
  spec: MlpSpec;
  name: string; // mlpName(spec)
  params: number; // TensorFlow.js' countParams()
  paramsFormula: number; // parameterCount(inputs, widths): a test checks they agree
  predictions: number[] | null; // on opts.predictOn, in data units, before the model is freed
}

/**
 * Build → train → count → evaluate → dispose: the one helper behind every training
 * run of notebooks 04–05 and the bench. The initial weights come from spec.seed and
 * the mini-batch shuffle from opts.seed (default: spec.seed too).
 */
export async function trainSpec(spec: MlpSpec, train: XY, opts: TrainOptions & { predictOn?: number[][] }): Promise<SpecResult> {
  await initBackend();
  const model = mlp(spec);
  try {
    const name = mlpName(spec);
    const r = await trainNet(model, train, { label: name, ...opts, seed: opts.seed ?? spec.seed });
    return {
      ...r,
      spec,
      name,
      params: model.countParams(),
      paramsFormula: parameterCount(spec.inputs, hiddenWidths(spec)),
      predictions: opts.predictOn ? predictNet(model, opts.predictOn, r.scale) : null,
    };
  } finally {
    model.dispose();
  }
}

export interface MeanSd {
  mean: number;
  sd: number; // sample standard deviation (n − 1); 0 for one value
  n: number;
}

export function meanSd(values: number[]): MeanSd {
  const n = values.length;
  if (n === 0) return { mean: NaN, sd: NaN, n };
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const sd = n > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, sd, n };
}

export interface SeedsResult {
  spec: MlpSpec; // with the first seed
  name: string;
  params: number;
  runs: SpecResult[]; // one per seed
  train: MeanSd; // final training MAE over the seeds
  heldOut: MeanSd | null; // final held-out MAE over the seeds
}

/**
 * The same model and options trained once per seed (the seed sets both the initial
 * weights and the shuffle), so a comparison can be made beyond its seed-to-seed spread.
 */
export async function trainSeeds(spec: MlpSpec, seeds: number[], train: XY, opts: TrainOptions): Promise<SeedsResult> {
  if (seeds.length === 0) throw new Error("trainSeeds: give at least one seed");
  const runs: SpecResult[] = [];
  for (const seed of seeds) runs.push(await trainSpec({ ...spec, seed }, train, { ...opts, seed, label: `${opts.label ?? mlpName(spec)} · seed ${seed}` }));
  const ho = runs.map((r) => r.finalHeldOut);
  return {
    spec: runs[0].spec,
    name: runs[0].name,
    params: runs[0].params,
    runs,
    train: meanSd(runs.map((r) => r.finalTrain)),
    heldOut: ho.every((v): v is number => v !== null) ? meanSd(ho) : null,
  };
}

/**
 * "0.354 ± 0.0041": at least `minDigits` decimals, and enough to show the sd with two
 * significant digits (so a small spread never prints as ± 0.000, whatever the units).
 */
export function fmtMeanSd(m: MeanSd, minDigits = 3): string {
  const digits = m.sd > 0 ? Math.min(12, Math.max(minDigits, 1 - Math.floor(Math.log10(m.sd)))) : minDigits;
  return `${m.mean.toFixed(digits)} ± ${m.sd.toFixed(digits)}`;
}

/**
 * Is a clearly below b? Only when the two means differ by more than the larger of
 * their seed-to-seed standard deviations (a deliberately simple, stated rule).
 */
export const clearlyBelow = (a: MeanSd, b: MeanSd): boolean => b.mean - a.mean > Math.max(a.sd, b.sd);

/** Table rows for a sweep: one per model, mean ± sd over the seeds (and the seeds' count). */
export function seedsRows(results: SeedsResult[], heldOutName = results[0]?.runs[0]?.heldOutName ?? "held-out"): Record<string, string | number>[] {
  return results.map((r) => ({
    model: r.name,
    "parameters θ": r.params,
    seeds: r.runs.length,
    "train L (mean ± sd)": fmtMeanSd(r.train),
    [`${heldOutName} L (mean ± sd)`]: r.heldOut ? fmtMeanSd(r.heldOut) : "–",
  }));
}

/** Final train and held-out loss against x (one point per model), error bars = ±1 sd over the seeds. */
export function seedsFigure(results: SeedsResult[], x: number[], title: string, xTitle: string, unit = "k", extra: Json = {}): Figure {
  const bars = (m: MeanSd[]): Json => ({ type: "data", array: m.map((v) => v.sd), visible: true });
  const tr = results.map((r) => r.train);
  const ho = results.filter((r) => r.heldOut).map((r) => r.heldOut as MeanSd);
  const name = results[0]?.runs[0]?.heldOutName ?? "held-out";
  const text = results.map((r) => r.name);
  const data: Json[] = [line(x, tr.map((m) => m.mean), "train", { mode: "lines+markers", error_y: bars(tr), text })];
  if (ho.length === results.length) data.push(line(x, ho.map((m) => m.mean), name, { mode: "lines+markers", line: { dash: "dot" }, error_y: bars(ho), text }));
  return { data, layout: layout(title, xTitle, `MAE L (${unit}), mean ± sd over seeds`, extra) };
}

/** What trainNet needs of an optimiser (tf.train.adam and HostAdam both have it). */
interface Optimizer {
  learningRate: number;
  minimize(f: () => tf.Scalar, returnCost: boolean, varList: tf.Variable[]): tf.Scalar | null;
  dispose(): void;
}

/**
 * Adam (Kingma & Ba; tf.train.adam's constants and update, step for step) with its
 * moments and a float32 master copy of the weights kept in JavaScript arrays. Per
 * step: the gradients come back from the backend (one copy each), the update is one
 * loop over every weight, and each weight tensor is replaced by a new one (a fresh
 * tensor, as tfjs's own assign does, so no kernel cache sees stale weights). A test
 * checks it against tf.train.adam.
 */
export class HostAdam {
  learningRate: number;
  private readonly theta: Float32Array[];
  private readonly m: Float32Array[];
  private readonly v: Float32Array[];
  private acc1: number;
  private acc2: number;
  constructor(
    private readonly vars: tf.Variable[],
    lr: number,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly epsilon = tf.backend().epsilon(),
  ) {
    this.learningRate = lr;
    this.theta = vars.map((x) => Float32Array.from(x.dataSync()));
    this.m = vars.map((x) => new Float32Array(x.size));
    this.v = vars.map((x) => new Float32Array(x.size));
    this.acc1 = beta1;
    this.acc2 = beta2;
  }

  /** One step on f's gradients; returns f's value when asked (else disposes it). */
  minimize(f: () => tf.Scalar, returnCost: boolean, varList: tf.Variable[] = this.vars): tf.Scalar | null {
    if (varList !== this.vars) throw new Error("HostAdam: minimize over the variables it was built with");
    const { value, grads } = tf.variableGrads(f, this.vars);
    this.applyGradients(this.vars.map((v) => grads[v.name]));
    Object.values(grads).forEach((g) => g.dispose());
    if (returnCost) return value;
    value.dispose();
    return null;
  }

  /** One step with these gradients, one per variable in the constructor's order (not disposed here). */
  applyGradients(grads: tf.Tensor[]): void {
    this.applyHostGradients(grads.map((g) => g.dataSync() as Float32Array));
  }

  /** One step with gradients already on the host, each multiplied by `scale` first. */
  applyHostGradients(grads: ArrayLike<number>[], scale = 1): void {
    const { beta1: b1, beta2: b2, epsilon: eps } = this;
    const lr = this.learningRate;
    const c1 = 1 - this.acc1; // bias corrections, as tfjs: accBeta starts at beta
    const c2 = 1 - this.acc2;
    this.vars.forEach((variable, i) => {
      const g = grads[i];
      const th = this.theta[i];
      const m = this.m[i];
      const v = this.v[i];
      for (let j = 0; j < th.length; j++) {
        const gj = g[j] * scale;
        m[j] = b1 * m[j] + (1 - b1) * gj;
        v[j] = b2 * v[j] + (1 - b2) * gj * gj;
        th[j] -= (lr * (m[j] / c1)) / (Math.sqrt(v[j] / c2) + eps);
      }
      const next = tf.tensor(th, variable.shape, "float32"); // copies th
      variable.assign(next);
      next.dispose();
    });
    this.acc1 *= b1;
    this.acc2 *= b2;
  }

  dispose(): void {}
}

/**
 * maeBackprop's arithmetic with the backend's kernels called directly — no tensors,
 * no tape, no scopes: each step is ~20 small kernels, and for these model sizes the
 * engine's bookkeeping around each one cost more than the kernel itself. The
 * gradients come back to the host WITHOUT the 1/n (multiply by 1/n: HostAdam's
 * `scale`), with the loss computed on the host from E when asked. ReLU and linear
 * layers only; null (use maeBackprop) for sigmoid layers or a missing kernel.
 * A test checks it against tf.variableGrads.
 */
export function rawMaeBackprop(steps: DenseStep[], x: tf.Tensor2D, y: tf.Tensor2D, wantLoss: boolean): { grads: Float32Array[]; loss: number | null } | null {
  if (steps.some((s) => s.act === "sigmoid")) return null;
  const name = tf.getBackend();
  const backend = tf.backend();
  const read = (t: Info): Float32Array => Float32Array.from(backend.readSync(t.dataId) as Float32Array);
  type Info = tf.TensorInfo;
  const kernels = ["_FusedMatMul", "BatchMatMul", "Sub", "Sign", "Multiply", "Step", "Sum"].map((k) => tf.getKernel(k, name));
  if (kernels.some((k) => !k)) return null;
  const [fused, matMul, sub, sign, mul, step, sum] = kernels.map((k) => (inputs: tf.NamedTensorInfoMap, attrs: object = {}): Info =>
    k!.kernelFunc({ inputs, backend, attrs: attrs as tf.NamedAttrMap }) as Info);
  const temps: Info[] = [];
  const keep = (t: Info): Info => (temps.push(t), t);
  // The kernels work on rank-3 [batch, rows, cols] (the ops reshape before calling them):
  // the same storage, seen with a leading 1.
  const as3d = (t: Info): Info => ({ dataId: t.dataId, dtype: t.dtype, shape: [1, ...t.shape] });
  try {
    const acts: Info[] = [as3d(x)]; // A_0 = x, A_l = act(A_{l−1}·W_l + b_l)   [1, n, units_l]
    for (const { W, b, act } of steps)
      acts.push(keep(fused({ a: acts[acts.length - 1], b: as3d(W), bias: b }, { transposeA: false, transposeB: false, activation: act === "relu" ? "relu" : "linear", leakyreluAlpha: 0 })));
    const e = keep(sub({ a: acts[acts.length - 1], b: as3d(y) })); // E = yHat − y   [1, n, 1]
    let loss: number | null = null;
    if (wantLoss) {
      const ev = read(e);
      let total = 0;
      for (let i = 0; i < ev.length; i++) total += Math.abs(ev[i]);
      loss = total / ev.length;
    }
    let g = keep(sign({ x: e })); // n·∂L/∂A_L
    const grads: Float32Array[] = new Array(2 * steps.length);
    for (let l = steps.length - 1; l >= 0; l--) {
      if (l < steps.length - 1 && steps[l].act === "relu") g = keep(mul({ a: g, b: keep(step({ x: acts[l + 1] }, { alpha: 0 })) }));
      grads[2 * l] = read(keep(matMul({ a: acts[l], b: g }, { transposeA: true, transposeB: false }))); // [inputs, units]
      grads[2 * l + 1] = read(keep(sum({ x: g }, { axis: [1], keepDims: false }))); // [units]
      if (l > 0) g = keep(matMul({ a: g, b: as3d(steps[l].W) }, { transposeA: false, transposeB: true })); // [1, n, inputs_l]
    }
    return { grads, loss };
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}

/**
 * The model's forward pass as plain ops on its own weights, when it is a stack of
 * Dense layers (what nets.ts builds): x·W + b in one fused kernel per layer, then the
 * activation. Same numbers as model.apply (a test checks), without the layers API's
 * per-call bookkeeping, which costs more than the arithmetic for these small models.
 * Returns null for any other model (trainNet then uses model.apply).
 */
export function denseForward(model: tf.LayersModel): ((x: tf.Tensor) => tf.Tensor) | null {
  const steps = denseLayers(model);
  if (!steps) return null;
  return (x: tf.Tensor): tf.Tensor => {
    let a = x as tf.Tensor2D; // [n, inputs]
    for (const { W, b, act } of steps) {
      a = tf.fused.matMul({ a, b: W, bias: b, activation: act === "relu" ? "relu" : "linear" }) as tf.Tensor2D; // [n, units]
      if (act === "sigmoid") a = tf.sigmoid(a) as tf.Tensor2D;
    }
    return a; // [n, 1]
  };
}

export interface DenseStep {
  W: tf.Tensor2D; // [inputs, units]: the layer's kernel variable
  b: tf.Tensor1D; // [units]
  act: "linear" | "relu" | "sigmoid";
}

/** The model's Dense layers (kernel, bias, activation), or null if it is anything else. */
export function denseLayers(model: tf.LayersModel): DenseStep[] | null {
  type DenseLike = { getClassName(): string; getConfig(): { activation?: string; useBias?: boolean }; kernel?: { read(): tf.Tensor }; bias?: { read(): tf.Tensor } };
  const layers = model.layers as unknown as DenseLike[];
  const steps: DenseStep[] = [];
  for (const l of layers) {
    const act = l.getConfig().activation ?? "linear";
    if (l.getClassName() !== "Dense" || !l.kernel || !l.bias || !["linear", "relu", "sigmoid"].includes(act)) return null;
    steps.push({ W: l.kernel.read() as tf.Tensor2D, b: l.bias.read() as tf.Tensor1D, act: act as DenseStep["act"] });
  }
  return steps;
}

/**
 * The MAE's gradient for a stack of Dense layers, by backpropagation written out
 * (what autodiff does, with fewer and fused kernels; a test checks it against
 * tf.variableGrads). With E = yHat − y over n rows:
 *   G = sign(E)/n                                   ∂L/∂yHat          [n, 1]
 *   per layer, last first:  dW = A_prevᵀ·G,  db = Σ_rows G,  G ← (G·Wᵀ) ⊙ σ'(A_prev)
 * where σ' is 1[A > 0] for ReLU and A(1 − A) for sigmoid. Gradients come in the
 * order of model.trainableWeights (W1, b1, W2, b2, …); the loss only when asked.
 */
export function maeBackprop(steps: DenseStep[], x: tf.Tensor2D, y: tf.Tensor2D, wantLoss: boolean): { grads: tf.Tensor[]; loss: tf.Scalar | null } {
  const out = tf.tidy((): tf.Tensor[] => {
    const acts: tf.Tensor2D[] = [x]; // A_0 = x, A_l = σ(A_{l−1}·W_l + b_l)
    for (const { W, b, act } of steps) {
      let a = tf.fused.matMul({ a: acts[acts.length - 1], b: W, bias: b, activation: act === "relu" ? "relu" : "linear" }) as tf.Tensor2D;
      if (act === "sigmoid") a = tf.sigmoid(a) as tf.Tensor2D;
      acts.push(a);
    }
    const e = tf.sub(acts[acts.length - 1], y); // [n, 1]
    let g = tf.mul(tf.sign(e), 1 / e.shape[0]) as tf.Tensor2D; // ∂L/∂A_L
    const grads: tf.Tensor[] = new Array(2 * steps.length);
    for (let l = steps.length - 1; l >= 0; l--) {
      if (l < steps.length - 1) {
        const a = acts[l + 1]; // this layer's output: fold its activation's slope into g
        if (steps[l].act === "relu") g = tf.mul(g, tf.step(a)) as tf.Tensor2D;
        else if (steps[l].act === "sigmoid") g = tf.mul(g, tf.mul(a, tf.sub(1, a))) as tf.Tensor2D;
      }
      grads[2 * l] = tf.matMul(acts[l], g, true, false); // [inputs, units]
      grads[2 * l + 1] = tf.sum(g, 0); // [units]
      if (l > 0) g = tf.matMul(g, steps[l].W, false, true); // [n, inputs]: ∂L/∂A_{l}
    }
    return wantLoss ? [...grads, tf.mean(tf.abs(e))] : grads;
  });
  return { grads: out.slice(0, 2 * steps.length), loss: wantLoss ? (out[2 * steps.length] as tf.Scalar) : null };
}

/** Wait for the next turn of the event loop. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Loss curves (train solid, held-out dotted) for one or more fits, against the epoch. */
export function lossCurveFigure(results: TrainResult[], title = "Loss during training", unit = "k", extra: Json = {}): Figure {
  const data: Json[] = [];
  results.forEach((r, i) => {
    const color = PALETTE[i % PALETTE.length];
    data.push(line(r.epochs, r.trainLoss, `${r.label} · train`, { line: { color } }));
    if (r.heldOutLoss.length) data.push(line(r.epochs, r.heldOutLoss, `${r.label} · ${r.heldOutName}`, { line: { color, dash: "dot" } }));
  });
  return { data, layout: layout(title, "epoch", `MAE L (${unit})`, extra) };
}

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
