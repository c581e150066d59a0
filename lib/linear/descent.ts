// Plain gradient descent, as the lecture draws it:
//   w ← w − η·∂L/∂w,   b ← b − η·∂L/∂b,   η the learning rate,
// repeated for a number of epochs (each epoch = one full-batch gradient step).
// It returns the path so notebooks can draw every step.
import { LossName, Matrix, columnMatrix, lossAndGradient, toMatrix } from "./model";

export interface Step {
  epoch: number; // 0 = the starting point
  b: number;
  w: number[]; // [k]
  L: number; // loss at (b, w)
  db: number; // ∂L/∂b at (b, w)
  dw: number[]; // [k]: ∂L/∂w at (b, w)
}

export interface DescentOptions {
  loss: LossName;
  lr: number; // η
  numEpochs: number;
  b0?: number; // start (default 0)
  w0?: number[]; // start (default zeros)
  /** Update b? false keeps b fixed at b0 (the one-parameter picture). Default true. */
  learnB?: boolean;
  /**
   * Learning-rate decay: η_t = lr / (1 + decay·t). 0 (default) keeps η constant.
   * MAE's gradient does not shrink to 0 near the minimum the way MSE's does, so
   * constant-η MAE descent ends bouncing around the minimum; a decaying η lets it settle.
   */
  decay?: number;
  /** Keep every `recordEvery`-th step in the path (default 1 = all); the last step is always kept. */
  recordEvery?: number;
  /** Keep exactly these epochs instead (e.g. logSpacedEpochs for a long run); the last is always kept. */
  recordEpochs?: Iterable<number>;
}

export interface DescentResult {
  b: number;
  w: number[];
  L: number; // loss at the final (b, w)
  path: Step[];
}

/** Full-batch gradient descent on y = b + X·w. */
export function gradientDescent(
  X: readonly (readonly number[])[] | Matrix,
  y: ArrayLike<number>,
  opts: DescentOptions,
): DescentResult {
  const M = "data" in X ? X : toMatrix(X);
  const { lr, numEpochs, loss } = opts;
  if (!(lr > 0)) throw new Error(`gradientDescent: lr must be > 0, got ${lr}`);
  if (!Number.isInteger(numEpochs) || numEpochs < 0) throw new Error(`gradientDescent: numEpochs must be a whole number ≥ 0`);
  const learnB = opts.learnB ?? true;
  const decay = opts.decay ?? 0;
  const every = Math.max(1, Math.floor(opts.recordEvery ?? 1));
  const wanted = opts.recordEpochs ? new Set(opts.recordEpochs) : undefined;
  const keep = (t: number): boolean => t === numEpochs || (wanted ? wanted.has(t) : t % every === 0);
  let b = opts.b0 ?? 0;
  const w = Float64Array.from(opts.w0 ?? new Array<number>(M.k).fill(0));
  const yHat = new Float64Array(M.n);
  const path: Step[] = [];
  for (let t = 0; ; t++) {
    const g = lossAndGradient(M, y, b, w, loss, yHat);
    if (keep(t) || !Number.isFinite(g.L))
      path.push({ epoch: t, b, w: Array.from(w), L: g.L, db: g.db, dw: Array.from(g.dw) });
    // A too-large η makes the loss blow up; stop at the first non-finite value.
    if (t === numEpochs || !Number.isFinite(g.L)) return { b, w: Array.from(w), L: g.L, path };
    const eta = lr / (1 + decay * t);
    if (learnB) b -= eta * g.db;
    for (let j = 0; j < M.k; j++) w[j] -= eta * g.dw[j];
  }
}

/** Gradient descent on w alone (b fixed) for y = b + w·x1: the one-parameter picture. */
export function descend1d(
  x1: ArrayLike<number>,
  y: ArrayLike<number>,
  opts: { loss: LossName; b: number; w0: number; lr: number; steps: number },
): { w: number; L: number; slope: number }[] {
  const r = gradientDescent(columnMatrix(x1), y, {
    loss: opts.loss,
    lr: opts.lr,
    numEpochs: opts.steps,
    b0: opts.b,
    w0: [opts.w0],
    learnB: false,
  });
  return r.path.map((s) => ({ w: s.w[0], L: s.L, slope: s.dw[0] }));
}

/** About `count` epochs from 0 to numEpochs, spaced evenly on a log scale (0, 1, 2, 3, 5, 8, …). */
export function logSpacedEpochs(numEpochs: number, count: number): number[] {
  const out = new Set<number>([0, numEpochs]);
  for (let i = 0; i < count; i++) out.add(Math.round(Math.expm1((Math.log1p(numEpochs) * i) / Math.max(1, count - 1))));
  return [...out].sort((a, b) => a - b);
}

/**
 * The largest constant learning rate for which full-batch gradient descent on the MSE
 * of y = b + w·x1 converges: 2 / λmax, λmax the largest eigenvalue of the (constant)
 * Hessian H = 2·[[1, x̄], [x̄, mean(x1²)]]. Above it every step overshoots by more than
 * the last and the loss grows without bound; below it the descent settles.
 */
export function mseStepLimit(x1: ArrayLike<number>): number {
  const n = x1.length;
  if (n === 0) throw new Error("mseStepLimit: no data");
  let m1 = 0;
  let m2 = 0;
  for (let i = 0; i < n; i++) {
    m1 += x1[i] / n;
    m2 += (x1[i] * x1[i]) / n;
  }
  // Eigenvalues of [[1, m1], [m1, m2]]: (tr ± √(tr² − 4·det)) / 2.
  const tr = 1 + m2;
  const det = m2 - m1 * m1;
  const lambdaMax = 2 * ((tr + Math.sqrt(Math.max(0, tr * tr - 4 * det))) / 2);
  return 2 / lambdaMax;
}
