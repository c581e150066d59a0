import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend";
import {
  lectureForm,
  matrixForward,
  matrixParameterCount,
  mlp,
  parameterCount,
  parameterCounts,
  randomMatrixNet,
  reluKinks,
  setFromMatrixNet,
  toMatrixNet,
} from "../lib/nets";
import {
  asHardSigmoids,
  evalHardSigmoidSum,
  evalSigmoidCurve,
  fitSigmoids,
  hardSigmoid,
  hardSigmoidFromRelus,
  piecewiseLinear,
  sigmoid,
  sigmoidLike,
} from "../lib/sigmoid";

beforeAll(async () => {
  await initBackend();
});

describe("parameter counts", () => {
  it("counts inputs × outputs + biases per layer (56 → 100 → 100 → 1 = 15,901)", () => {
    expect(parameterCount(56, [100, 100])).toBe(15_901);
    expect(parameterCounts(56, [100, 100]).map((l) => l.total)).toEqual([5_700, 10_100, 101]);
    expect(parameterCount(56, [])).toBe(57); // the 56-day linear model: 56 weights + b
    expect(parameterCount(56, [1000])).toBe(56 * 1000 + 1000 + 1000 + 1);
  });

  it("agrees with TensorFlow.js' own count for every model the notebooks train", () => {
    for (const [width, depth] of [[10, 1], [100, 1], [1000, 1], [100, 2], [100, 3], [100, 4], [100, 0]]) {
      const m = mlp({ inputs: 56, width, depth, activation: "relu", seed: 1 });
      expect(m.countParams()).toBe(parameterCount(56, Array(depth).fill(width)));
      m.dispose();
    }
  });

  it("counts θ of the matrix form from its shapes", () => {
    const net = randomMatrixNet([3, 4, 1], "sigmoid", 7);
    expect(matrixParameterCount(net)).toBe(3 * 4 + 4 + 4 + 1);
  });
});

describe("the matrix form y = b + cᵀσ(b + W·x)", () => {
  it("computes the lecture's formula by hand for a 2-input, 2-sigmoid net", () => {
    const net = { layers: [{ W: [[1, -2], [0.5, 3]], b: [0.1, -0.2] }, { W: [[2, -1]], b: [0.3] }], activation: "sigmoid" as const };
    const x = [0.7, -0.4];
    const r1 = 0.1 + 1 * 0.7 + -2 * -0.4;
    const r2 = -0.2 + 0.5 * 0.7 + 3 * -0.4;
    expect(matrixForward(net, x)[0]).toBeCloseTo(0.3 + 2 * sigmoid(r1) - 1 * sigmoid(r2), 12);
    const f = lectureForm(net);
    expect(f.c).toEqual([2, -1]);
    expect(f.b).toBe(0.3);
  });

  for (const [activation, sizes] of [["relu", [56, 100, 100, 1]], ["sigmoid", [7, 10, 1]]] as const) {
    it(`equals the TensorFlow.js model with the same weights (${activation}, ${sizes.join("→")})`, () => {
      const net = randomMatrixNet([...sizes], activation, 3, 0.2);
      const model = mlp({ inputs: sizes[0], width: sizes[1], depth: sizes.length - 2, activation, seed: 9 });
      setFromMatrixNet(model, net);
      const xs = randomMatrixNet([sizes[0], 5], "relu", 11, 2).layers[0].W; // 5 inputs [5, inputs]
      const yTf = (model.predict(tf.tensor2d(xs)) as tf.Tensor).arraySync() as number[][];
      xs.forEach((x, i) => expect(yTf[i][0]).toBeCloseTo(matrixForward(net, x)[0], 4));
      // and reading the weights back gives the same matrices
      const back = toMatrixNet(model, activation);
      expect(back.layers[0].W[2][5]).toBeCloseTo(net.layers[0].W[2][5], 6);
      model.dispose();
    });
  }
});

describe("hard sigmoids, sigmoids and ReLUs", () => {
  const knots = { x: [0, 1, 2.5, 3, 5], y: [1, 3, 2, 2, -1] };

  it("constant + Σ hard sigmoids reproduces a piecewise-linear curve exactly", () => {
    const s = asHardSigmoids(knots);
    expect(s.constant).toBe(1);
    expect(s.pieces.map((p) => p.height)).toEqual([2, -1, 0, -3]);
    for (let x = -1; x <= 6; x += 0.05) expect(evalHardSigmoidSum(x, s)).toBeCloseTo(piecewiseLinear(x, knots), 12);
  });

  it("a hard sigmoid is exactly two ReLUs", () => {
    const h = { x0: -0.5, x1: 1.5, height: 3 };
    for (let x = -3; x <= 3; x += 0.1) expect(hardSigmoidFromRelus(x, h)).toBeCloseTo(hardSigmoid(x, h), 12);
  });

  it("the look-alike sigmoid has the hard sigmoid's centre, height and slope", () => {
    const h = { x0: 2, x1: 4, height: 5 };
    const { c, b, w } = sigmoidLike(h);
    expect(c * sigmoid(b + w * 3)).toBeCloseTo(2.5, 12); // half-way at the centre
    expect((c * w) / 4).toBeCloseTo(5 / 2, 12); // slope at the centre = height / width
  });

  it("more sigmoids fit a curve better, and many sigmoids fit a piecewise-linear one closely", () => {
    const xs = Array.from({ length: 400 }, (_, i) => (5 * i) / 399);
    const ys = xs.map((x) => piecewiseLinear(x, knots));
    const err = (n: number): number => {
      const m = fitSigmoids(xs, ys, n);
      return Math.max(...xs.map((x, i) => Math.abs(evalSigmoidCurve(x, m) - ys[i])));
    };
    const e = [1, 3, 10, 100].map(err);
    expect(e[1]).toBeLessThan(e[0]);
    expect(e[2]).toBeLessThan(e[1]);
    expect(e[3]).toBeLessThan(0.05);
  });
});

describe("the article's parameter counts, corrected", () => {
  it("3 features and 3 sigmoids: W has 3·3 = 9, W and b together 3·3 + 3 = 12, and y = b + cᵀσ(b + Wx) has 9 + 3 + 3 + 1 = 16", () => {
    const c = parameterCounts(3, [3]);
    expect(c[0].weights).toBe(9);
    expect(c[0].total).toBe(12); // the article writes 3*3 + 3 = 9
    expect(parameterCount(3, [3])).toBe(16);
    expect(matrixParameterCount(randomMatrixNet([3, 3, 1], "sigmoid", 1))).toBe(16);
  });
  it("3 features and 100 sigmoids: 100·3 + 100 + 100 + 1 = 501 (the article writes 100*3 + 100 = 400)", () => {
    expect(parameterCount(3, [100])).toBe(501);
  });
});

describe("reluKinks", () => {
  it("finds where each unit bends, in the data's units", () => {
    // units: ReLU(2x − 1) bends at 0.5, ReLU(−x + 3) at 3, a unit with c = 0 is left out
    const net = { activation: "relu" as const, layers: [{ W: [[2], [-1], [5]], b: [-1, 3, 1] }, { W: [[1, 0.5, 0]], b: [0] }] };
    expect(reluKinks(net)).toEqual([0.5, 3]);
    expect(reluKinks(net, { mu: 10, sigma: 2 })).toEqual([11, 16]);
    // the output really bends there: slopes differ on both sides of each kink
    const f = (x: number) => matrixForward(net, [x])[0];
    for (const k of [0.5, 3]) expect(Math.abs((f(k + 0.1) - f(k)) - (f(k) - f(k - 0.1)))).toBeGreaterThan(0.01);
  });
});
