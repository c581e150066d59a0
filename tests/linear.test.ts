import { describe, expect, it } from "vitest";
import { mae, mse } from "../lib/loss";
import {
  LossName,
  columnMatrix,
  dLossdW,
  descend1d,
  fitLinear,
  gradientDescent,
  logSpacedEpochs,
  lossAndGradient,
  lossAt,
  lossOfW,
  predict,
  toMatrix,
} from "../lib/linear";
import { lectureLinear, lectureReference } from "../lib/lecture";
import { stepSlider, tangentLine } from "../lib/plot-anim";
import { inPanel, panelsLayout } from "../lib/plot-grid";
import { gridMinimum, lossContourFigure, lossSurface3dFigure, pathsOnContourFigure, walkFigure } from "../lib/linear/figures";
import { surfaceGrid } from "../lib/linear/grid";
import { mseStepLimit } from "../lib/linear/descent";
import { lossSurface } from "../lib/loss";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { mulberry32 } from "../lib/random";

// The course's seeded generator, so the synthetic data are the same every run.
const rng = mulberry32;

/** y = b + X·w + noise, X uniform in [lo, hi]. */
function synthetic(n: number, b: number, w: number[], noise: (r: () => number) => number, seed = 1, lo = -2, hi = 2) {
  const r = rng(seed);
  const X = Array.from({ length: n }, () => w.map(() => lo + (hi - lo) * r()));
  const y = X.map((row) => b + row.reduce((s, x, j) => s + w[j] * x, 0) + noise(r));
  return { X, y };
}

/** Solve A·x = c by Gaussian elimination with partial pivoting (a reference, independent of lib/). */
function solve(A: number[][], c: number[]): number[] {
  const n = c.length;
  const M = A.map((row, i) => [...row, c[i]]);
  for (let i = 0; i < n; i++) {
    let p = i;
    for (let r = i + 1; r < n; r++) if (Math.abs(M[r][i]) > Math.abs(M[p][i])) p = r;
    [M[i], M[p]] = [M[p], M[i]];
    for (let r = i + 1; r < n; r++) {
      const f = M[r][i] / M[i][i];
      for (let k = i; k <= n; k++) M[r][k] -= f * M[i][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = M[i][n];
    for (let k = i + 1; k < n; k++) s -= M[i][k] * x[k];
    x[i] = s / M[i][i];
  }
  return x;
}

/** Least squares by the normal equations: the exact MSE minimum. Returns [b, w…]. */
function leastSquares(X: number[][], y: number[]): number[] {
  const Z = X.map((row) => [1, ...row]);
  const p = Z[0].length;
  const A = Array.from({ length: p }, (_, a) => Array.from({ length: p }, (_, c) => Z.reduce((s, z) => s + z[a] * z[c], 0)));
  const c = Array.from({ length: p }, (_, a) => Z.reduce((s, z, i) => s + z[a] * y[i], 0));
  return solve(A, c);
}

/**
 * The exact least-absolute-deviations (median regression) fit, by brute force: an LAD
 * optimum passes through p = k + 1 data points, so try every p-subset.
 */
function exactLad(X: number[][], y: number[]): { theta: number[]; L: number } {
  const p = X[0].length + 1;
  const Z = X.map((row) => [1, ...row]);
  let best = { theta: [] as number[], L: Infinity };
  const choose = (start: number, picked: number[]): void => {
    if (picked.length === p) {
      const theta = solve(picked.map((i) => Z[i]), picked.map((i) => y[i]));
      if (theta.some((t) => !Number.isFinite(t))) return;
      const L = Z.reduce((s, z, i) => s + Math.abs(y[i] - z.reduce((a, zj, j) => a + zj * theta[j], 0)), 0) / y.length;
      if (L < best.L) best = { theta, L };
      return;
    }
    for (let i = start; i < Z.length; i++) choose(i + 1, [...picked, i]);
  };
  choose(0, []);
  return best;
}

describe("linear model: predictions and loss", () => {
  it("predicts b + X·w and its loss agrees with lib/loss", () => {
    const X = [
      [1, 2],
      [3, -1],
      [0, 0.5],
    ];
    const yHat = predict(X, { b: 0.5, w: [2, -1] });
    expect(yHat).toEqual([0.5 + 2 - 2, 0.5 + 6 + 1, 0.5 - 0.5]);
    const y = [1, 5, 2];
    const M = toMatrix(X);
    expect(lossAt(M, y, { b: 0.5, w: [2, -1] }, "mae")).toBeCloseTo(mae(y, yHat), 12);
    expect(lossAt(M, y, { b: 0.5, w: [2, -1] }, "mse")).toBeCloseTo(mse(y, yHat), 12);
  });

  it("rejects mismatched shapes with a clear message", () => {
    expect(() => toMatrix([[1, 2], [3]])).toThrow(/row 1/);
    expect(() => lossAndGradient(toMatrix([[1]]), [1, 2], 0, [1], "mae")).toThrow(/1 rows but y has 2/);
    expect(() => predict([[1, 2]], { b: 0, w: [1] })).toThrow(/2 columns but w has 1/);
  });
});

describe("linear model: gradient", () => {
  const { X, y } = synthetic(40, 0.7, [1.5, -0.8, 0.3], (r) => r() - 0.5, 7);
  const M = toMatrix(X);
  const h = 1e-6;

  // Central differences of L along each parameter; a reference that only uses the loss.
  function numericGradient(b: number, w: number[], loss: LossName): number[] {
    const L = (bb: number, ww: number[]) => lossAt(M, y, { b: bb, w: ww }, loss);
    const g = [(L(b + h, w) - L(b - h, w)) / (2 * h)];
    for (let j = 0; j < w.length; j++) {
      const wp = [...w];
      const wm = [...w];
      wp[j] += h;
      wm[j] -= h;
      g.push((L(b, wp) - L(b, wm)) / (2 * h));
    }
    return g;
  }

  /** Smallest |e_n| at (b, w): MAE is differentiable only where no error is 0. */
  function closestToKink(b: number, w: number[]): number {
    const yHat = predict(M, { b, w });
    return Math.min(...y.map((v, i) => Math.abs(v - yHat[i])));
  }

  const r = rng(99);
  const points = Array.from({ length: 6 }, () => ({ b: 2 * r() - 1, w: [3 * r() - 1.5, 3 * r() - 1.5, 3 * r() - 1.5] }));

  for (const loss of ["mae", "mse"] as LossName[]) {
    it(`${loss}: matches central finite differences at points away from kinks`, () => {
      let checked = 0;
      for (const { b, w } of points) {
        // Finite differences straddle a kink when some |e| < h·(1 + Σ|x|); skip those points for MAE.
        if (loss === "mae" && closestToKink(b, w) < 1e-3) continue;
        const g = lossAndGradient(M, y, b, w, loss);
        const num = numericGradient(b, w, loss);
        expect(g.db).toBeCloseTo(num[0], 6);
        g.dw.forEach((d, j) => expect(d).toBeCloseTo(num[j + 1], 6));
        checked++;
      }
      expect(checked).toBeGreaterThanOrEqual(4);
    });
  }

  it("mae: an exactly predicted example contributes 0 (subgradient sign(0) = 0)", () => {
    // Two examples, one with e = +1 and one with e = 0: only the first pushes.
    const g = lossAndGradient(toMatrix([[2], [5]]), [3, 5], 0, [1], "mae");
    expect(g.db).toBe(-0.5);
    expect(g.dw[0]).toBe(-1); // −(1/2)·(sign(1)·2 + sign(0)·5)
  });

  it("one parameter: L(w) and dL/dw with b fixed agree with the general gradient", () => {
    const x1 = X.map((row) => row[0]);
    const L = lossOfW(x1, y, 0.3, 1.2, "mse");
    expect(L).toBeCloseTo(mse(y, x1.map((x) => 0.3 + 1.2 * x)), 12);
    const slope = dLossdW(x1, y, 0.3, 1.2, "mse");
    expect(slope).toBeCloseTo((lossOfW(x1, y, 0.3, 1.2 + h, "mse") - lossOfW(x1, y, 0.3, 1.2 - h, "mse")) / (2 * h), 6);
  });
});

describe("gradient descent", () => {
  it("recovers known b, w from synthetic linear data (MSE, well scaled)", () => {
    const { X, y } = synthetic(200, 1.5, [2, -0.5], (r) => 0.01 * (r() - 0.5), 3);
    const r = gradientDescent(X, y, { loss: "mse", lr: 0.1, numEpochs: 500 });
    expect(r.b).toBeCloseTo(1.5, 2);
    expect(r.w[0]).toBeCloseTo(2, 2);
    expect(r.w[1]).toBeCloseTo(-0.5, 2);
    // The path starts at the origin and its loss goes down.
    expect(r.path[0]).toMatchObject({ epoch: 0, b: 0, w: [0, 0] });
    expect(r.path[r.path.length - 1].L).toBeLessThan(r.path[0].L / 100);
  });

  it("takes exactly the step w ← w − η·dL/dw, and keeps b fixed in 1-D", () => {
    const x1 = [1, 2, 3, 4];
    const y = [2, 4.5, 5.5, 8.5];
    const lr = 0.01;
    const path = descend1d(x1, y, { loss: "mse", b: 0.5, w0: 0.2, lr, steps: 3 });
    expect(path).toHaveLength(4);
    for (let t = 0; t < 3; t++) {
      expect(path[t].slope).toBeCloseTo(dLossdW(x1, y, 0.5, path[t].w, "mse"), 12);
      expect(path[t + 1].w).toBeCloseTo(path[t].w - lr * path[t].slope, 12);
    }
    const r = gradientDescent(columnMatrix(x1), y, { loss: "mae", lr, numEpochs: 5, b0: 0.5, learnB: false });
    expect(r.b).toBe(0.5);
  });

  it("stops when a too-large learning rate makes the loss blow up", () => {
    const { X, y } = synthetic(50, 0, [1], () => 0, 5, 10, 20);
    const r = gradientDescent(X, y, { loss: "mse", lr: 1, numEpochs: 10_000 });
    expect(Number.isFinite(r.L)).toBe(false);
    expect(r.path.length).toBeLessThan(10_000);
  });

  it("records the requested epochs", () => {
    const e = logSpacedEpochs(1000, 12);
    expect(e[0]).toBe(0);
    expect(e[e.length - 1]).toBe(1000);
    expect([...e].sort((a, b) => a - b)).toEqual(e);
    const { X, y } = synthetic(20, 1, [1], () => 0, 2);
    const r = gradientDescent(X, y, { loss: "mae", lr: 0.01, numEpochs: 1000, recordEpochs: e });
    expect(r.path.map((s) => s.epoch)).toEqual(e);
  });
});

describe("fitLinear", () => {
  it("MSE: reaches the least-squares solution of the normal equations", () => {
    // Correlated, unscaled columns (like yesterday's and last week's counts).
    const r = rng(11);
    const X = Array.from({ length: 120 }, () => {
      const base = 10 + 3 * r();
      return [base + 0.3 * r(), base + 0.3 * r(), base + 0.3 * r()];
    });
    const y = X.map((row) => 2 + 0.5 * row[0] + 0.2 * row[1] - 0.1 * row[2] + 0.2 * (r() - 0.5));
    const exact = leastSquares(X, y);
    const fit = fitLinear(X, y, { loss: "mse" });
    expect(fit.b).toBeCloseTo(exact[0], 2);
    fit.w.forEach((w, j) => expect(w).toBeCloseTo(exact[j + 1], 2));
    expect(fit.L).toBeCloseTo(lossAt(toMatrix(X), y, fit, "mse"), 10);
  });

  it("MAE: reaches the exact median-regression (LAD) optimum in 2-D", () => {
    const { X, y } = synthetic(25, 0.5, [1.2, -0.7], (r) => (r() < 0.5 ? -1 : 1) * Math.log(1 / (1 - r())), 21, 0, 10);
    const exact = exactLad(X, y);
    const fit = fitLinear(X, y);
    expect(fit.L).toBeLessThan(exact.L * (1 + 1e-4));
    expect(fit.b).toBeCloseTo(exact.theta[0], 1);
    fit.w.forEach((w, j) => expect(w).toBeCloseTo(exact.theta[j + 1], 2));
  });

  it("MAE with outliers stays on the median-regression line; MSE is pulled away", () => {
    // y = 1 + 2x with small noise, and 15% of the points shifted up by 30.
    const { X, y } = synthetic(60, 1, [2], (r) => 0.2 * (r() - 0.5), 4, 0, 10);
    const yOut = y.map((v, i) => (i % 7 === 0 ? v + 30 : v));
    const lad = exactLad(X, yOut);
    const fitMae = fitLinear(X, yOut, { loss: "mae" });
    const fitMse = fitLinear(X, yOut, { loss: "mse" });
    const dist = (p: { b: number; w: number[] }) => Math.hypot(p.b - lad.theta[0], p.w[0] - lad.theta[1]);
    expect(dist(fitMae)).toBeLessThan(0.02);
    expect(dist(fitMse)).toBeGreaterThan(1);
    expect(fitMae.L).toBeLessThan(lad.L * (1 + 1e-4));
    // And the MAE line is close to the true one, the MSE line is not.
    expect(Math.abs(fitMae.b - 1)).toBeLessThan(0.2);
    expect(Math.abs(fitMse.b - 1)).toBeGreaterThan(2);
  });

  it("is deterministic: two runs give identical numbers", () => {
    const { X, y } = synthetic(300, 3, [0.4, 0.3, -0.2, 0.1], (r) => r() - 0.5, 8, 5, 15);
    const a = fitLinear(X, y, { numEpochs: 300 });
    const b = fitLinear(X, y, { numEpochs: 300 });
    expect(b).toEqual(a);
    const g1 = gradientDescent(X, y, { loss: "mae", lr: 0.001, numEpochs: 200 });
    const g2 = gradientDescent(X, y, { loss: "mae", lr: 0.001, numEpochs: 200 });
    expect(g2).toEqual(g1);
  });
});

describe("lecture reference and plot helpers", () => {
  it("loads the lecture's published numbers from data/", () => {
    const ref = lectureReference();
    expect(ref.linear_1_day).toMatchObject({ b: 0.1, w: 0.97, train_L: 0.48, test_L: 0.58 });
    expect(ref.linear_7_day_weights.w).toHaveLength(7);
    expect(lectureLinear(56)).toMatchObject({ train_L: 0.32, test_L: 0.46 });
    expect(lectureLinear(3)).toBeUndefined();
  });

  it("builds a restyle slider and a tangent line", () => {
    const s = stepSlider(
      [
        { label: "0", traces: [{ x: [1], y: [2] }] },
        { label: "1", traces: [{ x: [1, 3], y: [2, 4] }] },
      ],
      [2],
    );
    expect(s.active).toBe(1);
    const steps = s.steps as { method: string; args: unknown[] }[];
    expect(steps[1]).toEqual({ label: "1", method: "restyle", args: [{ x: [[1, 3]], y: [[2, 4]] }, [2]] });
    expect(() => stepSlider([{ label: "0", traces: [] }], [0])).toThrow(/expected 1/);
    expect(tangentLine(1, 5, 2, 0.5)).toEqual({ x: [0.5, 1.5], y: [4, 6] });
  });

  it("lays out panels side by side and animates the descent figures", () => {
    const lay = panelsLayout(["a", "b", "c"], "x", "y");
    const domains = ["xaxis", "xaxis2", "xaxis3"].map((k) => (lay[k] as { domain: number[] }).domain);
    expect(domains[0][0]).toBe(0);
    expect(domains[2][1]).toBeCloseTo(1, 12);
    for (let i = 1; i < 3; i++) expect(domains[i][0]).toBeGreaterThan(domains[i - 1][1]); // no overlap
    expect(inPanel({ type: "scatter" }, 2)).toEqual({ type: "scatter", xaxis: "x3", yaxis: "y3" });

    const x1 = [1, 2, 3, 4];
    const y = [2, 4.5, 5.5, 8.5];
    const walk = descend1d(x1, y, { loss: "mae", b: 0, w0: 0, lr: 0.1, steps: 5 });
    const f = walkFigure([0, 1, 2, 3], [1, 2, 3, 4], walk, "t");
    const steps = ((f.layout!.sliders as { steps: { args: [{ x: number[][] }, number[]] }[] }[])[0]).steps;
    expect(steps).toHaveLength(6);
    // Step t shows the first t + 1 points of the walk, ending at w_t.
    expect(steps[2].args[0].x[0]).toEqual([walk[0].w, walk[1].w, walk[2].w]);
    expect(steps[2].args[1]).toEqual([1, 2, 3]);

    const r = gradientDescent([[1], [2], [3]], [2, 3, 4], { loss: "mse", lr: 0.05, numEpochs: 4 });
    const g = pathsOnContourFigure([0, 1], [0, 1], [[1, 2], [3, 4]], [{ name: "a", steps: r.path, color: "red" }], "t");
    expect(g.data).toHaveLength(4); // contour, path, current point, the labelled minimum
    expect(g.data[3]).toMatchObject({ x: [0], y: [0], text: ["grid minimum"] });
    expect(() => pathsOnContourFigure([0, 1], [0, 1], [[1, 2], [3, 4]], [{ name: "a", steps: r.path, color: "red" }, { name: "b", steps: r.path.slice(1), color: "blue" }], "t")).toThrow(/"b" has 4 steps/);
  });
});

describe("fitLinear from random starts (seed)", () => {
  it("starts where the seed says, and every start ends at the same (convex) minimum", () => {
    const { X, y } = synthetic(40, 2, [1.5], (r) => (r() < 0.5 ? -1 : 1) * Math.log(1 / (1 - r())), 31, 0, 10);
    const exact = exactLad(X, y);
    const zero = fitLinear(X, y);
    // No seed: zero in standardised units, i.e. w = 0 and b = the mean of y.
    expect(zero.start.w[0]).toBeCloseTo(0, 12);
    expect(zero.start.b).toBeCloseTo(y.reduce((s, v) => s + v, 0) / y.length, 10);
    const fits = [1, 2, 3, 4].map((seed) => fitLinear(X, y, { seed }));
    const starts = new Set(fits.map((f) => f.start.w[0].toFixed(6)));
    expect(starts.size).toBe(4); // four different starting points
    expect(fitLinear(X, y, { seed: 2 })).toEqual(fits[1]); // same seed, same numbers
    const given = fitLinear(X, y, { start: { b: -7, w: [3] }, seed: 1 }); // start overrides seed
    expect(given.start.b).toBeCloseTo(-7, 10);
    expect(given.start.w[0]).toBeCloseTo(3, 10);
    fits.push(given);
    for (const f of fits) {
      expect(f.L).toBeLessThan(exact.L * (1 + 1e-4));
      expect(f.w[0]).toBeCloseTo(exact.theta[1], 2);
      expect(f.numEpochs).toBe(2000);
    }
  });
});

/** The mean absolute / squared error of y = b + w·x as a function of θ = (b, w). */
const lossOfTheta = (x: number[], y: number[], loss: LossName) => (t: number[]) =>
  (loss === "mae" ? mae : mse)(y, x.map((xi) => t[0] + t[1] * xi));

describe("convexity: the linear model's loss has no local minima, a network's can", () => {
  it("MAE and MSE of y = b + w·x lie below the chord between any two parameter points", () => {
    const { X, y } = synthetic(50, 1, [0.8], (r) => 3 * (r() - 0.5), 41, 0, 10);
    const x = X.map((r) => r[0]);
    const r = rng(5);
    for (const loss of ["mae", "mse"] as LossName[]) {
      const L = lossOfTheta(x, y, loss);
      for (let trial = 0; trial < 200; trial++) {
        const p = [10 * r() - 5, 4 * r() - 2];
        const q = [10 * r() - 5, 4 * r() - 2];
        const t = r();
        const mid = [t * p[0] + (1 - t) * q[0], t * p[1] + (1 - t) * q[1]];
        expect(L(mid)).toBeLessThanOrEqual(t * L(p) + (1 - t) * L(q) + 1e-9);
      }
    }
  });

  it("a two-layer model y = c·relu(w·x) is not convex: two exact fits, a worse point between them", () => {
    // y = x on x > 0 is fitted exactly by (c, w) = (2, 0.5) and (0.5, 2); their midpoint (1.25, 1.25) gives 1.5625·x.
    const x = [1, 2, 3, 4];
    const y = x.slice();
    const L = (c: number, w: number) => mae(y, x.map((xi) => c * Math.max(0, w * xi)));
    expect(L(2, 0.5)).toBe(0);
    expect(L(0.5, 2)).toBe(0);
    expect(L(1.25, 1.25)).toBeGreaterThan(0.5 * L(2, 0.5) + 0.5 * L(0.5, 2) + 1);
  });
});

describe("loss-surface pictures", () => {
  const bs = [0, 1, 2, 3];
  const ws = [0, 0.5, 1];
  const z = ws.map((w) => bs.map((b) => (b - 2) ** 2 + (w - 0.5) ** 2 + 1)); // lowest at b = 2, w = 0.5

  it("marks and labels the grid minimum, with low values drawn dark (Viridis, not reversed)", () => {
    expect(gridMinimum(bs, ws, z)).toEqual({ b: 2, w: 0.5, L: 1 });
    const f = lossContourFigure(bs, ws, z, "t");
    expect(f.data[0]).toMatchObject({ type: "contour", colorscale: "Viridis" });
    expect(f.data[0].reversescale).toBeFalsy(); // Viridis' low end is dark purple: dark = low
    expect(f.data[1]).toMatchObject({ x: [2], y: [0.5], text: ["grid minimum"] });
    const logged = lossContourFigure(bs, ws, z, "t", { colorValues: z.map((r) => r.map(Math.log10)) });
    expect(logged.data[1]).toMatchObject({ x: [2], y: [0.5] }); // the marker follows z, not the colours
    const s = lossSurface3dFigure(bs, ws, z, "t");
    expect(s.data[0].reversescale).toBeFalsy();
    expect(s.data[1]).toMatchObject({ x: [2], y: [0.5], z: [1] });
  });

  it("places the surface grid around the data's best lines, on any scale", () => {
    for (const scale of [0.001, 1, 1000]) {
      const { X, y } = synthetic(80, 3 * scale, [0.6], (r) => scale * (r() - 0.5), 51, 5 * scale, 15 * scale);
      const x = X.map((r) => r[0]);
      const g = surfaceGrid(x, y);
      const fit = fitLinear(X, y);
      expect(fit.b).toBeGreaterThan(g.bs[0]);
      expect(fit.b).toBeLessThan(g.bs[g.bs.length - 1]);
      expect(fit.w[0]).toBeGreaterThan(g.ws[0]);
      expect(fit.w[0]).toBeLessThan(g.ws[g.ws.length - 1]);
      // The grid's own minimum is next to the fitted line: within a grid cell or two.
      const best = lossSurface(x, y, g.bs, g.ws, mae).best;
      expect(Math.abs(best.w - fit.w[0])).toBeLessThan(3 * (g.ws[1] - g.ws[0]));
    }
    expect(() => surfaceGrid([1, 2], [1])).toThrow(/same number/);
  });
});

describe("MSE step limit", () => {
  it("gradient descent settles just below 2/λmax and blows up just above it", () => {
    const { X, y } = synthetic(100, 2, [0.7], (r) => r() - 0.5, 61, 3, 9);
    const limit = mseStepLimit(X.map((r) => r[0]));
    const below = gradientDescent(X, y, { loss: "mse", lr: 0.95 * limit, numEpochs: 20_000 });
    const above = gradientDescent(X, y, { loss: "mse", lr: 1.05 * limit, numEpochs: 20_000 });
    const exact = leastSquares(X, y);
    expect(below.b).toBeCloseTo(exact[0], 3);
    expect(below.w[0]).toBeCloseTo(exact[1], 4);
    expect(Number.isFinite(above.L)).toBe(false);
  });
});

describe("notebook 02's hand-written gradient-descent loop", () => {
  // The loop the learner reads in notebook 02, taken from the notebook itself, run
  // against lib/linear's gradientDescent (a separate implementation: column-major
  // matrix, recorded path) on the same data: they must take the same steps.
  const nb = JSON.parse(readFileSync(join(__dirname, "..", "notebooks", "02-gradient-descent.ipynb"), "utf8")) as { cells: { cell_type: string; source: string | string[] }[] };
  const cells = nb.cells.map((c) => (Array.isArray(c.source) ? c.source.join("") : c.source));
  const src = cells.find((c) => c.includes("function gradientDescentByHand("));
  type ByHand = (x1: number[], y: number[], lr: number, decay: number, numEpochs: number) => { b: number; w: number };

  it("is in the notebook, in a cell of its own", () => {
    expect(src).toBeDefined();
    expect(cells.filter((c) => c.includes("function gradientDescentByHand(")).length).toBe(1);
  });

  it("takes the same steps as lib/linear's gradientDescent (constant and decaying η)", () => {
    const js = ts.transpileModule(src!, { compilerOptions: { target: ts.ScriptTarget.ES2020, module: ts.ModuleKind.None } }).outputText;
    const byHand = new Function(`${js}\nreturn gradientDescentByHand;`)() as ByHand;
    const { X, y } = synthetic(200, 4, [0.6], (r) => 2 * (r() - 0.5), 71, 5, 15);
    const x1 = X.map((r) => r[0]);
    for (const [lr, decay, numEpochs] of [[0.05, 0, 300], [0.05, 1e-3, 3000], [0.2, 1e-4, 50]]) {
      const a = byHand(x1, y, lr, decay, numEpochs);
      const b = gradientDescent(X, y, { loss: "mae", lr, decay, numEpochs });
      expect(a.b).toBeCloseTo(b.b, 12);
      expect(a.w).toBeCloseTo(b.w[0], 12);
      expect(a.b).not.toBe(0); // it moved
    }
    // And it descends: the final loss is far below the start's.
    const end = byHand(x1, y, 0.05, 1e-3, 3000);
    expect(mae(y, x1.map((x) => end.b + end.w * x))).toBeLessThan(0.2 * mae(y, x1.map(() => 0)));
  });
});
