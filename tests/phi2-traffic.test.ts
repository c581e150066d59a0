// lib/phi2/traffic.ts: bytes per decoded token against the shapes, one pass over the
// weights per batched step, and the bandwidth law's arithmetic.
import { afterAll, describe, expect, test } from "vitest";
import * as path from "node:path";
import type { PhiConfig } from "../lib/phi2/config";
import { matrixWeightsOf, readPhiConfig } from "../lib/phi2/config";
import { JsMatmul } from "../lib/phi2/matmul-js";
import type { HoldDtype, MatmulBackend, WeightSpec } from "../lib/phi2/matmul";
import { PhiModel } from "../lib/phi2/model";
import { SafetensorsModel } from "../lib/phi2/safetensors";
import {
  compareSpreads, decodeBytesPerToken, measureBatchDecode, measureDecode, measureHolds, rooflineTokensPerSecond, spread,
} from "../lib/phi2/traffic";

const DIR = path.join(__dirname, "fixtures", "tiny-phi");

const TINY: PhiConfig = {
  vocabSize: 96, hidden: 64, intermediate: 128, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 16, rotaryDim: 8,
  ropeTheta: 10000, layerNormEps: 1e-5, maxPositions: 128, bosTokenId: 0, eosTokenId: 0, dtype: "float16",
};

/** Counts the rows (tokens) and weights each matmul call multiplies. */
class Counting implements MatmulBackend {
  readonly name = "counting";
  readonly inner = new JsMatmul();
  private sizes: number[] = [];
  calls: { weights: number; T: number }[] = [];
  async addWeight(spec: WeightSpec) {
    this.sizes.push(spec.rows * spec.cols);
    return this.inner.addWeight(spec);
  }
  async matmul(h: number, x: Float32Array, T: number) {
    this.calls.push({ weights: this.sizes[h], T });
    return this.inner.matmul(h, x, T);
  }
  weightBytes() {
    return this.inner.weightBytes();
  }
  close() {
    return this.inner.close();
  }
}

describe("bytes per decoded token", () => {
  test("matrixWeightsOf counts q, k, v, dense, fc1, fc2 per layer and lm_head, as phi-2's published shapes give", () => {
    // phi-2 (microsoft/phi-2): 2,779,683,840 parameters; minus embedding 51200·2560, biases and LayerNorms
    const phi2 = { ...TINY, vocabSize: 51200, hidden: 2560, intermediate: 10240, numLayers: 32, numHeads: 32, numKvHeads: 32, headDim: 80 };
    const biasesAndNorms = 32 * (4 * 2560 + 10240 + 2560 + 2 * 2560) + 51200 + 2 * 2560;
    expect(matrixWeightsOf(phi2)).toBe(2_779_683_840 - 51200 * 2560 - biasesAndNorms);
  });

  test("the fixture loaded from its files: fp32 reads 4 bytes a weight, Q8_0 32 int8 + one float32 scale per 32, plus one fp16 embedding row", async () => {
    const config = readPhiConfig(DIR);
    const weights = matrixWeightsOf(config);
    const st = SafetensorsModel.open(DIR);
    try {
      const f32 = await PhiModel.load(st, config, new JsMatmul(), { hold: "F32" });
      const q8 = await PhiModel.load(st, config, new JsMatmul(), { hold: "Q8_0" });
      const row = config.hidden * 2; // the fixture's embedding is fp16
      expect(decodeBytesPerToken(f32)).toBe(4 * weights + row);
      expect(decodeBytesPerToken(q8)).toBe(weights + (weights / 32) * 4 + row);
      // a batch of 4 shares each step's read of the matrices, not the embedding rows
      expect(decodeBytesPerToken(f32, 4)).toBe(weights + row);
      expect(() => decodeBytesPerToken(f32, 0)).toThrow(/batch/);
    } finally {
      st.close();
    }
  });
});

describe("batch decoding reads each weight once per step", () => {
  const backend = new Counting();
  let model: PhiModel;
  afterAll(() => model?.close());

  test("a step of B sequences makes the same matmul calls as a step of one, each with B rows", async () => {
    model = await PhiModel.random(TINY, backend, "F16", 3);
    const stepCalls = async (B: number) => {
      const caches = Array.from({ length: B }, () => model.newCache(8));
      for (const c of caches) await model.forward([1, 2, 3], c);
      backend.calls = [];
      await model.forwardBatch(Array.from({ length: B }, (_, b) => 4 + b), caches);
      return [...backend.calls];
    };
    const one = await stepCalls(1);
    const four = await stepCalls(4);
    expect(four.map((c) => c.weights)).toEqual(one.map((c) => c.weights));
    expect(one.every((c) => c.T === 1)).toBe(true);
    expect(four.every((c) => c.T === 4)).toBe(true);
    expect(one.reduce((s, c) => s + c.weights, 0)).toBe(matrixWeightsOf(TINY)); // every matrix, once
  });

  test("measureDecode and measureBatchDecode time the asked steps and repeats", async () => {
    const single = await measureDecode(model, [1, 2, 3], { newTokens: 4, repeats: 3 });
    expect(single.samples).toHaveLength(3);
    expect(single.min).toBeGreaterThan(0);
    const [b1, b3] = await measureBatchDecode(model, [1, 2, 3], [1, 3], { newTokens: 4, repeats: 2 });
    expect([b1.batch, b3.batch, b1.steps, b3.steps]).toEqual([1, 3, 4, 4]);
    expect(b3.tokensPerSecond.samples).toHaveLength(2);
    expect(b3.secondsPerStep.samples).toHaveLength(2);
    // aggregate rate = B tokens per step
    b3.tokensPerSecond.samples.forEach((tps, i) => expect(tps * b3.secondsPerStep.samples[i]).toBeCloseTo(3, 6));
    await expect(measureDecode(model, [1], { newTokens: 0, repeats: 1 })).rejects.toThrow(/newTokens/);
    await expect(measureBatchDecode(model, [1], [0], { newTokens: 1, repeats: 1 })).rejects.toThrow(/batch/);
  });
});

describe("measureHolds", () => {
  test("times the formats that load together round-robin, retries a refused one alone, reports one that never loads", async () => {
    const base = await PhiModel.random(TINY, new JsMatmul(), "F16", 5);
    const order: string[] = [];
    let f32Refusals = 0;
    const load = async (hold: HoldDtype) => {
      order.push(hold);
      if (hold === "F32" && f32Refusals++ === 0) throw new Error("not enough memory beside the others");
      if (hold === "Q8_0" && order.length > 2) throw new Error("still no room");
      return PhiModel.random(TINY, new JsMatmul(), "F16", 5, { hold });
    };
    const r = await measureHolds(base, ["F32", "stored", "Q8_0"], load, [1, 2], { newTokens: 2, repeats: 2 });
    expect(r.map((x) => x.hold)).toEqual(["F32", "stored", "Q8_0"]);
    expect(r[0]).toMatchObject({ alone: true, why: "" }); // refused at first, measured alone afterwards
    expect(r[0].tps!.samples).toHaveLength(2);
    expect(r[1]).toMatchObject({ alone: false, why: "" });
    expect(r[2]).toMatchObject({ alone: false, why: "" });
    expect(r[0].bytes).toBe(4 * matrixWeightsOf(TINY)); // random embedding: no stored bytes
    expect(r[2].bytes).toBe(matrixWeightsOf(TINY) * (1 + 4 / 32));
    const never = await measureHolds(base, ["Q8_0"], async () => { throw new Error("no room at all"); }, [1], { newTokens: 1, repeats: 1 });
    expect(never[0]).toMatchObject({ tps: null, why: "no room at all" });
    expect(Number.isNaN(never[0].bytes)).toBe(true);
    await base.close();
  });
});

describe("the law's arithmetic", () => {
  test("spread: min, median (mean of the middle two when even), max", () => {
    expect(spread([3, 1, 2])).toMatchObject({ min: 1, median: 2, max: 3 });
    expect(spread([4, 1, 3, 2]).median).toBe(2.5);
    expect(() => spread([])).toThrow();
    expect(() => spread([1, NaN])).toThrow();
  });

  test("compareSpreads concludes only when the ranges do not overlap", () => {
    expect(compareSpreads(spread([5, 6]), spread([3, 4]))).toBe(1);
    expect(compareSpreads(spread([3, 4]), spread([5, 6]))).toBe(-1);
    expect(compareSpreads(spread([3, 5]), spread([4, 6]))).toBe(0);
  });

  test("roofline: halving the bytes doubles the bound until the arithmetic caps it", () => {
    // 10 GB/s; 1e9 FLOPs per token at 20 GFLOP/s caps at 20 tokens/s
    expect(rooflineTokensPerSecond(4e9, 10, 1e9, 20)).toBeCloseTo(2.5, 12);
    expect(rooflineTokensPerSecond(2e9, 10, 1e9, 20)).toBeCloseTo(5, 12);
    expect(rooflineTokensPerSecond(0.25e9, 10, 1e9, 20)).toBeCloseTo(20, 12);
  });
});
