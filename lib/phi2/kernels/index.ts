// The fast MatmulBackend: weights in their stored precision (fp16 stays 2 bytes)
// in shared WebAssembly memories ("arenas", at most 4 GiB each), multiplied by
// WebAssembly SIMD kernels (assembly/) on one compute thread per core: n − 1
// workers and this (main) thread itself (compute.ts holds what every one does).
//
// Decoding one token reads every weight once, so the speed limit is memory
// bandwidth: bytes of weights ÷ read bandwidth (measureReadBandwidth below).
// fp16 and int8 matrices are held "tiled" (assembly/tiled.ts): 4 rows interleaved,
// so a matrix-vector product reads one sequential stream.
// Loading: the main thread decides where each weight goes; compute thread i fills
// rows [⌊i·rows/n⌋, ⌊(i+1)·rows/n⌋) (whole groups of 4), a chunk at a time through
// its scratch — read from the file, copied, or generated — and on into place:
// tiled fp16, converted to F32, or quantized to Q8_0 (straight into its tiled places).
// A weight image (image.ts) saves the weights as held; a later load reads them back
// into place with no conversion, or maps them (mapImages).
// Multiplying: each call is cut into blocks of rows that the threads take from a
// shared counter, so the work follows whichever cores are free (on a shared machine
// another program often holds one of them for a while). A call starts in the
// caller's turn: the workers begin at once, the caller's next synchronous code
// (phi's attention) runs meanwhile, and this thread takes its share when awaited.
// matmulMany puts several products in one call (phi's layer: q, k, v, fc1 in one).
// Each thread adds the bias and applies the activation to the rows it computed.

import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import { Worker } from "node:worker_threads";
import { checkEpilogue, Q8_BLOCK, type MatmulBackend, type WeightSpec } from "../matmul";
import { Ctrl, ERROR_SLOT, F16_SCALABLE_MAX, F16_SCALE_EXP, f16Finite, MAX_CALLS, NOT_F16, Op, type FillMessage, type Filled, type HeldDtype, type FromWorker, type ToWorker, type WeightMeta, type WorkerInit } from "./protocol";
import { Arena, compiledScript, int8DotPays, kernelModule, MAX_ARENA_BYTES, relaxedModule, wasmPath, type WasmModule } from "./wasm";
import { ComputeThread, q8Panels, readAt } from "./compute";
import { libcMadvise, Prefaulter } from "./prefault";
import { denseBytes, ImageError, mapInto, OS_PAGE, pageUp, readImage, writeImage, type WeightImage } from "./image";
import { DTYPE_BYTES } from "../dtypes";

export { measureReadBandwidth, type Bandwidth } from "./bandwidth";

/** How long the main thread spins for the workers to finish a matmul, then blocks, before it waits asynchronously (ms). */
const ALL_DONE_SPIN_MS = 0.25;
const ALL_DONE_SYNC_MS = 200;

type WaitAsync = (a: Int32Array, i: number, v: number, timeoutMs: number) => { async: boolean; value: Promise<string> | string };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

class WasmMatmul implements MatmulBackend {
  readonly name: string;
  private readonly ctrl: Int32Array;
  private readonly errorText: Uint8Array;
  private readonly calls: Int32Array;
  private x = new Float32Array(new SharedArrayBuffer(4));
  private out = new Float32Array(new SharedArrayBuffer(4));
  private arenas: Arena[] = [];
  /** Every weight as registered, and what saving an image of it needs: its name, matrix bytes, scale bytes apart from it, subnormals. */
  private weights: (WeightMeta & { name: string; dense: number; scaleBytes: number; sparseTotal: number })[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private pendingOps = 0;
  private pending = new Map<number, { resolve: (m: FromWorker) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private failure: Error | null = null;
  private closed = false;
  /** Compute threads: the workers and this (main) thread, which takes the last scratch slot. */
  private readonly threads: number;
  private readonly self: ComputeThread;

  /** How fresh weight memory gets mapped: ahead of the writes, or one page fault at a time and why (prefault.ts). */
  get memoryNote(): string {
    return this.self.prefaulter.note;
  }

  private layout: string | null = null;
  /**
   * The held forms' identity: an image saved by other kernels is stale (image.ts). The
   * module's hash, worked out when an image is first opened or saved, not at start-up.
   */
  get imageLayout(): string {
    this.layout ??= `matvec.wasm ${crypto.createHash("sha256").update(fs.readFileSync(this.wasm)).digest("hex").slice(0, 16)}, layout ${HELD_LAYOUT_VERSION}`;
    return this.layout;
  }

  /** How weights from an image got into memory (set by the first one): mapped from the file, or read and why. */
  imageNote = "";

  constructor(
    private readonly workers: Worker[],
    ctrl: SharedArrayBuffer,
    errorText: SharedArrayBuffer,
    calls: SharedArrayBuffer,
    private readonly maxArenaBytes: number,
    private readonly relaxed: WasmModule | null,
    int8Dot: boolean,
    prefault: boolean,
    /** matvec.wasm: its hash names the held forms' layout (imageLayout). */
    private readonly wasm: string,
    /** Map images with mmap, or read them (image.ts). */
    private mapImages: boolean,
  ) {
    this.calls = new Int32Array(calls);
    this.ctrl = new Int32Array(ctrl);
    this.errorText = new Uint8Array(errorText);
    this.threads = workers.length + 1;
    this.self = new ComputeThread(workers.length, this.threads, this.ctrl, this.calls, new Prefaulter(prefault), int8Dot);
    const kinds = relaxed ? ` (relaxed SIMD: ${int8Dot ? "int8 dot, " : ""}fused multiply-add)` : "";
    this.name = `wasm-simd${kinds} × ${this.threads} thread${this.threads > 1 ? "s" : ""}`;
    for (const w of workers) {
      w.on("message", (m: FromWorker) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        p.resolve(m);
      });
      const fail = (e: Error) => {
        if (this.closed) return;
        this.failure ??= e;
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
      };
      w.on("error", fail);
      w.on("exit", (code) => fail(new Error(`kernel worker exited (code ${code})`)));
      w.unref(); // idle workers do not keep the process alive (ref'd while a call runs)
    }
  }

  /**
   * Run operations one at a time (the workers serve one command at a time). When
   * none is pending, `op` starts synchronously, in the caller's turn: a matmul's
   * command reaches the workers before the caller's next statement (see matmulMany).
   */
  private serial<R>(op: () => Promise<R>): Promise<R> {
    const start = async (): Promise<R> => {
      try {
        if (this.closed) throw new Error(`${this.name}: closed`);
        if (this.failure) throw this.failure;
        for (const w of this.workers) w.ref();
        try {
          return await op();
        } finally {
          for (const w of this.workers) w.unref();
        }
      } finally {
        this.pendingOps--;
      }
    };
    const run = this.pendingOps++ === 0 ? start() : this.queue.then(start);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private command(op: Op): void {
    Atomics.store(this.ctrl, Ctrl.OP, op);
    Atomics.add(this.ctrl, Ctrl.SEQ, 1);
    // a worker still spinning sees SEQ move; one asleep counted itself in SLEEPING first
    if (op !== Op.MATMUL || Atomics.load(this.ctrl, Ctrl.SLEEPING) > 0) Atomics.notify(this.ctrl, Ctrl.SEQ);
  }

  /**
   * Send one message per worker (they first leave their wait loop) and await every
   * reply; `here` (this thread's share of the job, if any) runs while they work.
   */
  private async broadcast(make: (i: number, id: number) => { msg: ToWorker; transfer?: ArrayBuffer[] }, here?: () => FromWorker): Promise<FromWorker[]> {
    this.command(Op.YIELD);
    const replies = this.workers.map((w, i) => {
      const id = this.nextId++;
      const { msg, transfer } = make(i, id);
      const reply = new Promise<FromWorker>((resolve, reject) => this.pending.set(id, { resolve, reject }));
      w.postMessage(msg, transfer);
      return reply;
    });
    let mine: FromWorker | undefined;
    try {
      mine = here?.();
    } catch (e) {
      mine = { type: "error", id: 0, message: e instanceof Error ? e.message : String(e) };
    }
    const all = await Promise.all(replies);
    if (mine) all.push(mine);
    const bad = all.find((r) => r.type === "error");
    if (bad && bad.type === "error") throw new Error(bad.message);
    return all;
  }

  /** Compute thread i's rows of a weight (the main thread is the last): whole groups of 4 when rows % 4 == 0 (the tiled layout tiles each group in place). */
  private slice(i: number, rows: number): [number, number] {
    const n = this.threads;
    const g = rows % 4 === 0 ? 4 : 1;
    return [g * Math.floor((i * rows) / g / n), g * Math.floor(((i + 1) * rows) / g / n)];
  }

  /** The index of an arena with `bytes` free (a new one, announced to the workers, if none has). */
  private async arenaFor(bytes: number): Promise<number> {
    const i = this.arenas.findIndex((a) => a.free() >= bytes + 64);
    if (i >= 0) return i;
    const a = new Arena(kernelModule(), { maxBytes: this.maxArenaBytes, slots: this.threads, relaxed: this.relaxed });
    if (a.free() < bytes + 64) throw new Error(`a weight of ${bytes} bytes does not fit in one wasm memory (${a.free()} bytes free in a new one)`);
    const index = this.arenas.push(a) - 1;
    this.self.arenas[index] = a;
    await this.broadcast((_, id) => ({ msg: { type: "arena", id, index, memory: a.memory, maxBytes: this.maxArenaBytes } }));
    return index;
  }

  /** How a weight of this spec is held: dtype, tiled or not, Q8_0 column panels (the same for a fill and an image). */
  private heldForm(spec: WeightSpec): { held: HeldDtype; tiled: boolean; panels: number } {
    const hold = spec.hold ?? "stored";
    const held: HeldDtype = hold === "stored" ? spec.dtype : hold;
    if (held === "Q8_0" && spec.cols % Q8_BLOCK) throw new Error(`${spec.name}: Q8_0 needs columns in multiples of ${Q8_BLOCK}, got ${spec.cols}`);
    // fp16 and Q8_0 kernels read 4 rows as one sequential stream when the shape allows (assembly/tiled.ts)
    const tiled = (held === "F16" || held === "Q8_0") && spec.rows % 4 === 0 && spec.cols % 8 === 0;
    const panels = held === "Q8_0" && tiled ? q8Panels(spec.cols) : 1;
    return { held, tiled, panels };
  }

  /** Every compute thread fills its rows of a weight in parallel (this thread the last slice); what they found, together (subnormals in all, the largest |h|). */
  private async fillRows(base: Omit<FillMessage, "id" | "r0" | "r1" | "source">, source: (r0: number, r1: number, copy: boolean) => { src: FillMessage["source"]; transfer?: ArrayBuffer[] }): Promise<Filled> {
    const message = (i: number, id: number, copy: boolean): { msg: FillMessage; transfer?: ArrayBuffer[] } => {
      const [r0, r1] = this.slice(i, base.rows);
      const { src, transfer } = source(r0, r1, copy);
      return { msg: { ...base, id, r0, r1, source: src }, transfer };
    };
    const me = this.threads - 1;
    const replies = await this.broadcast(
      (i, id) => message(i, id, true),
      () => ({ type: "done", id: 0, ...this.self.fill(message(me, 0, false).msg) }),
    );
    const done = replies.flatMap((r) => (r.type === "done" ? [r] : [])); // (broadcast threw on any error)
    return { count: done.reduce((s, r) => s + r.count, 0), maxAbs: Math.max(...done.map((r) => r.maxAbs)) };
  }

  /** Announce a filled weight to every thread (each first scales its fp16 rows or moves their subnormals to the lists, if `extract`); its handle. */
  private async register(meta: WeightMeta, extract: boolean, saved: { name: string; dense: number; scaleBytes: number; sparseTotal: number }): Promise<number> {
    const handle = this.weights.length;
    const me = this.threads - 1;
    await this.broadcast(
      (i, id) => {
        const [r0, r1] = this.slice(i, meta.rows);
        return { msg: { type: "register", id, handle, meta, r0, r1, extract } };
      },
      () => {
        const [r0, r1] = this.slice(me, meta.rows);
        if (extract) this.self.finishRows(meta, r0, r1);
        this.self.weights.set(handle, meta);
        return { type: "done", id: 0, ...NOT_F16 };
      },
    );
    this.weights.push({ ...meta, ...saved });
    return handle;
  }

  addWeight(spec: WeightSpec): Promise<number> {
    return this.serial(async () => {
      const { rows, cols, dtype, source } = spec;
      const size = DTYPE_BYTES[dtype];
      if (!size) throw new Error(`${spec.name}: dtype ${String(dtype)} not supported`);
      if (!(Number.isInteger(rows) && Number.isInteger(cols) && rows > 0 && cols > 0)) throw new Error(`${spec.name}: bad shape [${rows}, ${cols}]`);
      if (source.kind === "bytes" && source.bytes.byteLength !== rows * cols * size) {
        throw new Error(`${spec.name}: ${source.bytes.byteLength} bytes, expected ${rows}×${cols}×${size}`);
      }
      const { held, tiled, panels } = this.heldForm(spec);
      checkEpilogue(spec);
      if (source.kind === "image") return this.addFromImage(spec, source.image, source.index);
      const rowBytes = cols * size; // in the source
      const bytes = rows * cols * (held === "Q8_0" ? 1 : DTYPE_BYTES[held]);
      const scaleBytes = held === "Q8_0" ? (4 * rows * cols) / Q8_BLOCK : 0;
      const f16 = held === "F16";
      const biasBytes = spec.bias ? 4 * rows + 16 : 0;
      let ai = await this.arenaFor(bytes + scaleBytes + 32 + biasBytes + (f16 ? 4 * (rows + 1) + 16 : 0));
      let arena = this.arenas[ai];
      // tiled Q8_0 keeps its scales among its int8 (one region); row-major Q8_0 apart
      let ptr = arena.alloc(tiled ? bytes + scaleBytes : bytes);
      const scales = scaleBytes && !tiled ? arena.alloc(scaleBytes) : 0;
      let rowStart = f16 ? arena.alloc(4 * (rows + 1)) : 0;
      let bias = spec.bias ? arena.alloc(4 * rows) : 0;
      if (spec.bias) arena.f32(bias, rows).set(spec.bias);

      // 1. the compute threads fill their rows in parallel (and count fp16 subnormals per row)
      const filled = await this.fillRows({ type: "fill", name: spec.name, arena: ai, ptr, dtype, held, scales, tiled, rows, cols, panels, counts: rowStart }, (r0, r1, copy) => {
        if (source.kind === "bytes" && !copy) {
          return { src: { kind: "bytes", bytes: source.bytes.subarray(r0 * rowBytes, r1 * rowBytes) } }; // this thread's own rows: a view is enough
        } else if (source.kind === "bytes") {
          // a fresh copy of just these rows, then moved (a Buffer's slice() would be a view: never transfer the caller's memory)
          const part = new Uint8Array((r1 - r0) * rowBytes);
          part.set(source.bytes.subarray(r0 * rowBytes, r1 * rowBytes));
          return { src: { kind: "bytes", bytes: part }, transfer: [part.buffer] };
        } else if (source.kind === "file") {
          return { src: { kind: "file", file: source.file, offset: source.offset + r0 * rowBytes } };
        }
        return { src: { kind: "random", seed: source.seed, scale: source.scale } };
      });
      const { count: subnormals, maxAbs } = filled;
      const finite = f16Finite(maxAbs);
      // 2. fp16 subnormals: the matrix held × 2^F16_SCALE_EXP where its range allows (compute.ts), then none is left;
      const scaleExp = f16 && subnormals > 0 && maxAbs <= F16_SCALABLE_MAX ? F16_SCALE_EXP : 0;
      const total = scaleExp ? 0 : subnormals;
      const meta: WeightMeta = { arena: ai, ptr, dtype: held, scales, rows, cols, finite, tiled, panels, bias, gelu: spec.activation === "gelu_new", scaleExp };
      // else per-row counts → row starts, room for the sparse lists, then the workers move them there
      if (f16 && total > 0) {
        const sparseBytes = 8 * total + 64;
        if (arena.free() < sparseBytes) {
          // the lists must sit in the weight's arena (a kernel sees one memory): move the weight
          const to = await this.arenaFor(bytes + 4 * (rows + 1) + biasBytes + sparseBytes);
          const dst = this.arenas[to];
          const p = dst.alloc(bytes);
          const rs = dst.alloc(4 * (rows + 1));
          const b = spec.bias ? dst.alloc(4 * rows) : 0;
          dst.u8(p, bytes).set(arena.u8(ptr, bytes));
          dst.u32(rs, rows).set(arena.u32(rowStart, rows));
          if (spec.bias) dst.f32(b, rows).set(spec.bias);
          [ai, arena, ptr, rowStart, bias] = [to, dst, p, rs, b];
          Object.assign(meta, { arena: ai, ptr, bias });
        }
        const starts = arena.u32(rowStart, rows + 1);
        let k = 0;
        for (let r = 0; r < rows; r++) {
          const c = starts[r];
          starts[r] = k;
          k += c;
        }
        starts[rows] = k;
        meta.sparse = { rowStart, colIdx: arena.alloc(4 * total), vals: arena.alloc(4 * total) };
      }
      return this.register(meta, true, { name: spec.name, dense: tiled ? bytes + scaleBytes : bytes, scaleBytes: tiled ? 0 : scaleBytes, sparseTotal: total });
    });
  }

  /**
   * A weight from entry `index` of a weight image, as held: its matrix mapped from the
   * file (mmap over its pages of the arena) or read by the threads, its small sections
   * read here. The threads scan an fp16 matrix like any other source (inf/NaN).
   */
  private async addFromImage(spec: WeightSpec, image: WeightImage, index: number): Promise<number> {
    const { held, tiled, panels } = this.heldForm(spec);
    const { rows, cols } = spec;
    const e = image.header.weights[index];
    const want = `${spec.name} [${rows}, ${cols}] ${held}${tiled ? " tiled" : ""}${panels > 1 ? ` in ${panels} panels` : ""}`;
    const have = e && `${e.name} [${e.rows}, ${e.cols}] ${e.held}${e.tiled ? " tiled" : ""}${e.panels > 1 ? ` in ${e.panels} panels` : ""}`;
    if (have !== want) throw new ImageError(image.file, `weight ${index} is ${have ?? "missing"}, the model asks for ${want} (delete the image to have it written again)`);
    const dense = denseBytes(held, rows, cols, tiled);
    const scaleBytes = e.scales?.[1] ?? 0;
    const total = e.sparse?.total ?? 0;
    const ai = await this.arenaFor(pageUp(dense) + OS_PAGE + scaleBytes + (spec.bias ? 4 * rows + 16 : 0) + (total ? 4 * (rows + 1) + 8 * total + 48 : 0) + 32);
    const arena = this.arenas[ai];
    const ptr = arena.allocPages(dense);
    const scales = scaleBytes ? arena.alloc(scaleBytes) : 0;
    const bias = spec.bias ? arena.alloc(4 * rows) : 0;
    if (spec.bias) arena.f32(bias, rows).set(spec.bias);
    const sparse = e.sparse && { rowStart: arena.alloc(4 * (rows + 1)), colIdx: arena.alloc(4 * total), vals: arena.alloc(4 * total) };
    let mapped = false;
    const fd = fs.openSync(image.file, "r");
    try {
      const read = (at: number, [offset, bytes]: [number, number]) => readAt(fd, arena.u8(at, bytes), offset, image.file, e.name);
      if (e.scales) read(scales, e.scales);
      if (sparse && e.sparse) {
        read(sparse.rowStart, e.sparse.rowStart);
        read(sparse.colIdx, e.sparse.colIdx);
        read(sparse.vals, e.sparse.vals);
        // the kernels index x and the lists with these: every one inside its range
        const starts = arena.u32(sparse.rowStart, rows + 1);
        let ok = starts[0] === 0 && starts[rows] === total;
        for (let r = 0; ok && r < rows; r++) ok = starts[r] <= starts[r + 1];
        if (!ok) throw new ImageError(image.file, `${e.name}: subnormal row starts not increasing from 0 to ${total}`);
        const idx = arena.u32(sparse.colIdx, total);
        for (let k = 0; k < total; k++) if (idx[k] >= cols) throw new ImageError(image.file, `${e.name}: subnormal column index ${idx[k]} outside its ${cols} columns`);
      }
      if (this.mapImages) {
        const libc = libcMadvise();
        const why = typeof libc === "string" ? libc : mapInto(libc, arena.memory, ptr, fd, e.dense[0], dense);
        mapped = why === null;
        if (!mapped) this.mapImages = false; // the rest are read too
        this.imageNote ||= mapped ? `weights mapped from ${image.file} (mmap)` : `weights read from ${image.file} as held (not mapped: ${why})`;
      } else {
        this.imageNote ||= `weights read from ${image.file} as held (no conversion)`;
      }
    } finally {
      fs.closeSync(fd);
    }
    const filled = await this.fillRows({ type: "fill", name: spec.name, arena: ai, ptr, dtype: spec.dtype, held, scales, tiled, rows, cols, panels, counts: 0 }, () => ({
      src: { kind: "image", file: image.file, offset: e.dense[0], mapped },
    }));
    const { count: left, maxAbs } = filled;
    const finite = f16Finite(maxAbs);
    if (left) throw new ImageError(image.file, `${e.name}: ${left} subnormal fp16 values in its matrix, where an image holds none (they belong in its lists, or are scaled out)`);
    const meta: WeightMeta = { arena: ai, ptr, dtype: held, scales, rows, cols, finite, tiled, panels, bias, gelu: spec.activation === "gelu_new", scaleExp: e.scaleExp ?? 0, ...(sparse && { sparse }) };
    return this.register(meta, false, { name: spec.name, dense, scaleBytes, sparseTotal: total });
  }

  /** The image at `file` if it is one of this backend's layout made from `key`; else why not (ImageError: not an image, or damaged). */
  openImage(file: string, key: string): WeightImage | string {
    if (!fs.existsSync(file)) return "no image yet";
    let image: WeightImage;
    try {
      image = readImage(file);
    } catch (e) {
      // damaged: say how to get a good one (a file that is not an image is the user's to keep)
      if (e instanceof ImageError && !e.notImage) throw new ImageError(file, `${e.message.slice(file.length + 2)} (delete it to have it written again)`);
      throw e;
    }
    if (image.header.layout !== this.imageLayout) return `stale: made by other kernels (${image.header.layout}, these are ${this.imageLayout})`;
    if (image.header.key !== key) return "stale: made from other weights, or the files changed since";
    return image;
  }

  /** Save every weight as held, in the order added, to the image `file`, tagged `key` (image.ts). */
  saveImage(file: string, key: string, onProgress?: (done: number, total: number) => void): Promise<void> {
    return this.serial(async () => {
      writeImage(file, this.imageLayout, key, this.weights.length, (i) => {
        const w = this.weights[i];
        const a = this.arenas[w.arena];
        const { rows, cols, tiled, panels } = w;
        return {
          entry: { name: w.name, held: w.dtype, rows, cols, tiled, panels, sparseTotal: w.sparseTotal, ...(w.scaleExp && { scaleExp: w.scaleExp }) },
          dense: a.u8(w.ptr, w.dense),
          scales: w.scaleBytes ? a.u8(w.scales, w.scaleBytes) : undefined,
          sparse: w.sparse && { rowStart: a.u8(w.sparse.rowStart, 4 * (rows + 1)), colIdx: a.u8(w.sparse.colIdx, 4 * w.sparseTotal), vals: a.u8(w.sparse.vals, 4 * w.sparseTotal) },
        };
      }, onProgress);
    });
  }

  /** New shared x and output buffers that hold `xLen` and `outLen` floats (at least doubling a short one). */
  private async growBuffers(xLen: number, outLen: number): Promise<void> {
    const grow = (have: number, need: number) => Math.max(need, have < need ? 2 * have : have);
    this.x = new Float32Array(new SharedArrayBuffer(4 * grow(this.x.length, xLen)));
    this.out = new Float32Array(new SharedArrayBuffer(4 * grow(this.out.length, outLen)));
    const x = this.x.buffer as SharedArrayBuffer;
    const out = this.out.buffer as SharedArrayBuffer;
    this.self.xShared = this.x;
    this.self.outShared = this.out;
    await this.broadcast((_, id) => ({ msg: { type: "buffers", id, x, out } }));
  }

  async matmul(handle: number, x: Float32Array, T: number): Promise<Float32Array> {
    return (await this.matmulMany([{ handle, x }], T))[0];
  }

  matmulMany(calls: readonly { handle: number; x: Float32Array }[], T: number): Promise<Float32Array[]> {
    return this.serial(async () => {
      if (calls.length < 1 || calls.length > MAX_CALLS) throw new Error(`${this.name}: ${calls.length} matmuls in one call, 1…${MAX_CALLS} allowed`);
      let xLen = 0, outLen = 0;
      const ws = calls.map(({ handle, x }) => {
        const w = this.weights[handle];
        if (!w) throw new Error(`${this.name}: no weight with handle ${handle}`);
        if (x.length !== T * w.cols) throw new Error(`${this.name}: x has ${x.length} values, expected T=${T} × ${w.cols}`);
        const at = { x: xLen, out: outLen };
        xLen += T * w.cols;
        outLen += T * w.rows;
        return { w, at };
      });
      // (no await unless the buffers must grow: the command must reach the workers in the caller's turn)
      if (this.x.length < xLen || this.out.length < outLen) await this.growBuffers(xLen, outLen);
      calls.forEach(({ handle, x }, i) => {
        this.x.set(x, ws[i].at.x);
        this.calls.set([handle, ws[i].at.x, ws[i].at.out], 3 * i);
      });
      Atomics.store(this.ctrl, Ctrl.CALLS, calls.length);
      Atomics.store(this.ctrl, Ctrl.T, T);
      Atomics.store(this.ctrl, Ctrl.NEXT, 0);
      Atomics.store(this.ctrl, Ctrl.DONE, 0);
      this.command(Op.MATMUL);
      // The workers are at it. Let the caller's synchronous code run first (phi's
      // attention, while the workers do fc2), then take this thread's share.
      await Promise.resolve();
      let mine: unknown;
      try {
        this.self.matmul(calls.length, T); // this thread's share, while the workers take theirs
      } catch (e) {
        mine = e;
        Atomics.store(this.ctrl, Ctrl.NEXT, 1 << 30); // the others stop taking items
      }
      await this.allDone();
      if (mine) throw mine instanceof Error ? mine : new Error(String(mine));
      const errors = Atomics.exchange(this.ctrl, Ctrl.ERRORS, 0);
      if (errors) {
        const i = 31 - Math.clz32(errors & -errors);
        const text = this.errorText.slice(i * ERROR_SLOT, (i + 1) * ERROR_SLOT);
        const end = text.indexOf(0);
        throw new Error(`kernel worker ${i}: ${new TextDecoder().decode(end < 0 ? text : text.subarray(0, end))}`);
      }
      // copied out with set(): slice() of a SharedArrayBuffer-backed array takes V8's
      // slow path (840 µs for lm_head's 51200 floats here, against 50 µs)
      return ws.map(({ w, at }) => {
        const y = new Float32Array(T * w.rows);
        y.set(this.out.subarray(at.out, at.out + T * w.rows));
        return y;
      });
    });
  }

  private async allDone(): Promise<void> {
    const n = this.workers.length;
    // The workers are finishing their last items (≈0.1 ms): spin for a moment, then
    // block in Atomics.wait (Node allows it on the main thread; no event-loop turn to
    // wake up), and after ALL_DONE_SYNC_MS wait asynchronously, so that a worker that
    // died is noticed (its "exit" event sets failure).
    const t0 = performance.now();
    for (let i = 1; Atomics.load(this.ctrl, Ctrl.DONE) < n; i++) {
      if ((i & 255) !== 0) continue;
      const t = performance.now() - t0;
      if (t > ALL_DONE_SYNC_MS) break;
      const done = Atomics.load(this.ctrl, Ctrl.DONE);
      if (t > ALL_DONE_SPIN_MS && done < n) Atomics.wait(this.ctrl, Ctrl.DONE, done, 10);
    }
    for (;;) {
      const done = Atomics.load(this.ctrl, Ctrl.DONE);
      if (done >= n) return;
      if (this.failure) throw this.failure;
      const r = waitAsync(this.ctrl, Ctrl.DONE, done, 1000);
      if (r.async) await r.value;
    }
  }

  weightBytes(): number {
    return this.weights.reduce((s, w) => s + w.dense + w.scaleBytes, 0);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue;
    this.closed = true;
    this.command(Op.EXIT);
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.weights = [];
    this.arenas = [];
  }
}

export interface WasmMatmulOptions {
  /** Worker threads (default: one per core). */
  threads?: number;
  /** Size limit of each wasm memory (default: wasm32's 4 GiB; small values only to test the splitting). */
  maxArenaBytes?: number;
  /**
   * Relaxed SIMD's kernels where the runtime has them (default true; false only to compare
   * kernels): the fp16 prefill's GEMM through its fused multiply-add (rounded once where the
   * other rounds twice), and Q8_0 products through its int8 dot if `int8Dot`.
   */
  relaxed?: boolean;
  /**
   * Q8_0 products through relaxed SIMD's int8 dot, where the runtime has it: the same results
   * to the bit, faster only on some CPUs (default: int8DotPays(), wasm.ts).
   */
  int8Dot?: boolean;
  /** Map each weight's memory in one call before writing it (default true; false only to compare, prefault.ts). */
  prefault?: boolean;
  /** Map weight images into memory with mmap (default false: read them; see image.ts for what mapping measured). */
  mapImages?: boolean;
}

/** Bump when compute.ts changes how it lays out a held weight without the kernels' module changing. */
const HELD_LAYOUT_VERSION = 1;

/** Start the kernel workers and return the backend. */
export async function createWasmMatmul(opts: WasmMatmulOptions = {}): Promise<MatmulBackend> {
  const threads = opts.threads ?? os.availableParallelism();
  if (!(Number.isInteger(threads) && threads >= 1 && threads <= 31)) throw new Error(`threads must be an integer in 1…31, got ${threads}`);
  const wasm = wasmPath();
  kernelModule(wasm); // compile errors surface here, not in a worker
  const relaxedWasm = wasmPath("relaxed.wasm");
  const relaxed = (opts.relaxed ?? true) ? relaxedModule(relaxedWasm) : null;
  const int8Dot = relaxed !== null && (opts.int8Dot ?? int8DotPays());
  const prefault = opts.prefault ?? true;
  const script = compiledScript("worker");
  const ctrl = new SharedArrayBuffer(4 * Ctrl.LENGTH);
  const errorText = new SharedArrayBuffer(ERROR_SLOT * threads);
  const calls = new SharedArrayBuffer(4 * 3 * MAX_CALLS);
  const workers = Array.from({ length: threads - 1 }, (_, index) => {
    const workerData: WorkerInit = { index, threads, wasm, relaxedWasm: relaxed ? relaxedWasm : null, int8Dot, ctrl, errorText, seq0: 0, calls, prefault };
    return new Worker(script, { workerData });
  });
  return new WasmMatmul(workers, ctrl, errorText, calls, opts.maxArenaBytes ?? MAX_ARENA_BYTES, relaxed, int8Dot, prefault, wasm, opts.mapImages ?? false);
}
