// Fitting a k-day linear model y = b + Σ w_j x_j reliably and fast.
//
// Plain gradient descent on raw values crawls: yesterday's and last week's values
// are all ≈ the same size and strongly correlated, so the loss surface is a long
// narrow valley (see notebook 02). The fitter therefore
//   1. standardises every column and y (z = (x − mean) / sd): the same model, in
//      coordinates where one learning rate suits every parameter;
//   2. runs full-batch Adam (Kingma & Ba 2015) on the loss's (sub)gradient, with the
//      learning rate decayed to 0 by a cosine schedule, so MAE's sign-valued
//      gradient settles instead of bouncing around the minimum;
//   3. keeps the best iterate seen (a standard safeguard for subgradient methods);
//   4. maps (b, w) back to the original units.
// Full batch: without a seed it starts at zero and a rerun gives the same numbers;
// with a seed it starts at a random point (the same point for the same seed), which
// shows that every start ends at the same minimum (the loss is convex, notebook 02).
import { mulberry32 } from "../random";
import { Linear, LossName, Matrix, lossAndGradient, toMatrix } from "./model";

export interface LinearFitOptions {
  loss?: LossName; // default "mae", the lecture's loss
  numEpochs?: number; // default 2000
  lr?: number; // Adam's peak step size in standardised units (default 0.05)
  /** Record the training loss every `recordEvery` epochs (default 10). */
  recordEvery?: number;
  /**
   * Start at a random point instead of zero: every standardised parameter uniform in
   * [−1, 1] (i.e. the start's predictions are within about ±(k+1) standard deviations of y's mean).
   */
  seed?: number;
  /** Start exactly here (original units) instead; overrides `seed`. */
  start?: Linear;
}

export interface LinearFitResult extends Linear {
  L: number; // training loss at (b, w), original units
  numEpochs: number;
  start: Linear; // where the descent started, original units
  history: { epoch: number; L: number }[]; // training loss while fitting, original units
}

interface Scaling {
  Z: Matrix; // standardised X
  zy: Float64Array; // standardised y
  mu: Float64Array; // [k]
  sd: Float64Array; // [k]
  my: number;
  sy: number;
}

function standardise(X: Matrix, y: ArrayLike<number>): Scaling {
  const { n, k, data } = X;
  const mu = new Float64Array(k);
  const sd = new Float64Array(k);
  // data is column-major: data[j·n + i] = X[i][j].
  for (let j = 0; j < k; j++) for (let i = 0; i < n; i++) mu[j] += data[j * n + i] / n;
  for (let j = 0; j < k; j++) for (let i = 0; i < n; i++) sd[j] += (data[j * n + i] - mu[j]) ** 2 / n;
  for (let j = 0; j < k; j++) sd[j] = Math.sqrt(sd[j]) || 1; // a constant column stays as it is
  const Z = new Float64Array(n * k);
  for (let j = 0; j < k; j++) for (let i = 0; i < n; i++) Z[j * n + i] = (data[j * n + i] - mu[j]) / sd[j];
  let my = 0;
  for (let i = 0; i < n; i++) my += y[i] / n;
  let vy = 0;
  for (let i = 0; i < n; i++) vy += (y[i] - my) ** 2 / n;
  const sy = Math.sqrt(vy) || 1;
  const zy = new Float64Array(n);
  for (let i = 0; i < n; i++) zy[i] = (y[i] - my) / sy;
  return { Z: { data: Z, n, k }, zy, mu, sd, my, sy };
}

/**
 * From standardised coordinates back to the original ones:
 * (y − my)/sy = c + Σ v_j (x_j − mu_j)/sd_j  ⇔  y = b + Σ w_j x_j with
 * w_j = sy·v_j/sd_j and b = my + sy·c − Σ w_j mu_j.
 */
function unscale(s: Scaling, c: number, v: Float64Array): Linear {
  const w = Array.from(v, (vj, j) => (s.sy * vj) / s.sd[j]);
  let b = s.my + s.sy * c;
  for (let j = 0; j < w.length; j++) b -= w[j] * s.mu[j];
  return { b, w };
}

/** The inverse of unscale: original (b, w) to standardised (c, v). */
function rescale(s: Scaling, p: Linear): { c: number; v: Float64Array } {
  if (p.w.length !== s.mu.length) throw new Error(`fitLinear: start has ${p.w.length} weights, X has ${s.mu.length} columns`);
  const v = Float64Array.from(p.w, (wj, j) => (wj * s.sd[j]) / s.sy);
  let c = p.b - s.my;
  for (let j = 0; j < v.length; j++) c += p.w[j] * s.mu[j];
  return { c: c / s.sy, v };
}

/** Fit y = b + X·w by minimising the loss (MAE by default) on the training data. */
export function fitLinear(X: readonly (readonly number[])[] | Matrix, y: ArrayLike<number>, opts: LinearFitOptions = {}): LinearFitResult {
  const M = "data" in X ? X : toMatrix(X);
  const loss = opts.loss ?? "mae";
  const numEpochs = opts.numEpochs ?? 2000;
  const lr = opts.lr ?? 0.05;
  const every = Math.max(1, Math.floor(opts.recordEvery ?? 10));
  const s = standardise(M, y);
  const k = M.k;
  // Adam state for the k + 1 parameters: θ = (c, v_1 … v_k); m, u = 1st/2nd moments.
  const beta1 = 0.9;
  const beta2 = 0.999;
  const eps = 1e-8;
  const r = opts.seed === undefined ? () => 0.5 : mulberry32(opts.seed);
  let c = 2 * r() - 1;
  let v = Float64Array.from({ length: k }, () => 2 * r() - 1); // [k]
  if (opts.start) ({ c, v } = rescale(s, opts.start));
  const start = unscale(s, c, v);
  const m = new Float64Array(k + 1); // [k+1], index 0 = c
  const u = new Float64Array(k + 1);
  const yHat = new Float64Array(M.n);
  // The loss scales with y: MAE by sy, MSE by sy².
  const toOriginal = loss === "mae" ? s.sy : s.sy * s.sy;
  let best = { L: Infinity, c: 0, v: new Float64Array(k) };
  const history: { epoch: number; L: number }[] = [];
  for (let t = 0; t <= numEpochs; t++) {
    const g = lossAndGradient(s.Z, s.zy, c, v, loss, yHat);
    if (g.L < best.L) best = { L: g.L, c, v: Float64Array.from(v) };
    if (t % every === 0 || t === numEpochs) history.push({ epoch: t, L: g.L * toOriginal });
    if (t === numEpochs) break;
    const eta = (lr * (1 + Math.cos((Math.PI * t) / numEpochs))) / 2; // cosine decay lr → 0
    const bc1 = 1 - beta1 ** (t + 1);
    const bc2 = 1 - beta2 ** (t + 1);
    for (let p = 0; p <= k; p++) {
      const gp = p === 0 ? g.db : g.dw[p - 1];
      m[p] = beta1 * m[p] + (1 - beta1) * gp;
      u[p] = beta2 * u[p] + (1 - beta2) * gp * gp;
      const step = (eta * (m[p] / bc1)) / (Math.sqrt(u[p] / bc2) + eps);
      if (p === 0) c -= step;
      else v[p - 1] -= step;
    }
  }
  const p = unscale(s, best.c, best.v);
  return { ...p, L: best.L * toOriginal, numEpochs, start, history };
}
