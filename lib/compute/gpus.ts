// From a FLOP budget to GPUs, days and GPU-hours — and back, from a published run's
// GPU-hours to the fraction of the peak it actually used.
//
// A GPU with a peak of P TFLOPS running at model-FLOPs utilisation MFU does
// P·1e12·MFU useful FLOP/s (MFU: Chowdhery et al. 2022, PaLM, arXiv:2204.02311, App. B).
// Everything below is that one rate, rearranged.
import { requireMfu, requirePositive } from "./errors";

export const SECONDS_PER_DAY = 86400;
export const SECONDS_PER_HOUR = 3600;

/** Useful FLOP/s of one GPU: peak × MFU. */
export function sustainedFlopsPerSecond(peakTflops: number, mfu: number): number {
  requirePositive(peakTflops, "peak TFLOPS");
  requireMfu(mfu);
  return peakTflops * 1e12 * mfu;
}

/**
 * GPUs needed to do `flops` in `days`, as a real number (3,858.03 for the article's
 * inputs). Round to the nearest for a headline figure, up to actually finish in time.
 */
export function gpusForBudget(flops: number, peakTflops: number, mfu: number, days: number): number {
  requirePositive(flops, "FLOPs");
  requirePositive(days, "days");
  return flops / (sustainedFlopsPerSecond(peakTflops, mfu) * days * SECONDS_PER_DAY);
}

/** Days `gpus` GPUs need for `flops`. */
export function daysForGpus(flops: number, peakTflops: number, mfu: number, gpus: number): number {
  requirePositive(flops, "FLOPs");
  requirePositive(gpus, "GPUs");
  return flops / (sustainedFlopsPerSecond(peakTflops, mfu) * gpus * SECONDS_PER_DAY);
}

/** GPU-hours for `flops`: the same however many GPUs share the work. */
export function gpuHours(flops: number, peakTflops: number, mfu: number): number {
  requirePositive(flops, "FLOPs");
  return flops / sustainedFlopsPerSecond(peakTflops, mfu) / SECONDS_PER_HOUR;
}

/** GPU-hours of `gpus` GPUs for `days` days. */
export function gpuHoursOf(gpus: number, days: number): number {
  return requirePositive(gpus, "GPUs") * requirePositive(days, "days") * 24;
}

/**
 * The MFU a run must have averaged: the model FLOPs it did ÷ what its GPU-hours could
 * have done at peak. Includes every stall, restart and evaluation pause.
 */
export function impliedMfu(flops: number, hours: number, peakTflops: number): number {
  requirePositive(flops, "FLOPs");
  requirePositive(hours, "GPU-hours");
  requirePositive(peakTflops, "peak TFLOPS");
  return flops / (hours * SECONDS_PER_HOUR * peakTflops * 1e12);
}

/** GPU-hours to push `tokens` through at a measured `tokensPerSecondPerGpu` (LLaMA §2.4 reports 380). */
export function gpuHoursFromThroughput(tokens: number, tokensPerSecondPerGpu: number): number {
  requirePositive(tokens, "tokens");
  requirePositive(tokensPerSecondPerGpu, "tokens per second per GPU");
  return tokens / tokensPerSecondPerGpu / SECONDS_PER_HOUR;
}

/** MFU from a measured throughput: 6·N FLOPs per token × tokens/s ÷ peak. */
export function mfuFromThroughput(params: number, tokensPerSecondPerGpu: number, peakTflops: number): number {
  requirePositive(params, "parameters");
  requirePositive(tokensPerSecondPerGpu, "tokens per second per GPU");
  requirePositive(peakTflops, "peak TFLOPS");
  return (6 * params * tokensPerSecondPerGpu) / (peakTflops * 1e12);
}
