// The bandwidth law, measured (notebook 07): how many bytes one decode step reads,
// how fast decoding goes, and the two ceilings on that speed.
//
//   one step (B sequences, one new token each) multiplies [B, in] by every matrix once:
//     bytes read  ≈ weight bytes as held + B embedding rows     (shared by the B tokens)
//     FLOPs       ≈ B × FLOPs per token                         (not shared)
//   tokens/s ≤ min(bandwidth ÷ bytes per token, arithmetic rate ÷ FLOPs per token)
//
// Timings repeat: every speed comes as the min / median / max of `repeats` runs, and a
// comparison between two speeds is only made when their ranges do not overlap.

import { bandwidthBoundTokensPerSecond, computeBoundTokensPerSecond } from "../compute/inference";
import { generate, generateBatch } from "./generate";
import type { PhiModel } from "./model";

/**
 * Bytes of weights read per generated token when `batch` sequences decode together:
 * every matrix once per step as the backend holds it (fp32, fp16 or int8 + scales),
 * shared by the batch, plus each token's own embedding row.
 */
export function decodeBytesPerToken(model: PhiModel, batch = 1): number {
  if (!(Number.isInteger(batch) && batch >= 1)) throw new Error(`decodeBytesPerToken: batch must be a positive integer, got ${batch}`);
  const e = model.embedding;
  return model.backend.weightBytes() / batch + e.bytes / e.rows;
}

/** Weights in the matrices one token multiplies by (every layer's six + lm_head), from the config's shapes. */
export function matrixWeightsOf(config: PhiModel["config"]): number {
  const { hidden: h, intermediate: im, vocabSize, numLayers } = config;
  const kv = config.numKvHeads * config.headDim;
  const q = config.numHeads * config.headDim;
  // q, k, v, dense, fc1, fc2 per layer; lm_head once
  return numLayers * (h * q + 2 * h * kv + q * h + 2 * h * im) + vocabSize * h;
}

/** min / median / max of a sample. */
export interface Spread {
  min: number;
  median: number;
  max: number;
  samples: number[];
}

export function spread(samples: readonly number[]): Spread {
  if (samples.length === 0 || samples.some((s) => !Number.isFinite(s))) throw new Error(`spread: need finite samples, got [${samples.join(", ")}]`);
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return { min: s[0], median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, max: s[s.length - 1], samples: [...samples] };
}

/** 1 if a is faster than b beyond both ranges, -1 if slower, 0 if the ranges overlap (no conclusion). */
export function compareSpreads(a: Spread, b: Spread): 1 | -1 | 0 {
  if (a.min > b.max) return 1;
  if (a.max < b.min) return -1;
  return 0;
}

/**
 * The bandwidth law with its ceiling: tokens/s ≤ bandwidth ÷ bytes per token (halve the
 * bytes, double the speed) until the arithmetic, `gflops` ÷ FLOPs per token, stops it.
 */
export function rooflineTokensPerSecond(bytesPerToken: number, bandwidthGBs: number, flopsPerToken: number, gflops: number): number {
  return Math.min(bandwidthBoundTokensPerSecond(bytesPerToken, bandwidthGBs), computeBoundTokensPerSecond(flopsPerToken, gflops / 1000));
}

export interface DecodeOptions {
  /** Greedy decode steps timed per run (after the prompt's prefill). */
  newTokens: number;
  /** Timed runs (after one untimed warm-up run). */
  repeats: number;
}

function checkOptions(o: DecodeOptions): void {
  if (!(Number.isInteger(o.newTokens) && o.newTokens >= 1)) throw new Error(`newTokens must be a positive integer, got ${o.newTokens}`);
  if (!(Number.isInteger(o.repeats) && o.repeats >= 1)) throw new Error(`repeats must be a positive integer, got ${o.repeats}`);
}

/** Single-stream decode speed: `repeats` greedy runs of `promptIds` + newTokens steps (EOS ignored). */
export async function measureDecode(model: PhiModel, promptIds: readonly number[], opts: DecodeOptions): Promise<Spread> {
  checkOptions(opts);
  const run = () => generate(model, promptIds, { maxNewTokens: opts.newTokens + 1, eosTokenId: null }); // +1: the prefill yields the first
  await run(); // warm-up: the kernels tier up on first use
  const tps: number[] = [];
  for (let i = 0; i < opts.repeats; i++) tps.push((await run()).decodeTokensPerSecond);
  return spread(tps);
}

export interface BatchDecode {
  batch: number;
  /** Decode steps per run: each one pass over the weights for all `batch` sequences. */
  steps: number;
  /** New tokens per second, all sequences together. */
  tokensPerSecond: Spread;
  /** Seconds per step (one read of the weights). */
  secondsPerStep: Spread;
}

/** Batch decoding: `batch` copies of `promptIds`, each decoding newTokens steps together (generateBatch). */
export async function measureBatchDecode(model: PhiModel, promptIds: readonly number[], batch: number, opts: DecodeOptions): Promise<BatchDecode> {
  checkOptions(opts);
  if (!(Number.isInteger(batch) && batch >= 1)) throw new Error(`batch must be a positive integer, got ${batch}`);
  const prompts = Array.from({ length: batch }, () => promptIds);
  const run = () => generateBatch(model, prompts, { maxNewTokens: opts.newTokens + 1, eosTokenId: null });
  await run();
  const tps: number[] = [], perStep: number[] = [];
  let steps = 0;
  for (let i = 0; i < opts.repeats; i++) {
    const r = await run();
    steps = r.steps;
    tps.push(r.decodeTokensPerSecond);
    perStep.push(r.decodeSeconds / r.steps);
  }
  return { batch, steps, tokensPerSecond: spread(tps), secondsPerStep: spread(perStep) };
}
