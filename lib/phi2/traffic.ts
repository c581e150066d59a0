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
import type { HoldDtype } from "./matmul";
import type { PhiModel } from "./model";
import { matrixWeightsOf } from "./config";

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
  /** Timed rounds (after one untimed warm-up round). */
  repeats: number;
}

function checkOptions(o: DecodeOptions): void {
  if (!(Number.isInteger(o.newTokens) && o.newTokens >= 1)) throw new Error(`newTokens must be a positive integer, got ${o.newTokens}`);
  if (!(Number.isInteger(o.repeats) && o.repeats >= 1)) throw new Error(`repeats must be a positive integer, got ${o.repeats}`);
}

/**
 * Runs every task once per round, `repeats` rounds after one untimed warm-up round, and
 * returns each task's spread. Interleaved so that a slow spell of a shared machine hits
 * every task alike instead of whichever happened to run then.
 */
export async function roundRobin(tasks: readonly (() => Promise<number>)[], repeats: number): Promise<Spread[]> {
  if (!(Number.isInteger(repeats) && repeats >= 1)) throw new Error(`repeats must be a positive integer, got ${repeats}`);
  for (const t of tasks) await t(); // warm-up: the kernels tier up on first use
  const samples = tasks.map(() => [] as number[]);
  for (let r = 0; r < repeats; r++) for (let i = 0; i < tasks.length; i++) samples[i].push(await tasks[i]());
  return samples.map(spread);
}

/** One greedy run of `promptIds` + newTokens decode steps (EOS ignored); resolves to decode tokens/s. */
export function decodeTask(model: PhiModel, promptIds: readonly number[], newTokens: number): () => Promise<number> {
  return async () => (await generate(model, promptIds, { maxNewTokens: newTokens + 1, eosTokenId: null })).decodeTokensPerSecond; // +1: the prefill yields the first
}

/** Single-stream decode speed: `repeats` greedy runs after a warm-up. */
export async function measureDecode(model: PhiModel, promptIds: readonly number[], opts: DecodeOptions): Promise<Spread> {
  checkOptions(opts);
  return (await roundRobin([decodeTask(model, promptIds, opts.newTokens)], opts.repeats))[0];
}

export interface HoldSpeed {
  hold: HoldDtype;
  /** Weight bytes read per token (NaN if the format could not be loaded). */
  bytes: number;
  tps: Spread | null;
  /** True when it was measured on its own, after the others (it did not fit in memory beside them). */
  alone: boolean;
  /** Why it was not measured ("" when it was). */
  why: string;
}

/**
 * Decode speed of the same weights held in several formats: "stored" is `base`, the
 * others come from `load(hold)`. The formats that fit in memory together are timed
 * round-robin; one that `load` refuses (e.g. not enough memory beside the others) is
 * loaded again once they are closed, and timed alone. `base` is left open.
 */
export async function measureHolds(base: PhiModel, holds: readonly HoldDtype[], load: (hold: HoldDtype) => Promise<PhiModel>, promptIds: readonly number[], opts: DecodeOptions): Promise<HoldSpeed[]> {
  checkOptions(opts);
  const out = new Map<HoldDtype, HoldSpeed>(holds.map((hold) => [hold, { hold, bytes: NaN, tps: null, alone: false, why: "" }]));
  const loaded = new Map<HoldDtype, PhiModel>();
  const refused: HoldDtype[] = [];
  try {
    for (const h of holds) {
      try {
        loaded.set(h, h === "stored" ? base : await load(h));
      } catch (e) {
        refused.push(h);
        out.get(h)!.why = (e as Error).message;
      }
    }
    const order = [...loaded.keys()];
    const spreads = await roundRobin(order.map((h) => decodeTask(loaded.get(h)!, promptIds, opts.newTokens)), opts.repeats);
    order.forEach((h, i) => Object.assign(out.get(h)!, { bytes: decodeBytesPerToken(loaded.get(h)!), tps: spreads[i] }));
  } finally {
    for (const m of loaded.values()) if (m !== base) await m.close();
  }
  for (const h of refused) {
    let m: PhiModel | undefined;
    try {
      m = await load(h);
      const [tps] = await roundRobin([decodeTask(m, promptIds, opts.newTokens)], opts.repeats);
      Object.assign(out.get(h)!, { bytes: decodeBytesPerToken(m), tps, alone: true, why: "" });
    } catch (e) {
      out.get(h)!.why = (e as Error).message;
    } finally {
      await m?.close();
    }
  }
  return holds.map((h) => out.get(h)!);
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

/**
 * Batch decoding: for each B in `batches`, B copies of `promptIds` decode newTokens steps
 * together (generateBatch); the batch sizes are timed round-robin.
 */
export async function measureBatchDecode(model: PhiModel, promptIds: readonly number[], batches: readonly number[], opts: DecodeOptions): Promise<BatchDecode[]> {
  checkOptions(opts);
  for (const B of batches) if (!(Number.isInteger(B) && B >= 1)) throw new Error(`batch must be a positive integer, got ${B}`);
  const steps = batches.map(() => 0);
  const perStep = batches.map(() => [] as number[]);
  const tasks = batches.map((B, i) => async () => {
    const r = await generateBatch(model, Array.from({ length: B }, () => promptIds), { maxNewTokens: opts.newTokens + 1, eosTokenId: null });
    steps[i] = r.steps;
    perStep[i].push(r.decodeSeconds / r.steps);
    return r.decodeTokensPerSecond;
  });
  const tps = await roundRobin(tasks, opts.repeats);
  // perStep also holds the warm-up round's value first: drop it
  return batches.map((batch, i) => ({ batch, steps: steps[i], tokensPerSecond: tps[i], secondsPerStep: spread(perStep[i].slice(1)) }));
}
