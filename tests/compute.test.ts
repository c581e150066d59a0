// Pins lib/compute to published numbers: papers' FLOPs and GPU-hours, phi-2's parameter
// count from its config, and the article's own inputs.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  ACCELERATORS,
  ARTICLE,
  BudgetInputError,
  FLOAT_FORMATS,
  GPT3_175B_CONFIG,
  MODELS,
  PHI2_CONFIG,
  RUNS,
  accelerator,
  accumulate,
  activationUnits,
  articlePhi2TokensPerSecond,
  attentionFlopsPerToken,
  attentionShape,
  bandwidthBoundTokensPerSecond,
  checkRun,
  corePeakGflops,
  countParameters,
  daysForGpus,
  denseLayerParams,
  epsilon,
  fixedMfuSpread,
  floatFormat,
  fmtBytes,
  fmtInt,
  fmtPct,
  fmtSci,
  gpuHours,
  gpuHoursFromThroughput,
  gpusArticleFormulaAsWritten,
  gpusForBudget,
  gpusToHold,
  impliedMfu,
  impliedTokensPerVisit,
  inferenceFlopsPerToken,
  inferenceFlopsPerTokenOf,
  kvCacheBytesPerToken,
  kvShape,
  leaveOneOut,
  maxFinite,
  measureMatmulGflops,
  mfuFromThroughput,
  minNormal,
  modelSpec,
  parameterCount,
  peakTflops,
  planTraining,
  ridgeBatch,
  roundTo,
  run,
  servingGpus,
  servingTokensPerDay,
  trainingFlops,
  trainingStateBytes,
  transformerParamsApprox,
  weightBytes,
} from "../lib/compute";
import { JsMatmul } from "../lib/phi2/matmul-js";

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describe("tables", () => {
  it("every accelerator, model and run row names a non-empty source", () => {
    for (const rows of [ACCELERATORS, MODELS, RUNS] as const) {
      expect(rows.length).toBeGreaterThan(0);
      for (const r of rows) expect(r.source.trim().length, r.id).toBeGreaterThan(10);
    }
    expect(ARTICLE.source.length).toBeGreaterThan(10);
  });

  it("has the datasheet peaks, dense by default, sparse = 2 × dense where printed", () => {
    expect(peakTflops("h100-sxm", "bf16")).toBe(989);
    expect(peakTflops("h100-sxm", "fp32")).toBe(67);
    expect(peakTflops("a100-sxm", "bf16")).toBe(312);
    expect(peakTflops("h100-pcie", "fp8")).toBe(1513);
    for (const a of ACCELERATORS)
      for (const p of Object.values(a.peaks)) if (p?.sparse !== undefined) expect(rel(p.sparse, 2 * p.dense)).toBeLessThan(0.002);
    expect(accelerator("h200-sxm").memoryGB).toBe(141);
    expect(accelerator("H100-SXM").bandwidthGBs).toBe(3350);
  });

  it("rejects unknown GPUs and precisions with the known choices", () => {
    expect(() => accelerator("x100")).toThrow(BudgetInputError);
    expect(() => accelerator("x100")).toThrow(/known GPUs: a100-sxm, h100-sxm/);
    expect(() => peakTflops("a100-sxm", "fp8")).toThrow(/it has: fp64, fp32, tf32, bf16, fp16/);
  });

  it("every run's hardware and precision are in the table", () => {
    for (const r of RUNS) expect(peakTflops(r.accelerator, r.precision)).toBeGreaterThan(0);
  });
});

describe("parameter counts from configs", () => {
  it("phi-2's config gives exactly 2,779,683,840 (HF model card / safetensors)", () => {
    expect(parameterCount(PHI2_CONFIG)).toBe(2_779_683_840);
    expect(run("phi-2").params).toBe(parameterCount(PHI2_CONFIG));
  });

  it("GPT-3 175B's config gives the paper's 174.6B (Table D.1)", () => {
    expect(rel(parameterCount(GPT3_175B_CONFIG), 174.6e9)).toBeLessThan(0.0005);
  });

  it("LLaMA-65B's config gives the paper's 65.2B (65,285,660,672: within 0.2 %)", () => {
    expect(rel(parameterCount(modelSpec("llama-65b").config), 65.2e9)).toBeLessThan(0.002);
  });

  it("a tiny config matches a count by hand", () => {
    // 2 layers, d=4, ff=8, vocab 10, biases, LayerNorm ×2, tied, no positions:
    // attention 4·(16+4)=80, mlp (32+8)+(32+4)=76, norms 2·8=16 → 172 per layer;
    // embedding 40, final norm 8 → 2·172 + 40 + 8 = 392
    const tiny = { ...GPT3_175B_CONFIG, nLayers: 2, hidden: 4, intermediate: 8, vocab: 10, nHeads: 2, learnedPositions: 0 };
    expect(countParameters(tiny).perLayer).toBe(172);
    expect(parameterCount(tiny)).toBe(392);
    // grouped-query: 1 KV head of width 2 → k, v are 4→2 (+2 bias): 2·(8+2) instead of 2·(16+4)
    expect(countParameters({ ...tiny, nKvHeads: 1 }).attention).toBe(80 - 40 + 20);
    expect(() => parameterCount({ ...tiny, nLayers: 0 })).toThrow(BudgetInputError);
    expect(() => parameterCount({ ...tiny, nHeads: 3 })).toThrow(/divisible/);
  });
});

describe("FLOPs", () => {
  it("GPT-3: 6 × 175e9 × 300e9 = 3.15e23, within 0.5 % of the paper's 3.14e23", () => {
    const C = trainingFlops(175e9, 300e9);
    expect(C).toBeCloseTo(3.15e23, -20);
    expect(rel(C, run("gpt3-175b").reportedFlops!)).toBeLessThan(0.005);
    expect(rel(trainingFlops(174.6e9, 300e9), 3.14e23)).toBeLessThan(0.001);
  });

  it("Kaplan's attention term is 1.4 % of 2N for GPT-3 at 2k context", () => {
    const a = attentionFlopsPerToken(attentionShape(GPT3_175B_CONFIG));
    expect(a / (2 * 174.6e9)).toBeCloseTo(0.0138, 3);
    expect(inferenceFlopsPerToken(174.6e9, attentionShape(GPT3_175B_CONFIG))).toBe(2 * 174.6e9 + a);
    expect(trainingFlops(1e9, 1e6, attentionShape(GPT3_175B_CONFIG))).toBe(3 * (2e9 + a) * 1e6);
  });

  it("FLOPs per generated token of a config: blocks + lm_head matmul + attention, no embedding lookup", () => {
    // phi-2: everything but the token embedding (and the lm_head's 51,200 biases, which are adds, not matmul FLOPs)
    const matmulWeights = 2_779_683_840 - 51200 * 2560 - 51200;
    expect(inferenceFlopsPerTokenOf(PHI2_CONFIG, 200)).toBe(2 * matmulWeights + 2 * 32 * 200 * 2560);
  });

  it("rejects non-positive inputs", () => {
    expect(() => trainingFlops(0, 1e9)).toThrow(/parameters must be a positive number/);
    expect(() => trainingFlops(1e9, -1)).toThrow(BudgetInputError);
    expect(() => trainingFlops(Number.NaN, 1)).toThrow(BudgetInputError);
  });
});

describe("GPUs, days, GPU-hours", () => {
  it("the article's own inputs give 3,858 H100 (it prints 3,839)", () => {
    const g = gpusForBudget(ARTICLE.flops, ARTICLE.peakTflops, ARTICLE.mfu, ARTICLE.days);
    expect(Math.round(g)).toBe(3858);
  });

  it("GPT-3 on H100 SXM BF16 at 50 % MFU in 30 days: 246 GPUs (307 at 40 %)", () => {
    const C = trainingFlops(175e9, 300e9);
    expect(Math.round(gpusForBudget(C, peakTflops("h100-sxm", "bf16"), 0.5, 30))).toBe(246);
    expect(Math.round(gpusForBudget(C, peakTflops("h100-sxm", "bf16"), 0.4, 30))).toBe(307);
    // an A100 is slower: more of them, not fewer (779 at 50 %)
    expect(Math.round(gpusForBudget(C, peakTflops("a100-sxm", "bf16"), 0.5, 30))).toBe(779);
  });

  it("days and GPUs are inverse; GPU-hours do not depend on the split", () => {
    const C = 1e22;
    const g = gpusForBudget(C, 312, 0.4, 12);
    expect(daysForGpus(C, 312, 0.4, g)).toBeCloseTo(12, 10);
    expect(gpuHours(C, 312, 0.4)).toBeCloseTo(g * 12 * 24, 6);
  });

  it("LLaMA-65B: 380 tokens/s/GPU gives 1,022,362 GPU-hours within 1 % and 47.6 % MFU", () => {
    const r = run("llama-65b");
    expect(rel(gpuHoursFromThroughput(r.tokens, r.tokensPerSecondPerGpu!), r.reportedHours)).toBeLessThan(0.01);
    expect(mfuFromThroughput(r.params, 380, 312)).toBeCloseTo(0.476, 3);
    // days on 2048 GPUs: ≈ 20.8
    expect(r.tokens / (380 * 2048) / 86400).toBeCloseTo(20.8, 1);
  });

  it("implied MFU of the published runs (compute-facts table)", () => {
    const mfu = (id: string) => checkRun(run(id), 0.4).impliedMfu;
    expect(mfu("gpt3-175b")).toBeCloseTo(0.197, 2);
    expect(mfu("llama-65b")).toBeCloseTo(0.477, 3);
    expect(mfu("llama2-70b")).toBeCloseTo(0.435, 3);
    expect(mfu("llama3.1-405b")).toBeCloseTo(0.345, 3);
    expect(mfu("palm-540b")).toBeCloseTo(0.304, 3);
    expect(mfu("phi-2")).toBeCloseTo(0.644, 3);
    expect(impliedMfu(1e20, 1, 1000)).toBeCloseTo(1e20 / 3.6e18, 10);
  });

  it("MFU outside (0, 1] is refused, with a hint for percentages", () => {
    expect(() => gpusForBudget(1e20, 312, 50, 1)).toThrow(/for 50 % write 0.5/);
    expect(() => gpusForBudget(1e20, 312, 0, 1)).toThrow(/MFU must be a fraction in \(0, 1\]/);
    expect(gpusForBudget(1e20, 312, 1, 1)).toBeGreaterThan(0);
  });
});

describe("memory", () => {
  it("GPT-3 weights in bf16 are 350 GB: 5 × 80 GB GPUs just to hold them", () => {
    expect(weightBytes(175e9, "bf16")).toBe(350e9);
    expect(gpusToHold(weightBytes(175e9, "bf16"), 80)).toBe(5);
    expect(weightBytes(2_779_683_840, "fp32")).toBe(11_118_735_360);
  });

  it("training state is 16–20 bytes per parameter", () => {
    expect(trainingStateBytes(175e9)).toEqual({ low: 2.8e12, high: 3.5e12 });
  });

  it("KV cache per token: 2 · layers · kv heads · d_head · bytes", () => {
    // GPT-3 fp16: 2·96·96·128·2 = 4.72 MB per token
    expect(kvCacheBytesPerToken(kvShape(GPT3_175B_CONFIG), "fp16")).toBe(4_718_592);
    // Llama 2 70B's grouped-query attention: 8 KV heads → 8× smaller than 64
    expect(kvCacheBytesPerToken(kvShape(modelSpec("llama2-70b").config), "bf16")).toBe(2 * 80 * 8 * 128 * 2);
    expect(() => weightBytes(1, "fp12")).toThrow(/unknown number format "fp12"/);
  });
});

describe("inference", () => {
  it("single-stream decoding is bandwidth-bound: GPT-3 bf16 on one H100's bandwidth ≈ 9.6 tokens/s", () => {
    expect(bandwidthBoundTokensPerSecond(350e9, 3350)).toBeCloseTo(9.571, 3);
    expect(ridgeBatch(989, 3350, 2)).toBeCloseTo(295.2, 1);
  });

  it("serving estimate and its inverse agree", () => {
    const a = { visitsPerDay: 1e8, tokensPerVisit: 40, flopsPerToken: 3.5e11, peakTflops: 63, utilisation: 0.5, peakToAverage: 1 };
    const g = servingGpus(a);
    expect(servingTokensPerDay(g, a.flopsPerToken, a.peakTflops, a.utilisation)).toBeCloseTo(4e9, -3);
    expect(servingGpus({ ...a, peakToAverage: 2 })).toBeCloseTo(2 * g, 8);
  });
});

describe("planTraining", () => {
  it("GPT-3 on H100 SXM bf16 at 50 % for 30 days", () => {
    const p = planTraining({ params: 175e9, tokens: 300e9, gpu: "h100-sxm", precision: "bf16", mfu: 0.5, days: 30 });
    expect(p.flops).toBeCloseTo(3.15e23, -20);
    expect(Math.round(p.gpus)).toBe(246);
    expect(p.gpusWhole).toBe(246);
    expect(p.gpuHours).toBeCloseTo(p.gpus * 30 * 24, 3);
    expect(p.gpusForWeights).toBe(5);
    expect(p.gpusForTraining).toEqual({ low: 35, high: 44 });
  });

  it("a given peak overrides the table (the article's 63)", () => {
    const p = planTraining({ params: 175e9, tokens: 300e9, gpu: "h100-sxm", precision: "fp32", mfu: 0.5, days: 30, peakTflops: 63 });
    expect(Math.round(p.gpus)).toBe(3858);
    expect(p.gpusWhole).toBe(3859);
    expect(p.peakSource).toMatch(/--peak-tflops/);
  });
});

describe("format", () => {
  it("prints numbers as the notebook and CLI show them", () => {
    expect(fmtInt(3858.02)).toBe("3,858");
    expect(fmtSci(3.15e23)).toBe("3.15e+23");
    expect(fmtSci(3.143e23, 3)).toBe("3.14e+23");
    expect(fmtPct(0.4768)).toBe("47.7 %");
    expect(fmtBytes(350e9)).toBe("350.0 GB");
    expect(fmtBytes(3.5e12)).toBe("3.50 TB");
  });
});

describe("the article's errors, corrected with arithmetic (issue 8, section 2)", () => {
  it("its GPU formula as written (÷ 算力 × 利用率) gives 964, not 3,858: utilisation must divide", () => {
    const asWritten = gpusArticleFormulaAsWritten(ARTICLE.flops, ARTICLE.peakTflops, ARTICLE.mfu, ARTICLE.days);
    const right = gpusForBudget(ARTICLE.flops, ARTICLE.peakTflops, ARTICLE.mfu, ARTICLE.days);
    expect(asWritten).toBeCloseTo(3.15e23 / 63e12 * 0.5 / 2.592e6, 6);
    expect(Math.round(asWritten)).toBe(965);
    expect(asWritten / right).toBeCloseTo(ARTICLE.mfu ** 2, 12); // off by utilisation²
    // a busier GPU must mean fewer GPUs; as written it means more
    expect(gpusArticleFormulaAsWritten(1e23, 100, 0.6, 10)).toBeGreaterThan(gpusArticleFormulaAsWritten(1e23, 100, 0.3, 10));
    expect(gpusForBudget(1e23, 100, 0.6, 10)).toBeLessThan(gpusForBudget(1e23, 100, 0.3, 10));
  });

  it("GPT-3's N is ≈ 12·L·d² = 12 × 96 × 12,288² ≈ 174B, not neurons × layers", () => {
    expect(transformerParamsApprox(96, 12288)).toBe(173_946_175_488);
    expect(rel(transformerParamsApprox(96, 12288), countParameters(GPT3_175B_CONFIG).nonEmbedding)).toBeLessThan(0.001);
    expect(96 * 12288).toBe(1_179_648); // "neurons × layers" for GPT-3's real shape
    // "1B neurons × 100 layers": one dense layer 1e9 → 1e9 alone has 1e18 weights
    expect(denseLayerParams(1e9, 1e9)).toBe(1e18 + 1e9);
    expect(denseLayerParams(3, 3)).toBe(12);
  });

  it("GPT-3 has ≈ 37,000 parameters per nonlinear unit (4,718,592 GELUs), so parameters ≠ sigmoids", () => {
    expect(activationUnits(GPT3_175B_CONFIG)).toBe(96 * 49152);
    expect(parameterCount(GPT3_175B_CONFIG) / activationUnits(GPT3_175B_CONFIG)).toBeCloseTo(37000, -3);
  });

  it("bf16 has fp32's 8-bit exponent (range), fp16 does not; small updates need an fp32 master copy", () => {
    const [fp32, bf16, fp16] = FLOAT_FORMATS;
    expect(maxFinite(fp32)).toBe(3.4028234663852886e38); // FLT_MAX
    expect(maxFinite(fp16)).toBe(65504);
    expect(rel(maxFinite(bf16), maxFinite(fp32))).toBeLessThan(0.004);
    expect(minNormal(bf16)).toBe(minNormal(fp32));
    expect(minNormal(fp16)).toBe(2 ** -14);
    expect(epsilon(floatFormat("bf16"))).toBe(1 / 128);
    // the formats' own rounding agrees with the table
    expect(roundTo("bf16", 1 + epsilon(bf16))).toBe(1 + epsilon(bf16));
    expect(roundTo("bf16", 1 + epsilon(bf16) / 4)).toBe(1);
    expect(roundTo("fp16", 1e5)).toBe(Infinity);
    expect(roundTo("bf16", 1e5)).toBeCloseTo(1e5, -3);
    expect(roundTo("fp16", 1e-8)).toBe(0);
    expect(roundTo("bf16", 1e-30)).toBeCloseTo(1e-30, 32);
    // 1,000 updates of 1e-4 to a weight of 1.0: lost in bf16, kept in fp32
    expect(accumulate("bf16", 1, 1e-4, 1000)).toBe(1);
    expect(accumulate("fp32", 1, 1e-4, 1000)).toBeCloseTo(1.1, 4);
  });

  it("its serving inputs (507 H100, 63 TF, 30 %, 1.76e9 visits a month) imply ≈ 40 tokens per visit", () => {
    const visitsPerDay = ARTICLE.visitsPerMonth / ARTICLE.daysPerMonth;
    const back = impliedTokensPerVisit(ARTICLE.servingH100, 2 * ARTICLE.params, ARTICLE.peakTflops, ARTICLE.servingUtilisation, visitsPerDay);
    expect(back.tokensPerVisit).toBeCloseTo(40.3, 1);
    // forward: at 40 tokens a visit the formula gives back ≈ 503 GPUs
    const g = servingGpus({ visitsPerDay, tokensPerVisit: 40, flopsPerToken: 2 * ARTICLE.params, peakTflops: ARTICLE.peakTflops, utilisation: ARTICLE.servingUtilisation, peakToAverage: 1 });
    expect(g).toBeCloseTo(503.1, 0);
  });

  it("the article's phi-2 speed: (200 − 10) tokens in 98 s, (100 − 10) in 49 s", () => {
    expect(articlePhi2TokensPerSecond(200)).toBeCloseTo(190 / 98, 12);
    expect(articlePhi2TokensPerSecond(100)).toBeCloseTo(90 / 49, 12);
    expect(() => articlePhi2TokensPerSecond(50)).toThrow(/max_length 200 and 100/);
  });
});

describe("published runs at a fixed MFU (not backed out of their own hours)", () => {
  it("at 40 % the predictions are 0.49–1.61 × the reported hours: a 3.3× spread", () => {
    const s = fixedMfuSpread(RUNS, 0.4);
    expect(s.ratios.length).toBe(RUNS.length);
    // ratio = implied MFU ÷ 0.4, independently of checkRun
    RUNS.forEach((r, i) => expect(s.ratios[i]).toBeCloseTo(trainingFlops(r.params, r.tokens) / (r.reportedHours * 3600 * peakTflops(r.accelerator, r.precision) * 1e12) / 0.4, 10));
    expect(s.min).toBeCloseTo(0.493, 2); // GPT-3 on V100s
    expect(s.max).toBeCloseTo(1.61, 2); // phi-2
    expect(s.spread).toBeCloseTo(s.max / s.min, 12);
    expect(fixedMfuSpread(RUNS, 0.2).spread).toBeCloseTo(s.spread, 12); // the spread does not depend on the MFU chosen
  });

  it("leave-one-out never uses the predicted run's own hours", () => {
    const loo = leaveOneOut(RUNS);
    const changed = RUNS.map((r, i) => (i === 0 ? { ...r, reportedHours: r.reportedHours * 10 } : r));
    // changing run 0's hours changes its ratio only through the reported denominator
    expect(leaveOneOut(changed)[0].mfu).toBe(loo[0].mfu);
    expect(leaveOneOut(changed)[0].ratio).toBeCloseTo(loo[0].ratio / 10, 12);
  });
});

describe("CPU arithmetic", () => {
  it("a core's peak is lanes × FMA units × 2 × clock", () => {
    expect(corePeakGflops({ lanes: 8, fmaUnits: 2, clockGHz: 3 })).toBe(96);
    expect(() => corePeakGflops({ lanes: 8, fmaUnits: 2, clockGHz: 0 })).toThrow(BudgetInputError);
  });

  it("measureMatmulGflops counts 2·rows·cols·T FLOPs per call on a real backend", async () => {
    const m = await measureMatmulGflops(new JsMatmul(), { rows: 64, cols: 32, T: 4, repeats: 2 });
    expect(m.gflops).toBeCloseTo((2 * 64 * 32 * 4) / m.seconds / 1e9, 6);
    expect(m.gflops).toBeGreaterThan(0);
  });
});

describe("notebooks 06 and 07 take the article's numbers from lib/compute/article.ts", () => {
  const codeOf = (file: string): string =>
    (JSON.parse(readFileSync(join(__dirname, "..", "notebooks", file), "utf8")).cells as { cell_type: string; source: string[] }[])
      .filter((c) => c.cell_type === "code")
      .map((c) => c.source.join(""))
      .join("\n");
  it("no cell re-types its phi-2 timings (21 s, 98 s, 49 s), its 507 H100 or its 1.76e9 visits", () => {
    const nb07 = readdirSync(join(__dirname, "..", "notebooks")).find((f) => f.startsWith("07"))!;
    const nb06 = readdirSync(join(__dirname, "..", "notebooks")).find((f) => f.startsWith("06"))!;
    for (const code of [codeOf(nb06), codeOf(nb07)]) {
      expect(code).toMatch(/ARTICLE\./);
      expect(code).not.toMatch(/\b(98|49|21) ?s\b|\b507\b|1\.76e9|blogSeconds|trainingFlops\(175e9|\b63 ?TF/);
    }
  });
});
