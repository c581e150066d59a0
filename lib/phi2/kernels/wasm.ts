// The compiled SIMD kernels (assembly/matvec.ts → matvec.wasm, and where the runtime
// has relaxed SIMD, assembly/relaxed.ts → relaxed.wasm for Q8_0 and the fp16 prefill) and the "arena":
// one shared WebAssembly memory. A wasm32 memory holds at most 4 GiB, so phi-2's
// 5.6 GB of fp16 weights live in two of them. The main thread creates the arenas
// and decides where every weight goes; each worker thread instantiates the
// kernels on every arena (the memories are shared), so any worker can multiply
// any rows: the work of each call is handed out in small chunks of rows, and a
// worker slowed down by another program on its core just takes fewer chunks.
//
// Arena layout (bytes):
//   [0, 64 KiB)          AssemblyScript's own: the modules' static data (16 bytes, see
//                        simd.ts's F16_MASK; both modules write the same bytes there,
//                        checked by the tests); the kernels allocate nothing
//   scratch slot i       one per worker thread: XIN, XP, Y, TMP (see Scratch)
//   WEIGHTS …            bump-allocated, 16-byte aligned, never freed

import * as fs from "node:fs";
import * as path from "node:path";
import { cpuFlags, readCpuinfo } from "../../compute/cpu";

// tsconfig's lib (ES2022, no DOM) has no WebAssembly types: the little we use, typed here.
export interface WasmMemory {
  readonly buffer: ArrayBufferLike;
  grow(pages: number): number;
}
export type WasmModule = { readonly __wasmModule: unique symbol };
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: object };
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

export const PAGE = 65536;
/** Widest weight matrix supported (phi-2's widest is 10240). */
export const MAX_COLS = 65536;
export const XCAP = 8 * MAX_COLS; // floats of x per scratch slot
export const YCAP = 1 << 18; // floats of output per scratch slot
/** A worker's scratch: x as received (natural order), x' for the kernels, kernel output, four rows in f32. */
export interface Scratch {
  XIN: number;
  XP: number;
  Y: number;
  TMP: number;
}
export const SCRATCH_BYTES = 4 * XCAP + 4 * XCAP + 4 * YCAP + 16 * MAX_COLS;
/** Largest memory we ask for: 4 GiB minus one page (a safety margin below wasm32's limit). */
export const MAX_ARENA_BYTES = 65535 * PAGE;

/** The exports of matvec.wasm; every pointer is a byte address in the arena's memory. */
export interface KernelExports {
  f16ToF32(src: number, dst: number, n: number): void;
  f16MaxAbs(src: number, n: number): number;
  f16ScalePow2(p: number, n: number, k: number): void;
  f16CountSubnormals(src: number, n: number): number;
  f16CountSubnormalsPerRow(w: number, rows: number, cols: number, counts: number): number;
  f16ExtractSubnormalsAt(w: number, rows: number, cols: number, rowStart: number, colIdx: number, vals: number): void;
  f16ExtractSubnormalsTiled(w: number, rows: number, cols: number, rowStart: number, colIdx: number, vals: number): void;
  sparseAdd(y: number, row0: number, rows: number, rowStart: number, colIdx: number, vals: number, x: number, cols: number, T: number, yStride: number): void;
  prepX(x: number, xp: number, T: number, cols: number, permute: number, scale: number): number;
  f16MatvecFast(w: number, xp: number, y: number, rows: number, cols: number): void;
  f16MatvecExact(w: number, xp: number, y: number, rows: number, cols: number): void;
  bf16Matvec(w: number, xp: number, y: number, rows: number, cols: number): void;
  f32Matvec(w: number, x: number, y: number, rows: number, cols: number): void;
  halfMatmul(w: number, xp: number, y: number, rows: number, cols: number, T: number, yStride: number, tmp: number, bf16: number): void;
  f32Matmul(w: number, x: number, y: number, rows: number, cols: number, T: number, yStride: number): void;
  streamSum(src: number, n: number): number;
  f32ToF16(src: number, dst: number, n: number): void;
  f32ToBF16(src: number, dst: number, n: number): void;
  randomF32(dst: number, n: number, seed: number, start: number, scale: number): void;
  quantizeQ8(src: number, n: number, q: number, d: number, asI16: number): void;
  quantizeQ8Strided(src: number, n: number, q: number, qStep: number, d: number, dStep: number): number;
  quantizeX(x: number, T: number, cols: number, xq: number, xd: number): void;
  q8Matmul(wq: number, wd: number, xq: number, xd: number, y: number, rows: number, cols: number, T: number, yStride: number): void;
  tileF16(src: number, dst: number, rows: number, cols: number): void;
  f16MatvecTiled(w: number, xp: number, y: number, rows: number, cols: number): void;
  f16MatvecTiledExact(w: number, xp: number, y: number, rows: number, cols: number): void;
  f16MatmulTiled(w: number, xp: number, y: number, rows: number, cols: number, T: number, yStride: number, tmp: number, fast: number): void;
  q8MatmulTiled(w: number, xq: number, xd: number, y: number, rows: number, cols: number, T: number, yStride: number, xStride: number, accumulate: number): void;
  attnScores(q: number, k: number, stride: number, scores: number, n: number, heads: number, group: number, headDim: number, scale: number): void;
  biasAct(y: number, bias: number, rows: number, T: number, gelu: number): void;
  attnMix(p: number, v: number, stride: number, out: number, n: number, heads: number, group: number, headDim: number): void;
}

/** The exports of relaxed.wasm (see assembly/relaxed.ts). */
export interface RelaxedExports {
  quantizeXSigned(x: number, T: number, cols: number, ax: number, mx: number, xd: number): void;
  f16MatmulTiledFused(w: number, xp: number, y: number, rows: number, cols: number, T: number, yStride: number, tmp: number, fast: number): void;
  q8MatmulTiledRelaxed(w: number, ax: number, mx: number, xd: number, y: number, rows: number, cols: number, T: number, yStride: number, xStride: number, accumulate: number): void;
  probe(): number;
}

/**
 * Where a compiled module is (matvec.wasm, relaxed.wasm): next to this file (lib/ after
 * build-wasm, or dist/ where build-wasm copies it), else in the source tree seen from dist/.
 */
export function wasmPath(name = "matvec.wasm"): string {
  const candidates = [path.join(__dirname, name), path.join(__dirname, "../../../../lib/phi2/kernels", name)];
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) throw new Error(`${name} not found (looked in ${candidates.join(", ")}); run \`npm run build\` (it runs scripts/build-wasm.mjs)`);
  return found;
}

/** A compiled script of this folder (the workers): beside this file in dist/, or dist/'s copy when running from lib/ sources (vitest). */
export function compiledScript(name: string): string {
  const candidates = [path.join(__dirname, `${name}.js`), path.join(__dirname, `../../../dist/lib/phi2/kernels/${name}.js`)];
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) throw new Error(`${name}.js not found (looked in ${candidates.join(", ")}); run \`npm run build\``);
  return found;
}

let cached: WasmModule | undefined;
export function kernelModule(file = wasmPath()): WasmModule {
  cached ??= new WA.Module(fs.readFileSync(file));
  return cached;
}

let relaxedCached: WasmModule | null | undefined;
/**
 * relaxed.wasm, or null where the runtime cannot run it: no relaxed SIMD without a flag
 * (Node 20), or an int8 dot that fails the probe (Node 20 with its flag doubled it here).
 */
export function relaxedModule(file = wasmPath("relaxed.wasm")): WasmModule | null {
  if (relaxedCached !== undefined) return relaxedCached;
  const bytes = fs.readFileSync(file);
  relaxedCached = null;
  if (WA.validate(bytes)) {
    const module = new WA.Module(bytes);
    const memory = new WA.Memory({ initial: 1, maximum: 1, shared: true });
    const probe = (new WA.Instance(module, { env: { memory } }).exports as unknown as RelaxedExports).probe();
    if (probe === 1) relaxedCached = module;
  }
  return relaxedCached;
}

const align16 = (n: number) => Math.ceil(n / 16) * 16;

/**
 * Whether relaxed SIMD's int8 dot should carry the Q8_0 products: only where V8 can
 * compile it to one VNNI instruction (x64 with AVX-VNNI or AVX-512 VNNI, as Linux lists
 * the CPU's flags in /proc/cpuinfo). Elsewhere V8 emulates it with the same 128-bit
 * multiplies as the int16 kernel plus the sign transfer (relaxed.ts), and here, on a
 * CPU without VNNI (AMD EPYC, family 25) on Node 24, that was slower: q8 decode steps
 * 163.4 against 152.6 ms (medians; faster in 15 of 96 alternating pairs), the 10-token
 * prefill 1220 against 958 ms (0 of 12). Unknown CPUs (no /proc/cpuinfo, other
 * architectures: not measured) get the int16 kernel. Both give the same results to the bit.
 */
export function int8DotPays(cpuinfo: string | undefined = readCpuinfo(), arch: string = process.arch): boolean {
  const flags = cpuFlags(cpuinfo);
  return arch === "x64" && flags !== undefined && (flags.has("avx_vnni") || flags.has("avx512_vnni"));
}

export interface ArenaOptions {
  /** The memory's size limit (default wasm32's 4 GiB; smaller only in tests). */
  maxBytes?: number;
  /** Scratch slots, one per thread that runs kernels on this arena (default 1). */
  slots?: number;
  /** An existing (shared) memory: a worker's view of an arena the main thread created. */
  memory?: WasmMemory;
  /** relaxed.wasm (relaxedModule()) to instantiate on the same memory, if it is to be used. */
  relaxed?: WasmModule | null;
}

export class Arena {
  readonly memory: WasmMemory;
  readonly k: KernelExports;
  /** The relaxed-SIMD kernels (relaxed.ts) on the same memory, or null. */
  readonly kr: RelaxedExports | null;
  readonly maxBytes: number;
  readonly slots: number;
  private top: number;

  constructor(module: WasmModule, opts: ArenaOptions = {}) {
    this.maxBytes = opts.maxBytes ?? MAX_ARENA_BYTES;
    this.slots = opts.slots ?? 1;
    const heap = PAGE + this.slots * SCRATCH_BYTES;
    if (this.maxBytes % PAGE || this.maxBytes <= heap || this.maxBytes > MAX_ARENA_BYTES) {
      throw new Error(`arena size ${this.maxBytes}: not a whole number of pages in (${heap}, ${MAX_ARENA_BYTES}]`);
    }
    this.memory = opts.memory ?? new WA.Memory({ initial: Math.ceil(heap / PAGE), maximum: this.maxBytes / PAGE, shared: true });
    const instance = new WA.Instance(module, { env: { memory: this.memory } });
    this.k = instance.exports as unknown as KernelExports;
    this.kr = opts.relaxed ? (new WA.Instance(opts.relaxed, { env: { memory: this.memory } }).exports as unknown as RelaxedExports) : null;
    this.top = heap;
  }

  /** Scratch slot i (thread i's). */
  scratch(i: number): Scratch {
    const b = PAGE + i * SCRATCH_BYTES;
    return { XIN: b, XP: b + 4 * XCAP, Y: b + 8 * XCAP, TMP: b + 8 * XCAP + 4 * YCAP };
  }

  /** Bytes left for weights. */
  free(): number {
    return this.maxBytes - this.top;
  }

  /** Reserve `bytes` (16-byte aligned), growing the memory; returns the address. */
  alloc(bytes: number): number {
    const ptr = this.top;
    const end = ptr + align16(bytes);
    if (end > this.maxBytes) throw new Error(`arena full: ${bytes} bytes asked, ${this.free()} free`);
    const have = this.memory.buffer.byteLength;
    if (end > have) this.memory.grow(Math.ceil((end - have) / PAGE));
    this.top = end;
    return ptr;
  }

  /** Reserve `bytes` rounded up to whole 4 KiB pages, at a page-aligned address (a weight image is mapped there: image.ts). */
  allocPages(bytes: number): number {
    const gap = (4096 - (this.top % 4096)) % 4096;
    if (gap) this.alloc(gap);
    return this.alloc(Math.ceil(bytes / 4096) * 4096);
  }

  // Views are made on demand: the memory may have grown since.
  u8(ptr: number, n: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, ptr, n);
  }
  u16(ptr: number, n: number): Uint16Array {
    return new Uint16Array(this.memory.buffer, ptr, n);
  }
  u32(ptr: number, n: number): Uint32Array {
    return new Uint32Array(this.memory.buffer, ptr, n);
  }
  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, n);
  }
}
