// Serving a model: how fast one stream of tokens can go, and how many GPUs a service needs.
//
// Generating one token reads every weight once and does 2 FLOPs with it (multiply, add).
// A GPU does hundreds of FLOPs in the time it reads one byte (H100 SXM: 989e12 FLOP/s ÷
// 3.35e12 B/s ≈ 295), so one stream at a time leaves the arithmetic units idle: the
// speed limit is bandwidth ÷ bytes of weights. Batching many streams shares each read.
import { requireMfu, requirePositive } from "./errors";
import { SECONDS_PER_DAY } from "./gpus";

/**
 * Upper bound on single-stream decoding speed: every generated token streams all the
 * weights from memory once. `bandwidthGBs` in GB/s (1e9 B/s), `bytesPerToken` usually
 * `weightBytes(N, dtype)` (plus the KV cache read, small at short contexts).
 */
export function bandwidthBoundTokensPerSecond(bytesPerToken: number, bandwidthGBs: number): number {
  requirePositive(bytesPerToken, "bytes per token");
  requirePositive(bandwidthGBs, "bandwidth (GB/s)");
  return (bandwidthGBs * 1e9) / bytesPerToken;
}

/** Upper bound from arithmetic alone: peak × utilisation ÷ FLOPs per token. */
export function computeBoundTokensPerSecond(flopsPerToken: number, peakTflops: number, utilisation = 1): number {
  requirePositive(flopsPerToken, "FLOPs per token");
  requirePositive(peakTflops, "peak TFLOPS");
  requireMfu(utilisation, "utilisation");
  return (peakTflops * 1e12 * utilisation) / flopsPerToken;
}

/**
 * Batch size at which decoding stops being bandwidth-bound: the streams sharing one read
 * of the weights must bring FLOPs per byte up to the GPU's FLOPs per byte.
 * Each weight (bytesPerParam bytes) gives 2 FLOPs per stream.
 */
export function ridgeBatch(peakTflops: number, bandwidthGBs: number, bytesPerParam: number): number {
  requirePositive(peakTflops, "peak TFLOPS");
  requirePositive(bandwidthGBs, "bandwidth (GB/s)");
  requirePositive(bytesPerParam, "bytes per parameter");
  return ((peakTflops * 1e12) / (bandwidthGBs * 1e9)) * (bytesPerParam / 2);
}

/** The inputs of a serving estimate, every one of them an assumption to state. */
export interface ServingAssumptions {
  visitsPerDay: number;
  /** Prompt + reply tokens processed per visit. */
  tokensPerVisit: number;
  flopsPerToken: number;
  peakTflops: number;
  /** Fraction of the peak a serving GPU sustains (batching, latency targets, idle time). */
  utilisation: number;
  /** Busiest hour's load ÷ the daily average: the fleet is sized for the peak. */
  peakToAverage: number;
}

/** GPUs to serve the traffic by FLOPs alone (memory to hold the weights comes on top). */
export function servingGpus(a: ServingAssumptions): number {
  requirePositive(a.visitsPerDay, "visits per day");
  requirePositive(a.tokensPerVisit, "tokens per visit");
  requirePositive(a.flopsPerToken, "FLOPs per token");
  requirePositive(a.peakToAverage, "peak-to-average load");
  const flopsPerSecond = (a.visitsPerDay * a.tokensPerVisit * a.flopsPerToken * a.peakToAverage) / SECONDS_PER_DAY;
  return flopsPerSecond / (requirePositive(a.peakTflops, "peak TFLOPS") * 1e12 * requireMfu(a.utilisation, "utilisation"));
}

/** Tokens a day `gpus` GPUs can generate at `utilisation` of `peakTflops` (the inverse, to read a published count). */
export function servingTokensPerDay(gpus: number, flopsPerToken: number, peakTflops: number, utilisation: number): number {
  requirePositive(gpus, "GPUs");
  requirePositive(flopsPerToken, "FLOPs per token");
  return (gpus * requirePositive(peakTflops, "peak TFLOPS") * 1e12 * requireMfu(utilisation, "utilisation") * SECONDS_PER_DAY) / flopsPerToken;
}
