// Training a TensorFlow.js model on (X, y) with the lecture's loss (MAE), reproducibly.
//
// - Same seed, same losses: weights start from seeded initialisers (nets.ts), mini-batches
//   come from a seeded shuffle, and the backend runs the same ops in the same order.
// - Units: inside the loop, x and y are measured as (v − μ)/σ with μ, σ of the training
//   labels. That is only a change of units (the first and last layer absorb it; the
//   parameter count is the same), but it keeps sigmoids out of saturation and lets one
//   learning rate suit every model. Losses are reported back in the data's units.
// - Speed: the loss is read back from the device only every `logEvery` epochs; every other
//   step is queued without waiting (a read-back per step cost 10–40 % of the full-batch
//   epochs/s here, depending on load: see `npm run bench -- train`).
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "./backend";
import { liveDisplay } from "./display";
import { mae } from "./loss";
import { mulberry32 } from "./random";
import { Figure, Json, layout, line } from "./plot";

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

export interface FitOptions {
  epochs: number;
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
  logEvery?: number;
  /** Also track the loss on this set at each logged epoch. */
  test?: XY;
  /** Shown in the progress line. */
  label?: string;
  /** Live progress line (default true). */
  progress?: boolean;
}

export interface FitResult {
  label: string;
  epochs: number[]; // the logged epochs (1-based)
  trainLoss: number[]; // MAE on the training set at each logged epoch, data units
  testLoss: number[]; // same on opts.test (empty without it)
  finalTrain: number; // MAE of the final model on the training set
  finalTest: number | null;
  seconds: number;
  epochsPerSecond: number;
  scale: Scale;
}

/** Predictions in data units for rows X [n, inputs]. */
export function predict(model: tf.LayersModel, X: number[][], scale: Scale): number[] {
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
  return mae(data.y, predict(model, data.X, scale));
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
export async function fit(model: tf.LayersModel, train: XY, opts: FitOptions): Promise<FitResult> {
  await initBackend();
  const n = train.y.length;
  const scale = scaleOf(train.y);
  const batch = opts.batchSize && opts.batchSize < n ? opts.batchSize : n;
  const logEvery = opts.logEvery ?? Math.max(1, Math.round(opts.epochs / 50));
  const label = opts.label ?? model.name;
  const lr0 = opts.lr ?? 0.01;
  const lrEnd = opts.lrEnd ?? lr0;
  const optimizer = tf.train.adam(lr0);
  // Adam reads its learningRate field at every step, so the schedule can set it per epoch.
  const setLr = (epoch: number): void => {
    const t = opts.epochs > 1 ? (epoch - 1) / (opts.epochs - 1) : 1;
    (optimizer as unknown as { learningRate: number }).learningRate = lrEnd + ((lr0 - lrEnd) * (1 + Math.cos(Math.PI * t))) / 2;
  };
  const rand = mulberry32(opts.seed ?? 0);
  const toX = (X: number[][]): tf.Tensor2D => tf.tidy(() => tf.tensor2d(X).sub(scale.mu).div(scale.sigma));
  const toY = (y: number[]): tf.Tensor2D => tf.tidy(() => tf.tensor2d(y, [y.length, 1]).sub(scale.mu).div(scale.sigma));
  const X = toX(train.X); // [n, inputs]
  const Y = toY(train.y); // [n, 1]
  const testX = opts.test ? toX(opts.test.X) : null;
  const testY = opts.test ? toY(opts.test.y) : null;
  const lossOf = (x: tf.Tensor, y: tf.Tensor) => (): tf.Scalar => tf.mean(tf.abs(tf.sub(model.apply(x) as tf.Tensor, y)));

  const live = opts.progress === false ? null : liveDisplay();
  const result: FitResult = { label, epochs: [], trainLoss: [], testLoss: [], finalTrain: NaN, finalTest: null, seconds: 0, epochsPerSecond: 0, scale };
  const t0 = performance.now();
  let lastUpdate = -Infinity;
  for (let epoch = 1; epoch <= opts.epochs; epoch++) {
    const logging = epoch % logEvery === 0 || epoch === 1 || epoch === opts.epochs;
    if (lrEnd !== lr0) setLr(epoch);
    let epochLoss: tf.Scalar | null = null;
    if (batch === n) {
      // Full batch: one step; the cost comes back only when we log it.
      epochLoss = optimizer.minimize(lossOf(X, Y), logging);
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
        const cost = optimizer.minimize(lossOf(xb, yb), logging);
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
      if (testX && testY) {
        const t = tf.tidy(lossOf(testX, testY));
        result.testLoss.push((await t.data())[0] * scale.sigma);
        t.dispose();
      }
      const secs = (performance.now() - t0) / 1000;
      const last = (a: number[]): string => (a.length ? a[a.length - 1].toFixed(3) : "–");
      // At most a few progress messages per second, each between two turns of the event
      // loop, so the kernel gets to send them (and to answer its heartbeat) while the
      // fit runs. (Bursts of messages used to hang tslab outright — zeromq's EBUSY after
      // 512 synchronous sends — which scripts/tslab-preload now prevents for every cell.)
      if (live && (performance.now() - lastUpdate > 400 || epoch === opts.epochs)) {
        lastUpdate = performance.now();
        await nextTurn();
        live.update(
          `${label}: epoch ${epoch}/${opts.epochs} · train L ${last(result.trainLoss)}` +
            (testX ? ` · test L ${last(result.testLoss)}` : "") +
            ` · ${(epoch / secs).toFixed(0)} epochs/s`,
        );
        await nextTurn();
      }
    }
  }
  result.seconds = (performance.now() - t0) / 1000;
  result.epochsPerSecond = opts.epochs / result.seconds;
  result.finalTrain = evaluate(model, train, scale);
  result.finalTest = opts.test ? evaluate(model, opts.test, scale) : null;
  await nextTurn();
  live?.done(
    `${label}: ${opts.epochs} epochs in ${result.seconds.toFixed(1)} s (${result.epochsPerSecond.toFixed(0)} epochs/s) · ` +
      `train L ${result.finalTrain.toFixed(3)}` +
      (result.finalTest !== null ? ` · test L ${result.finalTest.toFixed(3)}` : ""),
  );
  await nextTurn();
  optimizer.dispose();
  [X, Y, testX, testY].forEach((t) => t?.dispose());
  return result;
}

/** Wait for the next turn of the event loop. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Loss curves (train solid, test dotted) for one or more fits, against the epoch. */
export function lossCurveFigure(results: FitResult[], title = "Loss during training", unit = "k", extra: Json = {}): Figure {
  const data: Json[] = [];
  results.forEach((r, i) => {
    const color = PALETTE[i % PALETTE.length];
    data.push(line(r.epochs, r.trainLoss, `${r.label} · train`, { line: { color } }));
    if (r.testLoss.length) data.push(line(r.epochs, r.testLoss, `${r.label} · test`, { line: { color, dash: "dot" } }));
  });
  return { data, layout: layout(title, "epoch", `MAE L (${unit})`, extra) };
}

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
