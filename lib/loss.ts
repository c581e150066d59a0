// Losses: how far the predictions yHat are from the labels y.
//   MAE  L = mean |y − yHat|     (the lecture's loss, in the units of y)
//   MSE  L = mean (y − yHat)²

export function mae(y: ArrayLike<number>, yHat: ArrayLike<number>): number {
  checkLengths(y, yHat);
  let s = 0;
  for (let i = 0; i < y.length; i++) s += Math.abs(y[i] - yHat[i]);
  return s / y.length;
}

export function mse(y: ArrayLike<number>, yHat: ArrayLike<number>): number {
  checkLengths(y, yHat);
  let s = 0;
  for (let i = 0; i < y.length; i++) s += (y[i] - yHat[i]) ** 2;
  return s / y.length;
}

function checkLengths(y: ArrayLike<number>, yHat: ArrayLike<number>): void {
  if (y.length !== yHat.length) throw new Error(`loss: y has ${y.length} values but yHat has ${yHat.length}`);
  if (y.length === 0) throw new Error("loss: no values");
}

export type Loss = (y: ArrayLike<number>, yHat: ArrayLike<number>) => number;

/** Evenly spaced values from `start` to `stop` inclusive. */
export function linspace(start: number, stop: number, n: number): number[] {
  if (n < 2) return [start];
  return Array.from({ length: n }, (_, i) => start + ((stop - start) * i) / (n - 1));
}

/**
 * The loss of y = b + w·x1 over a grid: z[i][j] = L(b = bs[j], w = ws[i]), the
 * layout plotly's heatmap/contour/surface expect (rows follow the y axis: w).
 */
export function lossSurface(x1: ArrayLike<number>, y: ArrayLike<number>, bs: number[], ws: number[], loss: Loss = mae) {
  const yHat = new Float64Array(y.length);
  let best = { b: bs[0], w: ws[0], L: Infinity };
  const z = ws.map((w) =>
    bs.map((b) => {
      for (let n = 0; n < y.length; n++) yHat[n] = b + w * x1[n];
      const L = loss(y, yHat);
      if (L < best.L) best = { b, w, L };
      return L;
    }),
  );
  return { z, best };
}
