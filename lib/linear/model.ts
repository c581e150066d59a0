// The linear model y = b + Σ_j w_j·x_j, its loss, and the gradient of the loss
// with respect to (b, w), written out by hand (no autodiff), so the notebooks can
// show exactly what gradient descent follows.
//
// With e_n = y_n − yHat_n (the error on example n) and N examples:
//   MAE  L = (1/N) Σ |e_n|     ∂L/∂b = −(1/N) Σ sign(e_n)     ∂L/∂w_j = −(1/N) Σ sign(e_n)·x_nj
//   MSE  L = (1/N) Σ e_n²      ∂L/∂b = −(2/N) Σ e_n           ∂L/∂w_j = −(2/N) Σ e_n·x_nj
//
// |e| has no derivative at e = 0 (a kink). Any value in [−1, 1] is a valid
// subgradient there; we take sign(0) = 0 (Math.sign), the middle of that range, so an
// example that is predicted exactly pushes neither way.

export type LossName = "mae" | "mse";

export interface Linear {
  b: number;
  w: number[]; // [k]: w[j] multiplies x_j, the value j+1 days before
}

/**
 * X as one flat column-major array: data[j·n + i] = X[i][j], so column j (the value
 * j+1 days before, for every example) is one contiguous run of n numbers. The loops
 * below then run over the n examples innermost — long loops, fast in V8 even for k = 1.
 */
export interface Matrix {
  data: Float64Array; // [k·n]
  n: number;
  k: number;
}

export function toMatrix(X: readonly (readonly number[])[]): Matrix {
  const n = X.length;
  if (n === 0) throw new Error("linear: X has no rows");
  const k = X[0].length;
  const data = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    const row = X[i];
    if (row.length !== k) throw new Error(`linear: row ${i} of X has ${row.length} values, row 0 has ${k}`);
    for (let j = 0; j < k; j++) data[j * n + i] = row[j];
  }
  return { data, n, k };
}

/** A single feature x1 as an [n, 1] matrix. */
export function columnMatrix(x1: ArrayLike<number>): Matrix {
  return { data: Float64Array.from(x1), n: x1.length, k: 1 };
}

function check(X: Matrix, y: ArrayLike<number>, w: ArrayLike<number>): void {
  if (y.length !== X.n) throw new Error(`linear: X has ${X.n} rows but y has ${y.length} values`);
  if (w.length !== X.k) throw new Error(`linear: X has ${X.k} columns but w has ${w.length} weights`);
}

/** yHat = b + X·w, into `out` ([n]). */
export function predictInto(X: Matrix, b: number, w: ArrayLike<number>, out: Float64Array): Float64Array {
  const { data, n, k } = X;
  out.fill(b);
  for (let j = 0; j < k; j++) {
    const wj = w[j];
    const col = j * n;
    for (let i = 0; i < n; i++) out[i] += wj * data[col + i];
  }
  return out;
}

/** Predictions of y = b + Σ w_j x_j for every row of X. */
export function predict(X: readonly (readonly number[])[] | Matrix, p: Linear): number[] {
  const M = "data" in X ? X : toMatrix(X);
  if (p.w.length !== M.k) throw new Error(`linear: X has ${M.k} columns but w has ${p.w.length} weights`);
  return Array.from(predictInto(M, p.b, p.w, new Float64Array(M.n)));
}

export interface LossAndGradient {
  L: number; // the loss at (b, w)
  db: number; // ∂L/∂b
  dw: Float64Array; // [k]: ∂L/∂w_j
}

/**
 * The loss and its gradient at (b, w).
 * `yHat` is scratch space of length n (pass one in to avoid allocating per step); it is overwritten.
 */
export function lossAndGradient(
  X: Matrix,
  y: ArrayLike<number>,
  b: number,
  w: ArrayLike<number>,
  loss: LossName,
  yHat: Float64Array = new Float64Array(X.n),
): LossAndGradient {
  check(X, y, w);
  const { data, n, k } = X;
  predictInto(X, b, w, yHat);
  // Turn yHat into g_i = ∂(per-example loss)/∂yHat_i in place: −sign(e) for |e|, −2e for e².
  const g = yHat;
  let L = 0;
  let db = 0;
  if (loss === "mae") {
    for (let i = 0; i < n; i++) {
      const e = y[i] - g[i];
      L += Math.abs(e);
      g[i] = -Math.sign(e); // Math.sign(0) = 0: an exactly predicted example does not push
      db += g[i];
    }
  } else {
    for (let i = 0; i < n; i++) {
      const e = y[i] - g[i];
      L += e * e;
      g[i] = -2 * e;
      db += g[i];
    }
  }
  // ∂L/∂w_j = (1/N) Σ_i g_i·x_ij: one dot product per column.
  const dw = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    const col = j * n;
    let s = 0;
    for (let i = 0; i < n; i++) s += g[i] * data[col + i];
    dw[j] = s / n;
  }
  return { L: L / n, db: db / n, dw };
}

/** The loss of (b, w) on (X, y). */
export function lossAt(X: Matrix, y: ArrayLike<number>, p: Linear, loss: LossName): number {
  return lossAndGradient(X, y, p.b, p.w, loss).L;
}

// ---- one parameter: L(w) with b fixed, for the tangent picture ----

/** L(w) for y = b + w·x1 with b held fixed. */
export function lossOfW(x1: ArrayLike<number>, y: ArrayLike<number>, b: number, w: number, loss: LossName): number {
  return lossAndGradient(columnMatrix(x1), y, b, [w], loss).L;
}

/** dL/dw at w for y = b + w·x1 with b held fixed (the slope of the tangent). */
export function dLossdW(x1: ArrayLike<number>, y: ArrayLike<number>, b: number, w: number, loss: LossName): number {
  return lossAndGradient(columnMatrix(x1), y, b, [w], loss).dw[0];
}
