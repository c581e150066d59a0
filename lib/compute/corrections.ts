// The arithmetic behind notebook 06's corrections of the article: each function computes
// what the article's words would give and what is right, so the notebook sets the two
// side by side and tests/compute.test.ts pins both.
import { requireMfu, requirePositive } from "./errors";
import { SECONDS_PER_DAY } from "./gpus";
import { servingTokensPerDay } from "./inference";
import type { TransformerConfig } from "./params";
import { floatToHalf, halfToFloat } from "../phi2/f16";

// ---- the GPU formula -------------------------------------------------------------

/**
 * The article's formula as written, "FLOPs ÷ GPU 算力 × 利用率 ÷ time": utilisation
 * multiplies, so a busier GPU would mean MORE GPUs are needed. Kept only to show it is wrong;
 * the right one is gpusForBudget (utilisation divides: FLOPs ÷ (peak × utilisation × time)).
 */
export function gpusArticleFormulaAsWritten(flops: number, peakTflops: number, utilisation: number, days: number): number {
  requirePositive(flops, "FLOPs");
  requirePositive(peakTflops, "peak TFLOPS");
  requireMfu(utilisation, "utilisation");
  requirePositive(days, "days");
  return (flops / (peakTflops * 1e12)) * utilisation / (days * SECONDS_PER_DAY);
}

// ---- parameters are weights, not neurons -------------------------------------------

/**
 * Kaplan et al. 2020 (arXiv:2001.08361, §2.1): a transformer block has ≈ 12·d² weights
 * (attention 4·d², MLP 2·d·4d = 8·d²), so N ≈ 12·n_layer·d_model² without embeddings.
 * GPT-3: 12 × 96 × 12,288² = 173,946,175,488.
 */
export function transformerParamsApprox(nLayers: number, dModel: number): number {
  return 12 * requirePositive(nLayers, "layers") * requirePositive(dModel, "d_model") ** 2;
}

/** Weights and biases of one dense layer: a weight per (input, output) pair, a bias per output. */
export function denseLayerParams(inputs: number, outputs: number): number {
  return requirePositive(inputs, "inputs") * requirePositive(outputs, "outputs") + outputs;
}

/**
 * Nonlinear units (the "sigmoids": GELUs in a transformer's MLP) one token passes through:
 * n_layer × d_ff. GPT-3: 96 × 49,152 = 4,718,592 — against 174.6e9 parameters.
 */
export function activationUnits(cfg: TransformerConfig): number {
  return cfg.nLayers * cfg.intermediate;
}

// ---- number formats ------------------------------------------------------------------

/** A binary floating-point format: exponent and stored mantissa bits (IEEE 754 layout). */
export interface FloatFormat {
  name: string;
  exponentBits: number;
  mantissaBits: number;
}

export const FLOAT_FORMATS: readonly FloatFormat[] = [
  { name: "fp32", exponentBits: 8, mantissaBits: 23 },
  { name: "bf16", exponentBits: 8, mantissaBits: 7 },
  { name: "fp16", exponentBits: 5, mantissaBits: 10 },
];

export function floatFormat(name: string): FloatFormat {
  const f = FLOAT_FORMATS.find((x) => x.name === name);
  if (!f) throw new Error(`unknown float format "${name}"; known: ${FLOAT_FORMATS.map((x) => x.name).join(", ")}`);
  return f;
}

/** Largest finite value: (2 − 2^−m) · 2^bias, bias = 2^(e−1) − 1. fp32 3.40e38, bf16 3.39e38, fp16 65,504. */
export function maxFinite(f: FloatFormat): number {
  return (2 - 2 ** -f.mantissaBits) * 2 ** (2 ** (f.exponentBits - 1) - 1);
}

/** Smallest positive normal value: 2^(1 − bias). fp32 and bf16 1.18e-38, fp16 6.1e-5. */
export function minNormal(f: FloatFormat): number {
  return 2 ** (2 - 2 ** (f.exponentBits - 1));
}

/** Spacing of the values just above 1 (machine epsilon): 2^−m. bf16 0.0078, fp16 0.00098, fp32 1.2e-7. */
export function epsilon(f: FloatFormat): number {
  return 2 ** -f.mantissaBits;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** x rounded to bfloat16 (round to nearest even, via float32), as a number. */
export function roundToBf16(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  if ((bits & 0x7f800000) === 0x7f800000) return f32[0]; // inf, NaN
  const rounded = (bits + 0x7fff + ((bits >>> 16) & 1)) & 0xffff0000;
  u32[0] = rounded >>> 0;
  return f32[0];
}

/** x rounded to the format (fp32, bf16 or fp16), round to nearest even. */
export function roundTo(format: string, x: number): number {
  switch (floatFormat(format).name) {
    case "fp32":
      return Math.fround(x);
    case "bf16":
      return roundToBf16(x);
    default:
      return halfToFloat(floatToHalf(x));
  }
}

/**
 * A weight `w` after `steps` updates of size `update` stored in `format`: each step is
 * rounded back to the format. Small updates to a bf16 weight round away (1 + 1e-4 → 1),
 * which is why mixed-precision training keeps an FP32 master copy of the weights.
 */
export function accumulate(format: string, w: number, update: number, steps: number): number {
  let x = roundTo(format, w);
  for (let i = 0; i < steps; i++) x = roundTo(format, x + update);
  return x;
}

// ---- the serving estimate --------------------------------------------------------------

/** The article's serving inputs, read back: tokens per visit that its GPU count implies. */
export interface ServingReadBack {
  visitsPerDay: number;
  tokensPerDay: number;
  tokensPerVisit: number;
}

/**
 * Tokens per visit a published GPU count implies: what `gpus` GPUs at `utilisation` of
 * `peakTflops` can generate in a day (flopsPerToken each), ÷ visits per day.
 */
export function impliedTokensPerVisit(gpus: number, flopsPerToken: number, peakTflops: number, utilisation: number, visitsPerDay: number): ServingReadBack {
  const tokensPerDay = servingTokensPerDay(gpus, flopsPerToken, peakTflops, utilisation);
  requirePositive(visitsPerDay, "visits per day");
  return { visitsPerDay, tokensPerDay, tokensPerVisit: tokensPerDay / visitsPerDay };
}
