// From a piecewise-linear curve to sigmoids and ReLUs (lecture 1, "model bias").
//
// Any piecewise-linear curve = a constant + a sum of hard sigmoids (one per kink
// segment); a hard sigmoid ≈ c·sigmoid(b + w·x); and a hard sigmoid is exactly the
// difference of two ReLUs. Plain numbers here: these are for drawing and for checking
// the idea, the networks that learn live in nets.ts.

export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
export const relu = (x: number): number => (x > 0 ? x : 0);

/** c·sigmoid(b + w·x): the lecture's smooth building block. */
export const scaledSigmoid = (x: number, c: number, b: number, w: number): number => c * sigmoid(b + w * x);

/** A hard sigmoid: 0 left of x0, rises linearly to `height` at x1, flat after. */
export interface HardSigmoid {
  x0: number;
  x1: number;
  height: number; // may be negative: a step down
}

export function hardSigmoid(x: number, h: HardSigmoid): number {
  if (x <= h.x0) return 0;
  if (x >= h.x1) return h.height;
  return (h.height * (x - h.x0)) / (h.x1 - h.x0);
}

/** The hard sigmoid as two ReLUs: s·ReLU(x − x0) − s·ReLU(x − x1), s = height / (x1 − x0). */
export function hardSigmoidFromRelus(x: number, h: HardSigmoid): number {
  const s = h.height / (h.x1 - h.x0);
  return s * relu(x - h.x0) - s * relu(x - h.x1);
}

/** A piecewise-linear curve through points (x sorted ascending), flat outside them. */
export interface Knots {
  x: number[];
  y: number[];
}

export function piecewiseLinear(x: number, k: Knots): number {
  const n = k.x.length;
  if (x <= k.x[0]) return k.y[0];
  if (x >= k.x[n - 1]) return k.y[n - 1];
  let i = 1;
  while (k.x[i] < x) i++;
  const t = (x - k.x[i - 1]) / (k.x[i] - k.x[i - 1]);
  return k.y[i - 1] + t * (k.y[i] - k.y[i - 1]);
}

/** The lecture's decomposition: curve = constant + Σ hard sigmoids, one per segment. */
export interface HardSigmoidSum {
  constant: number;
  pieces: HardSigmoid[];
}

export function asHardSigmoids(k: Knots): HardSigmoidSum {
  if (k.x.length < 2 || k.x.length !== k.y.length) throw new Error("asHardSigmoids: need ≥ 2 knots with as many y as x");
  for (let i = 1; i < k.x.length; i++)
    if (!(k.x[i] > k.x[i - 1])) throw new Error("asHardSigmoids: knot x must increase strictly");
  const pieces = k.x.slice(1).map((x1, i) => ({ x0: k.x[i], x1, height: k.y[i + 1] - k.y[i] }));
  return { constant: k.y[0], pieces };
}

/** constant + Σ pieces, optionally only the first `upTo` pieces (to draw it piece by piece). */
export function evalHardSigmoidSum(x: number, s: HardSigmoidSum, upTo = s.pieces.length): number {
  let v = s.constant;
  for (let i = 0; i < upTo; i++) v += hardSigmoid(x, s.pieces[i]);
  return v;
}

/**
 * The sigmoid that imitates a hard sigmoid: same height, same centre, same slope at
 * the centre (a sigmoid's slope there is w/4, so w = 4/(x1 − x0)).
 */
export function sigmoidLike(h: HardSigmoid): { c: number; b: number; w: number } {
  const w = 4 / (h.x1 - h.x0);
  return { c: h.height, b: (-w * (h.x0 + h.x1)) / 2, w };
}

/** y ≈ b + Σ_i c_i·sigmoid(b_i + w_i·x) */
export interface SigmoidCurve {
  b: number;
  units: { c: number; b: number; w: number }[];
}

export function evalSigmoidCurve(x: number, m: SigmoidCurve): number {
  let v = m.b;
  for (const u of m.units) v += u.c * sigmoid(u.b + u.w * x);
  return v;
}

/**
 * Fit y ≈ b + Σ_{i=1..n} c_i·sigmoid(b_i + w_i·x) with n sigmoids. Centres are spread
 * evenly over the x range and each is as wide as the gap between centres (the
 * sigmoidLike of one hard-sigmoid segment); with b_i, w_i fixed the model is linear
 * in (b, c), so least squares gives the best heights directly: no iterations, no seed.
 */
export function fitSigmoids(x: ArrayLike<number>, y: ArrayLike<number>, n: number, ridge = 1e-8): SigmoidCurve {
  if (!Number.isInteger(n) || n < 1) throw new Error(`fitSigmoids: n must be a whole number ≥ 1, got ${n}`);
  if (x.length !== y.length || x.length === 0) throw new Error("fitSigmoids: x and y need the same, non-zero length");
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < x.length; i++) {
    lo = Math.min(lo, x[i]);
    hi = Math.max(hi, x[i]);
  }
  const gap = (hi - lo) / n;
  const units = Array.from({ length: n }, (_, i) => sigmoidLike({ x0: lo + i * gap, x1: lo + (i + 1) * gap, height: 1 }));
  // Design matrix A [N, n+1]: a column of ones (b) and one column per sigmoid (c_i).
  const p = n + 1;
  const AtA = Array.from({ length: p }, () => new Float64Array(p));
  const Aty = new Float64Array(p);
  const row = new Float64Array(p);
  for (let r = 0; r < x.length; r++) {
    row[0] = 1;
    for (let i = 0; i < n; i++) row[i + 1] = sigmoid(units[i].b + units[i].w * x[r]);
    for (let i = 0; i < p; i++) {
      Aty[i] += row[i] * y[r];
      for (let j = 0; j < p; j++) AtA[i][j] += row[i] * row[j];
    }
  }
  for (let i = 1; i < p; i++) AtA[i][i] += ridge * x.length; // neighbouring sigmoids are nearly collinear
  const theta = solve(AtA, Aty);
  return { b: theta[0], units: units.map((u, i) => ({ ...u, c: theta[i + 1] })) };
}

/** Solve A·x = v by Gaussian elimination with partial pivoting (A is small: n+1 ≤ a few hundred). */
export function solve(A: ArrayLike<number>[], v: ArrayLike<number>): number[] {
  const n = v.length;
  const M = A.map((r, i) => [...Array.from(r), v[i]]);
  for (let col = 0; col < n; col++) {
    let piv = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(M[r][col]) > Math.abs(M[piv][col])) piv = r;
    [M[col], M[piv]] = [M[piv], M[col]];
    if (M[col][col] === 0) throw new Error("solve: singular matrix");
    for (let r = col + 1; r < n; r++) {
      const f = M[r][col] / M[col][col];
      if (f !== 0) for (let c = col; c <= n; c++) M[r][c] -= f * M[col][c];
    }
  }
  const out = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let c = r + 1; c < n; c++) s -= M[r][c] * out[c];
    out[r] = s / M[r][r];
  }
  return out;
}
