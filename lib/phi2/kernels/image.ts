// A weight image: every weight exactly as the kernels hold it (tiled fp16 with its
// held × 2^10 or its subnormals moved out, tiled Q8_0 with its scales, …), saved after one load so that
// the next load skips the work of converting the model: it reads the held bytes
// straight into place (the compute threads, each its rows), or maps them.
//
// Reading: the load then costs what writing fresh memory costs (prefault.ts), which
// dominates on the course's CI machine: a q8 load of a phi-2-shaped folder was faster
// from its image in four of six alternating pairs (by 10–62 %), within 3 % in two.
// Mapping (asked for: mapImages): mmap(MAP_FIXED | MAP_PRIVATE) each matrix's pages
// of the file over its place in the wasm memory, as llama.cpp maps its GGUF: pages in
// the page cache are mapped, not copied (q8 phi-2 in 0.17 s, fp16 in 3.3 s there).
// MAP_PRIVATE: a write to the memory would copy the page, never reach the file. But
// on that machine (a virtual machine) decoding from the mapped pages ran 2–11× slower
// than from the same bytes read into memory (q8: medians of 0.18–1.0 s a token over
// three runs, against 0.09–0.10).
// A bare loop of the fp16 kernel over 2.8 GB of mapped weights read 19–20 GB/s on one
// thread, with passes at 5 GB/s once JavaScript allocated between the calls as the
// model does (over the same bytes read into memory: at worst 9.6). On a later day the
// same machine decoded at one speed mapped and read (q8: 90–92 against 83–93 ms a token,
// three alternating pairs).
// A cause found later: that machine's kernel runs DAMON (its data access monitor, with
// a scheme that pages out cold file pages). While it runs, a mapped page left unread for
// 0.7 s or more reads at 1–4 GB/s on the next pass, full speed after; pages read into
// memory do not slow so; with DAMON off, mapped pages did not either. A decode step
// longer than that pause leaves every weight paused for the next step, and decoding
// stays slow (fp16: step medians of 2.6–4.0 s mapped against 0.23–0.31 s read, one
// process alternating the two). So reading is the default; the bench says whether DAMON
// runs (scripts/damon.ts), and mapping is for machines without it.
//
// File layout: "PHI2WIMG", a u32 (little-endian) header length, the header (JSON),
// then every section at an offset that is a multiple of 4096 (mmap maps whole pages),
// each weight's matrix padded with zeros to whole pages.
//
// An image is input like any other: readImage checks that every section lies inside
// the file and has the size its weight's shape implies, and the backend checks the
// subnormal lists' indices and scans the fp16 values for inf/NaN itself. One thing
// no check can prevent: a mapped file truncated meanwhile makes the next read of a
// lost page kill the process (SIGBUS), as with llama.cpp's mmap.

import * as fs from "node:fs";
import { F16_SCALE_EXP, type HeldDtype } from "./protocol";
import type { WasmMemory } from "./wasm";
import type { Libc } from "./prefault";
import { writeAtomically } from "../../write-atomic";

export const IMAGE_MAGIC = "PHI2WIMG";
const FORMAT = 1;
export const OS_PAGE = 4096;
const MAX_HEADER_BYTES = 64 << 20;

/** [offset in the file, bytes]. */
export type Section = [number, number];

export interface ImageWeight {
  name: string;
  held: HeldDtype;
  rows: number;
  cols: number;
  tiled: boolean;
  panels: number;
  /** The held matrix (tiled Q8_0: with its scales), at a page-aligned offset, padded to whole pages. */
  dense: Section;
  /** Row-major Q8_0: float32 block scales. */
  scales?: Section;
  /** fp16 subnormals (matvec.ts): row starts [rows + 1], column indices and values [total]. */
  sparse?: { total: number; rowStart: Section; colIdx: Section; vals: Section };
  /** fp16 held × 2^scaleExp, so that no value is subnormal (F16_SCALE_EXP; compute.ts says why); absent: 0. */
  scaleExp?: number;
}

export interface ImageHeader {
  format: number;
  /** The kernels' layout (changes when the held forms do): an image from other kernels is stale. */
  layout: string;
  /** What the weights were made from (the caller's: files and their sizes and times, the hold). */
  key: string;
  weights: ImageWeight[];
}

export interface WeightImage {
  file: string;
  header: ImageHeader;
}

/** An image refused: `notImage` when the file is not a weight image at all (then it must not be replaced). */
export class ImageError extends Error {
  constructor(readonly file: string, why: string, readonly notImage = false) {
    super(`${file}: ${why}`);
    this.name = "ImageError";
  }
}

export const pageUp = (n: number): number => Math.ceil(n / OS_PAGE) * OS_PAGE;

/** Bytes of a weight's held matrix: fp16/bf16 2 a value, F32 4, Q8_0 1 (tiled: and its scales, 4 per 32). */
export function denseBytes(held: HeldDtype, rows: number, cols: number, tiled: boolean): number {
  const n = rows * cols;
  if (held === "Q8_0") return tiled ? n + n / 8 : n;
  return n * (held === "F32" ? 4 : 2);
}

const HELD = new Set<string>(["F16", "BF16", "F32", "Q8_0"]);
const isCount = (v: unknown, max = 2 ** 31): v is number => Number.isInteger(v) && (v as number) > 0 && (v as number) <= max;

/** Read and check an image's header against the file: every section inside it, of the size its weight implies. */
export function readImage(file: string): WeightImage {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch (e) {
    throw new ImageError(file, `cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const size = fs.fstatSync(fd).size;
    const head = Buffer.alloc(12);
    if (size < 12 || fs.readSync(fd, head, 0, 12, 0) < 12 || head.toString("latin1", 0, 8) !== IMAGE_MAGIC) {
      throw new ImageError(file, `not a weight image (it does not start with "${IMAGE_MAGIC}")`, true);
    }
    const n = head.readUInt32LE(8);
    if (n > MAX_HEADER_BYTES || 12 + n > size) throw new ImageError(file, `header of ${n} bytes: more than the file's ${size} or the limit ${MAX_HEADER_BYTES}`);
    const text = Buffer.alloc(n);
    fs.readSync(fd, text, 0, n, 12);
    let h: ImageHeader;
    try {
      h = JSON.parse(text.toString("utf8")) as ImageHeader;
    } catch (e) {
      throw new ImageError(file, `header is not JSON (${(e as Error).message})`);
    }
    if (h === null || typeof h !== "object" || h.format !== FORMAT) throw new ImageError(file, `format ${String((h as { format?: unknown } | null)?.format)}, this code reads ${FORMAT}`);
    if (typeof h.layout !== "string" || typeof h.key !== "string" || !Array.isArray(h.weights)) throw new ImageError(file, "header lacks layout, key or weights");
    const dataStart = pageUp(12 + n);
    const checkSection = (s: unknown, bytes: number, what: string, page: boolean): void => {
      const ok = Array.isArray(s) && s.length === 2 && Number.isSafeInteger(s[0]) && s[0] >= dataStart && s[0] % OS_PAGE === 0 && s[1] === bytes;
      if (!ok) throw new ImageError(file, `${what}: section ${JSON.stringify(s)}, expected ${bytes} bytes at a page-aligned offset ≥ ${dataStart}`);
      const end = (s as Section)[0] + (page ? pageUp(bytes) : bytes);
      if (end > size) throw new ImageError(file, `${what}: section ends at byte ${end}, past the file's end (${size} bytes): truncated?`);
    };
    h.weights.forEach((w, i) => {
      const what = `weight ${i} (${typeof w?.name === "string" ? w.name : "?"})`;
      if (typeof w?.name !== "string" || !HELD.has(w.held) || !isCount(w.rows) || !isCount(w.cols) || typeof w.tiled !== "boolean" || !isCount(w.panels, w.cols)) {
        throw new ImageError(file, `${what}: bad name, held dtype, shape, tiled or panels`);
      }
      if (w.held === "Q8_0" && w.cols % 32) throw new ImageError(file, `${what}: Q8_0 with ${w.cols} columns (not a multiple of 32)`);
      checkSection(w.dense, denseBytes(w.held, w.rows, w.cols, w.tiled), `${what} matrix`, true);
      if (w.held === "Q8_0" && !w.tiled) checkSection(w.scales, (4 * w.rows * w.cols) / 32, `${what} scales`, false);
      if (w.scaleExp !== undefined && (w.held !== "F16" || !Number.isInteger(w.scaleExp) || w.scaleExp < 0 || w.scaleExp > F16_SCALE_EXP)) {
        throw new ImageError(file, `${what}: scaleExp ${JSON.stringify(w.scaleExp)} on a ${w.held} weight (an fp16 weight's is an integer 0…${F16_SCALE_EXP})`);
      }
      if (w.sparse !== undefined) {
        const s = w.sparse;
        if (w.held !== "F16" || !isCount(s?.total, w.rows * w.cols)) throw new ImageError(file, `${what}: subnormal lists on a ${w.held} weight, or a bad count`);
        checkSection(s.rowStart, 4 * (w.rows + 1), `${what} row starts`, false);
        checkSection(s.colIdx, 4 * s.total, `${what} column indices`, false);
        checkSection(s.vals, 4 * s.total, `${what} values`, false);
      }
    });
    return { file, header: h };
  } finally {
    fs.closeSync(fd);
  }
}

/** What saving needs of one weight: its entry without offsets, and where each section's bytes are. */
export interface SavedWeight {
  entry: Omit<ImageWeight, "dense" | "scales" | "sparse"> & { sparseTotal: number };
  dense: Uint8Array;
  scales?: Uint8Array;
  sparse?: { rowStart: Uint8Array; colIdx: Uint8Array; vals: Uint8Array };
}

/** The header of `saved` with every section placed, the data starting after `headerBytes` of header. */
function layOut(saved: SavedWeight[], layout: string, key: string, headerBytes: number): { weights: ImageWeight[]; text: Buffer } {
  let at = pageUp(12 + headerBytes);
  const take = (bytes: number, page: boolean): Section => {
    const s: Section = [at, bytes];
    at = pageUp(at + (page ? pageUp(bytes) : bytes));
    return s;
  };
  const weights = saved.map((s): ImageWeight => {
    const { sparseTotal, ...e } = s.entry;
    const w: ImageWeight = { ...e, dense: take(s.dense.length, true) };
    if (s.scales) w.scales = take(s.scales.length, false);
    if (s.sparse) w.sparse = { total: sparseTotal, rowStart: take(s.sparse.rowStart.length, false), colIdx: take(s.sparse.colIdx.length, false), vals: take(s.sparse.vals.length, false) };
    return w;
  });
  return { weights, text: Buffer.from(JSON.stringify({ format: FORMAT, layout, key, weights } satisfies ImageHeader), "utf8") };
}

/**
 * Write an image of `count` weights to `file` (lib/write-atomic.ts: never half an
 * image; synced to disk, so no writeback is left to slow what runs next).
 * `sections(i)` gives weight i's bytes (views of the wasm memory).
 */
export function writeImage(file: string, layout: string, key: string, count: number, sections: (i: number) => SavedWeight, onProgress?: (done: number, total: number) => void): void {
  const saved = Array.from({ length: count }, (_, i) => sections(i));
  // the header holds every offset, and the offsets start after the header: grow its room until it fits
  let room = 4096;
  let laid = layOut(saved, layout, key, room);
  while (laid.text.length > room) laid = layOut(saved, layout, key, (room = pageUp(laid.text.length)));
  const { weights, text } = laid;
  writeAtomically(file, (fd) => {
    const head = Buffer.alloc(12);
    head.write(IMAGE_MAGIC, 0, "latin1");
    head.writeUInt32LE(text.length, 8);
    fs.writeSync(fd, head, 0, 12, 0);
    fs.writeSync(fd, text, 0, text.length, 12);
    const put = (b: Uint8Array, [offset]: Section) => {
      for (let o = 0; o < b.length; ) o += fs.writeSync(fd, b, o, Math.min(1 << 30, b.length - o), offset + o);
    };
    const total = saved.reduce((t, s) => t + s.dense.length, 0);
    let done = 0;
    saved.forEach((s, i) => {
      const w = weights[i];
      put(s.dense, w.dense);
      const pad = pageUp(s.dense.length) - s.dense.length;
      if (pad) put(new Uint8Array(pad), [w.dense[0] + s.dense.length, pad]); // mmap maps whole pages: the file holds them
      if (s.scales && w.scales) put(s.scales, w.scales);
      if (s.sparse && w.sparse) {
        put(s.sparse.rowStart, w.sparse.rowStart);
        put(s.sparse.colIdx, w.sparse.colIdx);
        put(s.sparse.vals, w.sparse.vals);
      }
      done += s.dense.length;
      onProgress?.(done, total);
    });
  }, { sync: true });
}

const PROT_READ = 1, PROT_WRITE = 2, MAP_PRIVATE = 2, MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20; // <asm-generic/mman*.h>, x86 and arm64

/**
 * Map `bytes` of the open file `fd` at `offset` over memory [ptr, ptr + bytes), both
 * page-aligned and bytes padded to whole pages (the file holds the padding). Returns
 * null, or why it could not (then the range holds fresh zero pages: read it instead).
 */
export function mapInto(libc: Libc, memory: WasmMemory, ptr: number, fd: number, offset: number, bytes: number): string | null {
  if (!libc.mmap) return "no mmap";
  const length = pageUp(bytes);
  if (ptr % OS_PAGE || offset % OS_PAGE) throw new Error(`mapInto: address ${ptr} or offset ${offset} not page-aligned`);
  if (ptr + length > memory.buffer.byteLength) throw new Error(`mapInto: bytes ${ptr}…${ptr + length} lie beyond the memory's ${memory.buffer.byteLength}`);
  const at = new Uint8Array(memory.buffer, ptr, 1);
  if (Number(libc.mmap(at, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, offset)) !== -1) return null;
  const why = `mmap refused (errno ${libc.errno()})`;
  // a failed MAP_FIXED may have unmapped the range already: give it fresh zero pages again
  if (Number(libc.mmap(at, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0)) === -1) {
    throw new Error(`mapInto: ${why}, and the memory could not be restored (errno ${libc.errno()})`);
  }
  return why;
}
