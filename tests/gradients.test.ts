// TensorFlow.js's autodiff against a reference: central finite differences of the same
// loss computed in float64 plain JS (lib/nets matrixForward), weight by weight.
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend";
import { MatrixNet, matrixForward, mlp, mulberry32, toMatrixNet } from "../lib/nets";
import { denseForward, denseLayers, maeBackprop, rawMaeBackprop } from "../lib/train";

beforeAll(async () => {
  await initBackend();
});

type LossName = "MAE" | "MSE";
const lossJs = (net: MatrixNet, X: number[][], y: number[], which: LossName): number =>
  X.reduce((s, x, i) => {
    const e = matrixForward(net, x)[0] - y[i];
    return s + (which === "MAE" ? Math.abs(e) : e * e);
  }, 0) / X.length;

describe("autodiff gradients match finite differences", () => {
  const r = mulberry32(11);
  const X = Array.from({ length: 12 }, () => Array.from({ length: 3 }, () => 2 * r() - 1)); // [12, 3]
  const y = X.map((x) => Math.sin(2 * x[0]) + x[1] * x[2]); // [12]

  for (const activation of ["relu", "sigmoid"] as const)
    for (const which of ["MAE", "MSE"] as const)
      it(`${activation} network, ${which}`, () => {
        const model = mlp({ inputs: 3, width: 5, depth: 2, activation, seed: 3 });
        const forward = denseForward(model)!;
        const vars = model.trainableWeights.map((w) => w.read() as tf.Variable); // W1, b1, W2, b2, W3, b3
        const Xt = tf.tensor2d(X);
        const yt = tf.tensor2d(y, [y.length, 1]);
        const { grads } = tf.variableGrads(() => {
          const e = tf.sub(forward(Xt), yt);
          return tf.mean(which === "MAE" ? tf.abs(e) : tf.square(e)) as tf.Scalar;
        }, vars);
        const net = toMatrixNet(model, activation); // float64 copy; W is [outputs, inputs] = kernelᵀ
        const h = 1e-6;
        let checked = 0;
        net.layers.forEach((layer, l) => {
          const gW = grads[vars[2 * l].name].arraySync() as number[][]; // [inputs, outputs]
          const gb = grads[vars[2 * l + 1].name].arraySync() as number[]; // [outputs]
          const fd = (set: (v: number) => void, v0: number): number => {
            set(v0 + h);
            const up = lossJs(net, X, y, which);
            set(v0 - h);
            const down = lossJs(net, X, y, which);
            set(v0);
            return (up - down) / (2 * h);
          };
          layer.W.forEach((row, o) =>
            row.forEach((w, i) => {
              expect(gW[i][o]).toBeCloseTo(fd((v) => (row[i] = v), w), 3);
              checked++;
            }),
          );
          layer.b.forEach((b, o) => {
            expect(gb[o]).toBeCloseTo(fd((v) => (layer.b[o] = v), b), 3);
            checked++;
          });
        });
        expect(checked).toBe(3 * 5 + 5 + 5 * 5 + 5 + 5 + 1);
        // and the gradient is not trivially zero
        const norm = Object.values(grads).reduce((s, g) => s + (g.square().sum().arraySync() as number), 0);
        expect(norm).toBeGreaterThan(1e-4);
        Object.values(grads).forEach((g) => g.dispose());
        [Xt, yt].forEach((t) => t.dispose());
        model.dispose();
      });
});

describe("maeBackprop (the training loop's hand-written backward pass) matches autodiff", () => {
  for (const activation of ["relu", "sigmoid"] as const)
    it(`${activation}, 3 hidden layers`, () => {
      const r = mulberry32(4);
      const X = tf.tensor2d(Array.from({ length: 40 }, () => Array.from({ length: 6 }, () => 2 * r() - 1)));
      const y = tf.tensor2d(Array.from({ length: 40 }, () => r() - 0.5), [40, 1]);
      const model = mlp({ inputs: 6, width: 7, depth: 3, activation, seed: 5 });
      const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
      const f = denseForward(model)!;
      const ref = tf.variableGrads(() => tf.mean(tf.abs(tf.sub(f(X), y))) as tf.Scalar, vars);
      const ours = maeBackprop(denseLayers(model)!, X, y, true);
      expect(ours.grads.length).toBe(vars.length);
      expect(ours.loss!.arraySync()).toBeCloseTo(ref.value.arraySync() as number, 6);
      vars.forEach((v, i) => {
        expect(ours.grads[i].shape).toEqual(v.shape);
        const a = ours.grads[i].dataSync();
        const b = ref.grads[v.name].dataSync();
        a.forEach((g, j) => expect(g).toBeCloseTo(b[j], 5));
      });
      expect(maeBackprop(denseLayers(model)!, X, y, false).loss).toBeNull();
      // the raw-kernel version: ReLU (and linear) layers only; gradients × n, loss on the host
      const before = tf.memory().numBytes;
      const raw = rawMaeBackprop(denseLayers(model)!, X, y, true);
      if (activation === "sigmoid") expect(raw).toBeNull();
      else {
        expect(tf.memory().numBytes).toBe(before); // every temporary freed
        expect(raw!.loss!).toBeCloseTo(ref.value.arraySync() as number, 6);
        vars.forEach((v, i) => {
          const b = ref.grads[v.name].dataSync();
          raw!.grads[i].forEach((g, j) => expect(g / 40).toBeCloseTo(b[j], 5));
        });
      }
      model.dispose();
    });
});
