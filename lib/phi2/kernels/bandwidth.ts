// This machine's memory read bandwidth, measured the way decoding uses memory:
// every core streams through its own buffer (together much larger than the
// caches: this machine's L3 is 300 MB), summing it with wasm SIMD loads.
//
// Method: `threads` workers each fill bytes/threads of their own wasm memory, then
// for each of `repeats` rounds the main thread starts all of them at once and
// times the round until the last one finishes: bandwidth = bytes ÷ that time.
// gbPerS is the BEST round (the machine's capability; other programs running at
// the same time only slow rounds down), the median is reported beside it.
//
// Synchronous: the main thread blocks in Atomics.wait (Node allows it) while the
// workers run, so there is no event-loop noise in the timing.

import * as os from "node:os";
import { Worker } from "node:worker_threads";
import { compiledScript, wasmPath } from "./wasm";

export interface Bandwidth {
  /** Best round, GB/s (1 GB = 1e9 bytes). */
  gbPerS: number;
  medianGbPerS: number;
  samplesGbPerS: number[];
  bytes: number;
  threads: number;
  repeats: number;
}

/** Indices into the shared control array of bandwidth-worker.ts. */
export const enum BwCtrl {
  READY = 0, // workers whose buffer is filled
  GO = 1, // round number; -1 = exit
  DONE = 2, // workers finished with the round
  FAILED = 3, // a worker could not run (set to 1)
  LENGTH = 4,
}

export interface BandwidthWorkerInit {
  wasm: string;
  ctrl: SharedArrayBuffer;
  bytes: number;
}

function waitFor(ctrl: Int32Array, index: number, target: number, deadline: number, what: string): void {
  for (;;) {
    const v = Atomics.load(ctrl, index);
    if (v >= target) return;
    if (Atomics.load(ctrl, BwCtrl.FAILED)) throw new Error("measureReadBandwidth: a worker failed (out of memory?)");
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`measureReadBandwidth: timed out waiting for ${what}`);
    Atomics.wait(ctrl, index, v, Math.min(left, 200));
  }
}

export function measureReadBandwidth(opts: { bytes?: number; threads?: number; repeats?: number } = {}): Bandwidth {
  const threads = opts.threads ?? os.availableParallelism();
  const repeats = opts.repeats ?? 7;
  const per = Math.max(64, Math.floor((opts.bytes ?? 2 * 2 ** 30) / threads / 64) * 64);
  const bytes = per * threads;
  const ctrl = new Int32Array(new SharedArrayBuffer(4 * BwCtrl.LENGTH));
  const workerData: BandwidthWorkerInit = { wasm: wasmPath(), ctrl: ctrl.buffer as SharedArrayBuffer, bytes: per };
  const script = compiledScript("bandwidth-worker");
  const workers = Array.from({ length: threads }, () => new Worker(script, { workerData }));
  const samples: number[] = [];
  try {
    waitFor(ctrl, BwCtrl.READY, threads, Date.now() + 120_000, "the buffers to be filled");
    for (let r = 1; r <= repeats; r++) {
      Atomics.store(ctrl, BwCtrl.DONE, 0);
      const t0 = process.hrtime.bigint();
      Atomics.store(ctrl, BwCtrl.GO, r);
      Atomics.notify(ctrl, BwCtrl.GO);
      waitFor(ctrl, BwCtrl.DONE, threads, Date.now() + 120_000, "a round");
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      samples.push(bytes / seconds / 1e9);
    }
  } finally {
    Atomics.store(ctrl, BwCtrl.GO, -1);
    Atomics.notify(ctrl, BwCtrl.GO);
    for (const w of workers) void w.terminate();
  }
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    gbPerS: sorted[sorted.length - 1],
    medianGbPerS: sorted[Math.floor(sorted.length / 2)],
    samplesGbPerS: samples,
    bytes,
    threads,
    repeats,
  };
}
