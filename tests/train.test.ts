import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs";
import { BackendInfo, initBackend } from "../lib/backend";
import { matrixForward, mlp, mulberry32, toMatrixNet } from "../lib/nets";
import { HostAdam, XY, clearlyBelow, fmtMeanSd, denseForward, evaluate, meanSd, predictNet, scaleOf, shuffled, trainNet, trainSeeds, trainSpec } from "../lib/train";

let info: BackendInfo;
beforeAll(async () => {
  info = await initBackend();
});

/** y = 1 + Σ_j x_j·(−1)^j / (j+1) + a kink, with seeded x: a small, learnable set. */
function synthetic(n: number, k: number, seed: number): XY {
  const r = mulberry32(seed);
  const X = Array.from({ length: n }, () => Array.from({ length: k }, () => 10 + 3 * r()));
  const y = X.map((x) => 1 + x.reduce((s, v, j) => s + (v * (j % 2 ? -1 : 1)) / (j + 1), 0) + Math.max(0, x[0] - 11.5));
  return { X, y };
}

describe("backend", () => {
  it("initialises once and says which backend ran", async () => {
    expect(["tensorflow", "wasm", "cpu"]).toContain(info.name);
    expect(await initBackend()).toBe(info);
    expect(tf.getBackend()).toBe(info.name);
  });

  it("matMul with transposed operands (the backward pass's products) matches plain JS", () => {
    const r = mulberry32(5);
    const rand = (rows: number, cols: number): number[][] => Array.from({ length: rows }, () => Array.from({ length: cols }, () => r() - 0.5));
    const T = (M: number[][]): number[][] => M[0].map((_, j) => M.map((row) => row[j]));
    const mm = (P: number[][], Q: number[][]): number[][] => P.map((row) => Q[0].map((_, j) => row.reduce((s, v, k) => s + v * Q[k][j], 0)));
    const A = rand(37, 6);
    const B = rand(37, 4);
    const C = rand(4, 6);
    const D = rand(6, 37);
    const cases: [number[][], number[][], boolean, boolean, number[][]][] = [
      [A, B, true, false, mm(T(A), B)], // Aᵀ·B  [6, 4]: dW = xᵀ·dy
      [A, C, false, true, mm(A, T(C))], // A·Cᵀ  [37, 4]: dx = dy·Wᵀ
      [B, D, true, true, mm(T(B), T(D))], // Bᵀ·Dᵀ [4, 6]
    ];
    for (const [P, Q, tA, tB, ref] of cases) {
      const got = tf.matMul(tf.tensor2d(P), tf.tensor2d(Q), tA, tB).arraySync() as number[][];
      expect(got.length).toBe(ref.length);
      ref.forEach((row, i) => row.forEach((v, j) => expect(got[i][j]).toBeCloseTo(v, 5)));
    }
    // batched (3-D) operands, as layers send them
    const got3 = tf.matMul(tf.tensor3d([A]), tf.tensor3d([B]), true, false).arraySync() as number[][][];
    expect(got3[0][2][3]).toBeCloseTo(mm(T(A), B)[2][3], 5);
  });
});

describe("training", () => {
  const data = synthetic(120, 8, 1);
  const test = synthetic(40, 8, 2);

  for (const batchSize of [0, 32]) {
    it(`a second run prints the same losses (${batchSize ? "mini-batch, seeded shuffle" : "full batch"})`, async () => {
      const run = async () => {
        const model = mlp({ inputs: 8, width: 16, depth: 2, activation: "relu", seed: 4 });
        const r = await trainNet(model, data, { numEpochs: 12, batchSize, lr: 0.01, seed: 3, recordEvery: 3, heldOut: test, progress: false });
        model.dispose();
        return r;
      };
      const [a, b] = [await run(), await run()];
      expect(a.trainLoss).toEqual(b.trainLoss);
      expect(a.heldOutLoss).toEqual(b.heldOutLoss);
      expect(a.heldOutLoss.length).toBe(5);
      expect(a.finalTrain).toBe(b.finalTrain);
      expect(a.epochs).toEqual([1, 3, 6, 9, 12]);
    });
  }

  it("learns: the loss falls, and the reported loss is the MAE of the model's predictions", async () => {
    const model = mlp({ inputs: 8, width: 16, depth: 1, activation: "relu", seed: 1 });
    const r = await trainNet(model, data, { numEpochs: 150, lr: 0.01, recordEvery: 150, progress: false });
    expect(r.trainLoss[r.trainLoss.length - 1]).toBeLessThan(r.trainLoss[0] / 3);
    // The final loss, recomputed here from the matrix form of the trained weights.
    const net = toMatrixNet(model, "relu");
    const { mu, sigma } = r.scale;
    const yHat = data.X.map((x) => matrixForward(net, x.map((v) => (v - mu) / sigma))[0] * sigma + mu);
    const maeHand = yHat.reduce((s, v, i) => s + Math.abs(v - data.y[i]), 0) / data.y.length;
    expect(r.finalTrain).toBeCloseTo(maeHand, 4);
    expect(evaluate(model, data, r.scale)).toBe(r.finalTrain);
  });

  it("a different shuffle seed gives different mini-batch losses", async () => {
    const run = async (seed: number) => {
      const model = mlp({ inputs: 8, width: 16, depth: 1, activation: "relu", seed: 4 });
      const r = await trainNet(model, data, { numEpochs: 4, batchSize: 16, seed, recordEvery: 4, progress: false });
      model.dispose();
      return r.finalTrain;
    };
    expect(await run(1)).not.toBe(await run(2));
  });

  it("scales by the training labels' mean and standard deviation", () => {
    expect(scaleOf([1, 3])).toEqual({ mu: 2, sigma: 1 });
    const p = shuffled(10, mulberry32(1));
    expect([...p].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("trains through the fused dense forward pass, which gives model.apply's numbers", () => {
    for (const activation of ["relu", "sigmoid"] as const) {
      const model = mlp({ inputs: 8, width: 16, depth: 3, activation, seed: 2 });
      const x = tf.tensor2d(data.X.slice(0, 20)).sub(11).div(2);
      const f = denseForward(model);
      expect(f).not.toBeNull();
      const ours = f!(x).arraySync() as number[][];
      const ref = (model.apply(x) as tf.Tensor).arraySync() as number[][];
      ours.forEach((row, i) => expect(row[0]).toBeCloseTo(ref[i][0], 5));
      model.dispose();
    }
  });

  it("trainSpec builds, trains, counts, evaluates and frees the model", async () => {
    const before = tf.memory().numTensors;
    const spec = { inputs: 8, width: 16, depth: 2, activation: "relu" as const, seed: 4 };
    const r = await trainSpec(spec, data, { numEpochs: 12, batchSize: 32, lr: 0.01, recordEvery: 3, heldOut: test, heldOutName: "validation", predictOn: test.X, progress: false });
    expect(tf.memory().numTensors).toBe(before); // nothing left on the device
    expect(r.params).toBe(8 * 16 + 16 + 16 * 16 + 16 + 16 + 1);
    expect(r.paramsFormula).toBe(r.params);
    expect(r.name).toBe("8 → 16 → 16 → 1 ReLU");
    expect(r.heldOutName).toBe("validation");
    // the same run by hand: same weights, same shuffle (opts.seed defaults to spec.seed)
    const model = mlp(spec);
    const hand = await trainNet(model, data, { numEpochs: 12, batchSize: 32, lr: 0.01, seed: 4, recordEvery: 3, heldOut: test, progress: false });
    expect(r.trainLoss).toEqual(hand.trainLoss);
    expect(r.finalHeldOut).toBe(hand.finalHeldOut);
    expect(r.predictions).toEqual(predictNet(model, test.X, hand.scale));
    expect(r.finalHeldOut).toBeCloseTo(test.y.reduce((s, v, i) => s + Math.abs(v - r.predictions![i]), 0) / test.y.length, 6);
    model.dispose();
  });

  it("trainSeeds reports the mean and sample sd over seeds that really differ", async () => {
    const spec = { inputs: 8, width: 16, depth: 1, activation: "relu" as const, seed: 0 };
    const s = await trainSeeds(spec, [1, 2, 3], data, { numEpochs: 5, batchSize: 32, heldOut: test, progress: false });
    const finals = s.runs.map((r) => r.finalTrain);
    expect(new Set(finals).size).toBe(3);
    expect(s.runs.map((r) => r.spec.seed)).toEqual([1, 2, 3]);
    expect(s.train).toEqual(meanSd(finals));
    expect(s.heldOut!.n).toBe(3);
  });
});

describe("HostAdam", () => {
  it("takes tf.train.adam's steps (same weights after 25 steps, changing learning rate)", () => {
    const data = synthetic(120, 8, 1);
    const x = tf.tensor2d(data.X.slice(0, 50)).sub(11).div(2);
    const y = tf.tensor2d(data.y.slice(0, 50), [50, 1]).sub(6).div(2);
    const run = (which: "tfjs" | "host"): number[][] => {
      const model = mlp({ inputs: 8, width: 16, depth: 2, activation: "relu", seed: 9 });
      const f = denseForward(model)!;
      const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
      const opt = which === "tfjs" ? (tf.train.adam(0.01) as unknown as HostAdam) : new HostAdam(vars, 0.01);
      for (let k = 0; k < 25; k++) {
        opt.learningRate = 0.01 / (1 + k / 10);
        opt.minimize(() => tf.mean(tf.abs(tf.sub(f(x), y))) as tf.Scalar, false, vars);
      }
      const w = vars.map((v) => Array.from(v.dataSync()));
      opt.dispose();
      model.dispose();
      return w;
    };
    const [ref, ours] = [run("tfjs"), run("host")];
    const start = mlp({ inputs: 8, width: 16, depth: 2, activation: "relu", seed: 9 });
    const w0 = start.getWeights().map((t) => Array.from(t.dataSync()));
    start.dispose();
    let moved = 0;
    ref.forEach((r, i) => r.forEach((v, j) => {
      expect(ours[i][j]).toBeCloseTo(v, 4);
      moved = Math.max(moved, Math.abs(v - w0[i][j]));
    }));
    expect(moved).toBeGreaterThan(0.05); // the weights really moved: 25 steps of ≈ 0.01
  });
});

describe("mean ± sd and the comparison rule", () => {
  it("uses the sample standard deviation", () => {
    const m = meanSd([1, 2, 3, 4]);
    expect(m.mean).toBe(2.5);
    expect(m.sd).toBeCloseTo(Math.sqrt(5 / 3), 12);
    expect(meanSd([7]).sd).toBe(0);
  });
  it("prints the sd with two significant digits, whatever the units", () => {
    expect(fmtMeanSd({ mean: 0.35412, sd: 0.0412, n: 3 })).toBe("0.354 ± 0.041");
    expect(fmtMeanSd({ mean: 0.35412, sd: 0.00412, n: 3 })).toBe("0.3541 ± 0.0041");
    expect(fmtMeanSd({ mean: 0.0040123, sd: 0.000123, n: 3 })).toBe("0.00401 ± 0.00012");
    expect(fmtMeanSd({ mean: 1.5, sd: 0, n: 1 })).toBe("1.500 ± 0.000");
  });
  it("claims a difference only beyond the larger spread", () => {
    expect(clearlyBelow({ mean: 1, sd: 0.1, n: 3 }, { mean: 1.5, sd: 0.2, n: 3 })).toBe(true);
    expect(clearlyBelow({ mean: 1, sd: 0.1, n: 3 }, { mean: 1.15, sd: 0.2, n: 3 })).toBe(false);
    expect(clearlyBelow({ mean: 1.5, sd: 0, n: 3 }, { mean: 1, sd: 0, n: 3 })).toBe(false);
  });
});
