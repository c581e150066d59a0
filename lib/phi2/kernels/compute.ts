// The work of one compute thread: filling its rows of a weight at load, and taking
// work items of a matmul command until none are left. The kernel workers
// (worker.ts) run it, and so does the main thread itself (index.ts): with one
// thread per core, the main thread never sleeps through a matmul and never needs
// waking, and on a 2-core machine one worker does the other half.

import * as fs from "node:fs";
import { Arena, MAX_COLS, XCAP, YCAP } from "./wasm";
import { Q8_BLOCK } from "../matmul";
import { DTYPE_BYTES } from "../dtypes";
import { Ctrl, NOT_F16, type FillMessage, type Filled, type WeightMeta } from "./protocol";
import type { Prefaulter } from "./prefault";

/** Bytes of one block of a tiled Q8_0 group: the 4 rows' scales (float32), then their 4 × 32 int8 (assembly/tiled.ts). */
const Q8_GROUP_BLOCK_BYTES = 16 + 4 * 32;
const BYTES = { ...DTYPE_BYTES, Q8_0: 1 } as const; // as held; Q8_0: the int8 part (its scales apart)
const TWO_POW_112 = 2 ** 112;

// fp16 subnormals without a sparse pass. A subnormal half becomes a denormal float32 in
// the kernels' raw form, and a multiply with one is slow (assembly/matvec.ts); they used
// to be moved out to sparse lists, added back by a pass after each product (about 9.5 ms
// of each thread's 172–190 ms fp16 decode step, timed on phi-2 shapes). Multiplied by
// 2^10, every subnormal half is normal, exactly, and so is every other half while none
// is 64 or more (exponent field ≤ 20; trained weights are typically far below). So at load an
// fp16 matrix with subnormals and such a range is held × 2^10 (f16ScalePow2), and x' is
// scaled by 2^(112 − 10) instead of 2^112: each product w·x is the same float as before,
// and the subnormals' products are summed inside the kernel rather than after it (the
// same additions in another order). A matrix with a half of 64 or more, or inf/NaN,
// keeps the lists. (F16_SCALE_EXP and F16_SCALABLE_MAX: protocol.ts.)
const READ_CHUNK = 1 << 30; // one readSync reads at most 2 GB
const BOUNCE_BYTES = 1 << 20; // file reads pass through this much of the thread's scratch (see fillStored)
// Widest column panel of a Q8_0 matrix: one kernel pass keeps x (int16, 2 bytes a
// column) in L1 beside the 4 rows it streams (4 bytes a column). At 2560 and 4096
// columns a thread multiplied 17–19 GMAC/s, at 5120 and 10240 (phi-2's fc2) 12–14:
// x no longer stayed in the 48 KB L1. So fc2 is held as 4 panels of 2560 columns.
export const Q8_PANEL_COLS = 4096;

/** Column panels of a tiled Q8_0 matrix: the fewest equal panels of whole blocks, at most Q8_PANEL_COLS wide and at least 1024; else 1. */
export function q8Panels(cols: number): number {
  const nb = cols / Q8_BLOCK;
  for (let p = Math.ceil(cols / Q8_PANEL_COLS); p <= nb / 32; p++) if (nb % p === 0) return p;
  return 1;
}

/**
 * Where tiled Q8_0 rows live: panel j of a [rows, cols] matrix is its own [rows, pc]
 * matrix (pc = cols/panels) at ptr + j·rows·pc·9/8, in tiled.ts's layout (groups of 4
 * rows, 144 bytes a block: 4 scales, then 4 × 32 int8). Returns the address of the
 * group of `row` (rows counted from the panel's first) and pc.
 */
function q8Group(w: { ptr: number; rows: number; cols: number; panels: number }, j: number, row: number): { g: number; pc: number } {
  const pc = w.cols / w.panels;
  return { g: w.ptr + ((j * w.rows + (row & ~3)) * pc * 9) / 8, pc };
}

// Row blocks per thread and call: enough to even out a core that another program
// holds for a moment, few enough to stream long runs: each new block is a new stream
// for the hardware prefetcher. Whole decode steps on phi-2 shapes, 4 against 16,
// alternating in one process: q8 97.3 → 90.7 ms/token (100.3 → 92.8 with the relaxed
// int8 dot on Node 24), fp16 197 → 187. One block per thread (two halves) streamed no
// faster than 4 and balances worst.
const BLOCKS_PER_THREAD = 4;

// The last product of a command ends at a barrier: each thread waits for the others'
// last block. There its last `threads` blocks are cut into quarters, so that the wait
// is for a quarter block at most. Whole fp16 decode steps (phi-2 shapes, 2 threads),
// alternating in one process, three runs: medians 170.9 → 164.9, 190.7 → 181.5 and
// 170.3 → 168.1 ms, the threads' summed wait 14.7 → 6.6, 24.0 → 6.5, 8.6 → 4.7 ms a
// step; the 10-token prefill 1058 → 1023 ms (medians of 12). Halves and eighths were no
// better.
const TAIL_SPLIT = 4;

/** Read dst.length bytes of the open file `fd` at `offset` into dst (the error names `file` and weight `name`). */
export function readAt(fd: number, dst: Uint8Array, offset: number, file: string, name: string): void {
  for (let got = 0; got < dst.length; ) {
    const n = fs.readSync(fd, dst, got, Math.min(READ_CHUNK, dst.length - got), offset + got);
    if (n === 0) throw new Error(`${file}: ended while reading weight "${name}" (${got} of ${dst.length} bytes at offset ${offset})`);
    got += n;
  }
}

/** A fill from the model's values (read, copied or generated), not from an image's held bytes. */
type ValueFill = FillMessage & { source: Exclude<FillMessage["source"], { kind: "image" }> };

/** One product of a MATMUL command, cut into work items [token block, row block]. */
interface Part {
  w: WeightMeta;
  xOff: number; // where its x starts in xShared (floats)
  outOff: number; // where its y starts in outShared
  tc: number; // tokens per block
  rb: number; // rows per block
  nRow: number; // row blocks: nBig of rb rows, then the rest in blocks of rs rows
  nBig: number;
  rs: number; // rows per block after the first nBig (the command's last product: rb / TAIL_SPLIT; else rb)
  first: number; // its first item number in the command
}

export class ComputeThread {
  /** The arenas (shared memories), indexed as the main thread numbers them. */
  readonly arenas: Arena[] = [];
  /** Every registered weight, by handle. */
  readonly weights = new Map<number, WeightMeta>();
  /** The shared x and output buffers of matmul commands. */
  xShared = new Float32Array(0);
  outShared = new Float32Array(0);

  /** slot: this thread's scratch slot in every arena; threads: all compute threads. */
  constructor(
    readonly slot: number,
    readonly threads: number,
    private readonly ctrl: Int32Array,
    private readonly calls: Int32Array,
    /** Maps the rows' memory before they are written (prefault.ts). */
    readonly prefaulter: Prefaulter,
    /** Tiled Q8_0 products through relaxed.wasm's int8 dot, where an arena has it (wasm.ts: int8DotPays). */
    private readonly int8Dot: boolean,
  ) {}

  /**
   * Rows [r0, r1) of a weight converted at load (held F32 or Q8_0, or a dtype other
   * than the source's), a chunk of rows at a time through this worker's scratch:
   * source → float32 in XIN (the values the source dtype holds) → the held form.
   */
  private fillConverted(m: ValueFill, fd: number): void {
    const arena = this.arenas[m.arena];
    const k = arena.k;
    const { XIN, XP } = arena.scratch(this.slot);
    const size = BYTES[m.dtype];
    const rowBytes = m.cols * size;
    const chunk = Math.max(1, Math.floor(XCAP / m.cols)); // rows per chunk
    const s = m.source;
    for (let r = m.r0; r < m.r1; r += chunk) {
      const rows = Math.min(chunk, m.r1 - r);
      const n = rows * m.cols;
      const raw = arena.u8(XP, n * size);
      if (s.kind === "random") {
        k.randomF32(XIN, n, s.seed, r * m.cols, s.scale);
        // the values a weight stored in the source dtype holds
        if (m.dtype === "F16") k.f32ToF16(XIN, XP, n);
        else if (m.dtype === "BF16") k.f32ToBF16(XIN, XP, n);
      } else if (s.kind === "bytes") {
        raw.set(s.bytes.subarray((r - m.r0) * rowBytes, (r - m.r0 + rows) * rowBytes));
      } else {
        readAt(fd, raw, s.offset + (r - m.r0) * rowBytes, s.file, m.name);
      }
      if (s.kind !== "random" || m.dtype !== "F32") {
        if (m.dtype === "F16") k.f16ToF32(XP, XIN, n);
        else if (m.dtype === "BF16") {
          const src = arena.u16(XP, n), dst = arena.u32(XIN, n);
          for (let i = 0; i < n; i++) dst[i] = src[i] << 16;
        } else arena.u8(XIN, 4 * n).set(raw);
      }
      if (m.held === "F32") {
        arena.f32(m.ptr + 4 * r * m.cols, n).set(arena.f32(XIN, n));
      } else {
        // each row's blocks to their places: tiled, into its group's blocks (lane row % 4)
        // of each panel; else row-major, the scales apart
        for (let i = 0; i < rows; i++) {
          const row = r + i;
          for (let j = 0; j < m.panels; j++) {
            let ok: number;
            if (m.tiled) {
              const { g, pc } = q8Group(m, j, row);
              const lane = row & 3;
              ok = k.quantizeQ8Strided(XIN + 4 * (i * m.cols + j * pc), pc, g + 16 + 32 * lane, Q8_GROUP_BLOCK_BYTES, g + 4 * lane, Q8_GROUP_BLOCK_BYTES);
            } else {
              ok = k.quantizeQ8Strided(XIN + 4 * i * m.cols, m.cols, m.ptr + row * m.cols, Q8_BLOCK, m.scales + (4 * row * m.cols) / Q8_BLOCK, 4);
            }
            if (!ok) throw new Error(`${m.name}: inf or NaN in row ${row}: cannot quantize to Q8_0`);
          }
        }
      }
    }
  }

  /**
   * Rows [r0, r1) of an fp16 weight held tiled: a chunk of whole groups of 4 rows at a
   * time lands row-major in this thread's scratch (read from the file, copied, or
   * generated), is scanned there while in cache (inf/NaN, subnormals per row), and is
   * tiled into place: the weight's memory is written once.
   */
  private fillTiledF16(m: ValueFill, fd: number): Filled {
    const arena = this.arenas[m.arena];
    const k = arena.k;
    const { XIN, XP } = arena.scratch(this.slot);
    const rowBytes = 2 * m.cols;
    const chunk = 4 * Math.max(1, Math.floor(BOUNCE_BYTES / (4 * rowBytes))); // rows per chunk: ≤ 1 MB of halves in XP (and XCAP floats in XIN)
    const s = m.source;
    let maxAbs = 0, count = 0;
    for (let r = m.r0; r < m.r1; r += chunk) {
      const rows = Math.min(chunk, m.r1 - r);
      const n = rows * m.cols;
      if (s.kind === "bytes") arena.u8(XP, 2 * n).set(s.bytes.subarray((r - m.r0) * rowBytes, (r - m.r0 + rows) * rowBytes));
      else if (s.kind === "file") readAt(fd, arena.u8(XP, 2 * n), s.offset + (r - m.r0) * rowBytes, s.file, m.name);
      else {
        k.randomF32(XIN, n, s.seed, r * m.cols, s.scale); // random.ts's values, rounded to fp16
        k.f32ToF16(XIN, XP, n);
      }
      maxAbs = Math.max(maxAbs, k.f16MaxAbs(XP, n));
      count += k.f16CountSubnormalsPerRow(XP, rows, m.cols, m.counts + 4 * r);
      k.tileF16(XP, m.ptr + r * rowBytes, rows, m.cols);
    }
    return { count, maxAbs };
  }

  /** The byte ranges rows [r0, r1) of a weight take as held: tiled Q8_0 one per panel; row-major Q8_0 its int8, then its scales. */
  private heldRanges(m: FillMessage): [number, number][] {
    const rows = m.r1 - m.r0;
    if (m.held === "Q8_0" && m.tiled) {
      return Array.from({ length: m.panels }, (_, j): [number, number] => {
        const { g, pc } = q8Group(m, j, m.r0);
        return [g, (rows * pc * 9) / 8];
      });
    }
    const size = BYTES[m.held];
    const ranges: [number, number][] = [[m.ptr + m.r0 * m.cols * size, rows * m.cols * size]];
    if (m.held === "Q8_0") ranges.push([m.scales + (4 * m.r0 * m.cols) / Q8_BLOCK, (4 * rows * m.cols) / Q8_BLOCK]);
    return ranges;
  }

  /**
   * Rows [r0, r1) of a weight into its place; F16: per-row subnormal counts and the
   * largest |h| (which says whether all are finite). Whatever the path: a bytes source is checked, the rows' memory is
   * mapped before any byte lands in it (prefault.ts), and a file is opened once.
   */
  fill(m: FillMessage): Filled {
    if (m.cols > MAX_COLS) throw new Error(`${m.name}: ${m.cols} columns, the kernels support at most ${MAX_COLS}`);
    const s = m.source;
    const sourceBytes = (m.r1 - m.r0) * m.cols * BYTES[m.dtype];
    if (s.kind === "bytes" && s.bytes.byteLength !== sourceBytes) throw new Error(`${m.name}: got ${s.bytes.byteLength} bytes for rows ${m.r0}…${m.r1}, expected ${sourceBytes}`);
    const arena = this.arenas[m.arena];
    if (s.kind === "image") return this.fillFromImage(m, s);
    const v = m as ValueFill;
    for (const [ptr, bytes] of this.heldRanges(m)) this.prefaulter.populate(arena.memory, ptr, bytes);
    const fd = s.kind === "file" ? fs.openSync(s.file, "r") : -1;
    try {
      if (m.held !== m.dtype) {
        this.fillConverted(v, fd);
        return NOT_F16;
      }
      return m.dtype === "F16" && m.tiled ? this.fillTiledF16(v, fd) : this.fillStored(v, fd);
    } finally {
      if (fd >= 0) fs.closeSync(fd);
    }
  }

  /**
   * Rows [r0, r1) of a weight held as stored, row-major. A file's bytes pass through a
   * ~1 MB bounce buffer in the thread's scratch: on this VM a read() straight into fresh
   * memory cost 5 s/GB and the first access after it another 2.2 s/GB, while through a
   * bounce buffer the whole came to 5.1 s/GB.
   */
  private fillStored(m: ValueFill, fd: number): Filled {
    const arena = this.arenas[m.arena];
    const rows = m.r1 - m.r0;
    const n = rows * m.cols;
    const bytes = n * BYTES[m.dtype];
    const dst = m.ptr + m.r0 * m.cols * BYTES[m.dtype];
    const s = m.source;
    if (s.kind === "bytes") {
      arena.u8(dst, bytes).set(s.bytes);
    } else if (s.kind === "file") {
      this.readThrough(fd, dst, bytes, s.offset, s.file, m);
    } else if (m.dtype === "F32") {
      arena.k.randomF32(dst, n, s.seed, m.r0 * m.cols, s.scale);
    } else {
      // random.ts's float32 values, rounded to the dtype in wasm, a chunk at a time
      const round = m.dtype === "F16" ? arena.k.f32ToF16 : arena.k.f32ToBF16;
      const { XIN } = arena.scratch(this.slot);
      for (let i = 0; i < n; i += XCAP) {
        const count = Math.min(XCAP, n - i);
        arena.k.randomF32(XIN, count, s.seed, m.r0 * m.cols + i, s.scale);
        round(XIN, dst + 2 * i, count);
      }
    }
    if (m.dtype !== "F16") return NOT_F16;
    return { count: arena.k.f16CountSubnormalsPerRow(dst, rows, m.cols, m.counts + 4 * m.r0), maxAbs: arena.k.f16MaxAbs(dst, n) };
  }

  /** bytes of the open file `fd` at `offset` into the arena at dst, through a ~1 MB bounce buffer in this thread's scratch (see fillStored). */
  private readThrough(fd: number, dst: number, bytes: number, offset: number, file: string, m: FillMessage): void {
    const arena = this.arenas[m.arena];
    const bounce = arena.u8(arena.scratch(this.slot).XIN, BOUNCE_BYTES);
    for (let got = 0; got < bytes; got += BOUNCE_BYTES) {
      const part = bounce.subarray(0, Math.min(BOUNCE_BYTES, bytes - got));
      readAt(fd, part, offset + got, file, m.name);
      arena.u8(dst + got, part.length).set(part);
    }
  }

  /**
   * Rows [r0, r1) of a weight from a weight image (image.ts), in their held form: read
   * into place unless the main thread mapped the file there. An fp16 matrix is then
   * scanned, as any source is: inf/NaN (the fast kernel is for finite weights), and the
   * subnormals the image's lists should hold instead (count: there should be none).
   */
  private fillFromImage(m: FillMessage, s: Extract<FillMessage["source"], { kind: "image" }>): Filled {
    const arena = this.arenas[m.arena];
    // the matrix's ranges (row-major Q8_0's scales are a section of their own, read by the main thread)
    const ranges = m.held === "Q8_0" && !m.tiled ? this.heldRanges(m).slice(0, 1) : this.heldRanges(m);
    if (!s.mapped) {
      const fd = fs.openSync(s.file, "r");
      try {
        for (const [ptr, bytes] of ranges) {
          this.prefaulter.populate(arena.memory, ptr, bytes);
          this.readThrough(fd, ptr, bytes, s.offset + (ptr - m.ptr), s.file, m);
        }
      } finally {
        fs.closeSync(fd);
      }
    }
    if (m.held !== "F16") return NOT_F16;
    let maxAbs = 0, count = 0;
    const { TMP } = arena.scratch(this.slot);
    for (const [ptr, bytes] of ranges) {
      maxAbs = Math.max(maxAbs, arena.k.f16MaxAbs(ptr, bytes / 2));
      count += arena.k.f16CountSubnormalsPerRow(ptr, 1, bytes / 2, TMP); // all of it as one row
    }
    return { count, maxAbs };
  }

  /** Rows [r0, r1) of a filled fp16 weight: scaled by 2^scaleExp (see F16_SCALE_EXP), or its subnormals out to the sparse lists (see matvec.ts). */
  finishRows(w: WeightMeta, r0: number, r1: number): void {
    const k = this.arenas[w.arena].k;
    if (w.scaleExp) k.f16ScalePow2(w.ptr + r0 * w.cols * 2, (r1 - r0) * w.cols, w.scaleExp);
    if (!w.sparse) return;
    const extract = w.tiled ? k.f16ExtractSubnormalsTiled : k.f16ExtractSubnormalsAt;
    extract(w.ptr + r0 * w.cols * 2, r1 - r0, w.cols, w.sparse.rowStart + 4 * r0, w.sparse.colIdx, w.sparse.vals);
  }

  /** The command's products as parts, each cut into blocks of rows × blocks of tokens, numbered in one sequence. */
  private plan(T: number, n: number): { parts: Part[]; items: number } {
    const parts: Part[] = [];
    let items = 0;
    for (let i = 0; i < n; i++) {
      const handle = this.calls[3 * i];
      const w = this.weights.get(handle);
      if (!w) throw new Error(`no weight with handle ${handle}`);
      const tc = Math.max(1, Math.min(T, Math.floor(XCAP / w.cols), YCAP / 16)); // tokens per block
      // rows per block: BLOCKS_PER_THREAD blocks per thread, a multiple of 4 (the kernels do 4 rows at a time)
      const rb = Math.max(4, Math.min(Math.floor(YCAP / tc) & ~3, Math.ceil(w.rows / (BLOCKS_PER_THREAD * this.threads) / 4) * 4, 1 << 20));
      let nRow = Math.ceil(w.rows / rb), nBig = nRow, rs = rb;
      if (i === n - 1 && nRow > this.threads) {
        nBig = nRow - this.threads; // the last `threads` blocks, cut smaller (TAIL_SPLIT)
        rs = Math.max(4, Math.ceil(rb / TAIL_SPLIT / 4) * 4);
        nRow = nBig + Math.ceil((w.rows - nBig * rb) / rs);
      }
      parts.push({ w, xOff: this.calls[3 * i + 1], outOff: this.calls[3 * i + 2], tc, rb, nRow, nBig, rs, first: items });
      items += nRow * Math.ceil(T / tc);
    }
    return { parts, items };
  }

  /** Work items of y_i = x_i · W_iᵀ for each product of the command, taken from the shared counter until none are left. */
  matmul(n: number, T: number): void {
    const { parts, items } = this.plan(T, n);
    let prepared = -1; // the (part, token block) whose x' is in this worker's scratch, as first item number
    let fast = false;
    for (;;) {
      const item = Atomics.add(this.ctrl, Ctrl.NEXT, 1);
      if (item >= items) return;
      let p = parts.length - 1;
      while (parts[p].first > item) p--;
      const { w, xOff, outOff, tc, rb, nRow, nBig, rs, first } = parts[p];
      const { rows, cols } = w;
      const arena = this.arenas[w.arena];
      const k = arena.k;
      const { XIN, XP, Y, TMP } = arena.scratch(this.slot);
      // tiled Q8_0 through relaxed SIMD's int8 dot where the runtime has it and it pays (x as |x| and signs, int8)
      const kr = w.dtype === "Q8_0" && w.tiled && this.int8Dot ? arena.kr : null;
      const tb = Math.floor((item - first) / nRow);
      const rowBlock = (item - first) % nRow;
      const big = rowBlock < nBig; // else one of the tail's smaller blocks
      const i0 = big ? rowBlock * rb : nBig * rb + (rowBlock - nBig) * rs;
      const t0 = tb * tc;
      const nt = Math.min(tc, T - t0);
      const key = first + tb * nRow;
      if (key !== prepared) {
        arena.f32(XIN, nt * cols).set(this.xShared.subarray(xOff + t0 * cols, xOff + (t0 + nt) * cols));
        fast = false;
        if (kr) {
          kr.quantizeXSigned(XIN, nt, cols, XP, XP + nt * cols, XP + 2 * nt * cols); // |x|, its signs, then its block scales
        } else if (w.dtype === "Q8_0") {
          k.quantizeX(XIN, nt, cols, XP, XP + 2 * nt * cols); // int16 x, then its block scales
        } else if (w.dtype !== "F32") {
          // raw fp16 (value · 2^-112, held × 2^scaleExp) times x · 2^(112 − scaleExp): the tiled kernels and the T = 1 row-major one
          fast = w.dtype === "F16" && w.finite && (nt === 1 || w.tiled);
          const maxAbs = k.prepX(XIN, XP, nt, cols, 1, fast ? TWO_POW_112 / 2 ** w.scaleExp : 1);
          if (fast && !(maxAbs < 2 ** (16 + w.scaleExp))) {
            fast = false; // x' would overflow float32: take the exact path
            k.prepX(XIN, XP, nt, cols, 1, 1);
          }
        }
        prepared = key;
      }
      const m = Math.min(big ? rb : rs, rows - i0);
      const wp = w.ptr + i0 * cols * BYTES[w.dtype];
      if (w.dtype === "Q8_0" && w.tiled) {
        for (let j = 0; j < w.panels; j++) {
          const { g, pc } = q8Group(w, j, i0);
          const xd = XP + 2 * nt * cols + (4 * j * pc) / Q8_BLOCK;
          if (kr) kr.q8MatmulTiledRelaxed(g, XP + j * pc, XP + nt * cols + j * pc, xd, Y, m, pc, nt, m, cols, j > 0 ? 1 : 0);
          else k.q8MatmulTiled(g, XP + 2 * j * pc, xd, Y, m, pc, nt, m, cols, j > 0 ? 1 : 0);
        }
      } else if (w.dtype === "Q8_0") {
        k.q8Matmul(wp, w.scales + (4 * i0 * cols) / Q8_BLOCK, XP, XP + 2 * nt * cols, Y, m, cols, nt, m);
      } else if (w.tiled) {
        if (nt > 1) {
          // the prefill's GEMM, its multiply-adds fused where relaxed SIMD runs (assembly/relaxed.ts)
          const gemm = arena.kr ? arena.kr.f16MatmulTiledFused : k.f16MatmulTiled;
          gemm(wp, XP, Y, m, cols, nt, m, TMP, fast ? 1 : 0);
        } else if (fast) k.f16MatvecTiled(wp, XP, Y, m, cols);
        else k.f16MatvecTiledExact(wp, XP, Y, m, cols);
      } else if (nt === 1) {
        if (w.dtype === "F32") k.f32Matvec(wp, XIN, Y, m, cols);
        else if (w.dtype === "BF16") k.bf16Matvec(wp, XP, Y, m, cols);
        else if (fast) k.f16MatvecFast(wp, XP, Y, m, cols);
        else k.f16MatvecExact(wp, XP, Y, m, cols);
      } else if (w.dtype === "F32") {
        k.f32Matmul(wp, XIN, Y, m, cols, nt, m);
      } else {
        k.halfMatmul(wp, XP, Y, m, cols, nt, m, TMP, w.dtype === "BF16" ? 1 : 0);
      }
      if (!fast && w.scaleExp) {
        // the exact paths multiplied the held values (× 2^scaleExp) by x itself: scaled back (a power of two: exact while the sums are normal floats)
        const y = arena.f32(Y, nt * m);
        const back = 2 ** -w.scaleExp;
        for (let i = 0; i < y.length; i++) y[i] *= back;
      }
      if (w.sparse) k.sparseAdd(Y, i0, m, w.sparse.rowStart, w.sparse.colIdx, w.sparse.vals, XIN, cols, nt, m);
      if (w.bias || w.gelu) k.biasAct(Y, w.bias && w.bias + 4 * i0, m, nt, w.gelu ? 1 : 0); // on these rows, while they are in cache
      const y = arena.f32(Y, nt * m);
      for (let t = 0; t < nt; t++) this.outShared.set(y.subarray(t * m, (t + 1) * m), outOff + (t0 + t) * rows + i0);
    }
  }
}
