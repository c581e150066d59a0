// How the main thread (index.ts) and the kernel workers (worker.ts) talk.
//
// Per matmul call nothing is posted: the main thread writes x into a shared
// buffer, stores the call in `ctrl` and bumps SEQ; every worker, spinning on SEQ
// for a moment after its last command (then asleep in Atomics.wait, counted in
// SLEEPING, so the main thread wakes it only then), takes work items (a block of
// rows × a block of tokens) by Atomics.add on NEXT until none are left, writing its
// rows into the shared output, and bumps DONE. The main thread takes items too,
// then waits for DONE. Rare operations (a new arena, filling a weight, growing the
// shared buffers) are messages: the main thread first sets OP = YIELD so the
// workers leave their wait loop and let their event loop deliver the message.

import type { WasmMemory } from "./wasm";

export const enum Ctrl {
  SEQ = 0, // bumped once per command
  OP = 1, // Op below
  CALLS = 2, // matmuls in this MATMUL command (their handles and offsets are in `calls`)
  T = 3, // tokens of a MATMUL
  DONE = 4, // workers finished with the current MATMUL
  ERRORS = 5, // bit i set: worker i failed (its message is in errorText slot i)
  NEXT = 6, // next work item of the current MATMUL
  SLEEPING = 7, // workers asleep in Atomics.wait (the main thread wakes them only then)
  LENGTH = 8,
}

export const enum Op {
  MATMUL = 1,
  YIELD = 2,
  EXIT = 3,
}

/** How long a worker spins for the next command before it sleeps (ms). */
export const SPIN_MS = 1;

/** Most matmuls one MATMUL command runs (phi's layer needs 4: q, k, v, fc1 on the same input). */
export const MAX_CALLS = 8;

/** Bytes of error text per worker in the shared error area. */
export const ERROR_SLOT = 1024;

export interface WorkerInit {
  index: number; // also the worker's scratch slot in every arena
  threads: number;
  wasm: string; // path of matvec.wasm
  relaxedWasm: string | null; // path of relaxed.wasm if the main thread found it usable (then so must the worker)
  int8Dot: boolean; // Q8_0 products through relaxed.wasm's int8 dot (wasm.ts: int8DotPays)
  ctrl: SharedArrayBuffer; // Int32Array(Ctrl.LENGTH)
  errorText: SharedArrayBuffer; // ERROR_SLOT bytes per worker
  seq0: number; // SEQ when the worker was created
  calls: SharedArrayBuffer; // Int32Array(3 · MAX_CALLS): per matmul [handle, x offset, out offset] (in floats)
  prefault: boolean; // map each weight's pages before filling them (prefault.ts)
}

export type Dtype = "F16" | "BF16" | "F32";
/** How a weight is held in the arena: its source dtype, or converted at load (F32 or Q8_0). */
export type HeldDtype = Dtype | "Q8_0";

/** Where a weight lives and what the load found in it (all workers know every weight). */
export interface WeightMeta {
  arena: number;
  ptr: number; // [rows, cols] in the held dtype (Q8_0: int8)
  dtype: HeldDtype;
  scales: number; // row-major Q8_0: float32 [rows, cols/32] block scales (else 0: tiled Q8_0 holds them among its int8)
  rows: number;
  cols: number;
  finite: boolean; // F16 without inf/NaN: the fast kernel applies
  tiled: boolean; // F16 or Q8_0 in the tiled layout (rows in groups of 4, interleaved: see assembly/tiled.ts)
  panels: number; // Q8_0: column panels, each its own [rows, cols/panels] matrix (see compute.ts); else 1
  sparse?: { rowStart: number; colIdx: number; vals: number }; // F16 subnormals (see matvec.ts)
  scaleExp: number; // F16 held × 2^scaleExp (0, or F16_SCALE_EXP: then no subnormals and no lists; see compute.ts)
  bias: number; // float32 [rows] added to each product (0: none)
  gelu: boolean; // gelu_new after the bias (assembly/epilogue.ts)
}

export interface ArenaMessage {
  type: "arena";
  id: number;
  index: number;
  memory: WasmMemory; // shared
  maxBytes: number;
}

/** Fill rows [r0, r1) of a weight (each worker a part, in parallel); for F16 also count per row. */
export interface FillMessage {
  type: "fill";
  id: number;
  name: string;
  arena: number;
  ptr: number;
  dtype: Dtype; // the source's
  held: HeldDtype; // dtype, or what to convert it to
  scales: number; // row-major Q8_0: where the block scales go
  tiled: boolean; // F16 or Q8_0 written straight into the tiled layout (WeightMeta.tiled)
  rows: number; // the whole weight's
  cols: number;
  panels: number; // Q8_0: column panels (WeightMeta.panels)
  r0: number;
  r1: number;
  counts: number; // F16 held as F16: u32 per row, written at counts + 4·r
  source:
    | { kind: "bytes"; bytes: Uint8Array } // just rows [r0, r1)
    | { kind: "file"; file: string; offset: number } // offset of row r0
    | { kind: "random"; seed: number; scale: number } // element index = r · cols + c
    // held bytes of a weight image (image.ts): the matrix's at `offset`; mapped: already in place (the thread only scans)
    | { kind: "image"; file: string; offset: number; mapped: boolean };
}

/** An fp16 matrix with subnormals is held × 2^F16_SCALE_EXP when its largest |h| is at most F16_SCALABLE_MAX (exponent field 20): compute.ts says why. */
export const F16_SCALE_EXP = 10;
export const F16_SCALABLE_MAX = 0x53ff;

/** What filling a thread's rows found, for F16 held as F16 (else 0 and 0): how many subnormals, the largest |h| (bits: see f16Finite). */
export interface Filled {
  count: number;
  maxAbs: number;
}
/** A fill that held no fp16 (or a reply with nothing to report). */
export const NOT_F16: Filled = { count: 0, maxAbs: 0 };
/** Whether halves whose largest |h| (bits) is maxAbs are all finite: inf or NaN iff it is ≥ 0x7c00. */
export const f16Finite = (maxAbs: number): boolean => maxAbs < 0x7c00;

/**
 * Register a filled weight. Each worker finishes its rows [r0, r1) first (if extract; a
 * weight image's rows are finished already): scales them by 2^meta.scaleExp, or moves
 * their fp16 subnormals into the sparse lists (meta.sparse).
 */
export interface RegisterMessage {
  type: "register";
  id: number;
  handle: number;
  meta: WeightMeta;
  r0: number;
  r1: number;
  extract: boolean;
}

export interface BuffersMessage {
  type: "buffers";
  id: number;
  x: SharedArrayBuffer;
  out: SharedArrayBuffer;
}

export type ToWorker = ArenaMessage | FillMessage | RegisterMessage | BuffersMessage;

export type FromWorker =
  | ({ type: "done"; id: number } & Filled)
  | { type: "error"; id: number; message: string };
