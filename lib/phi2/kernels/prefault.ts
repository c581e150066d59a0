// Map the memory a weight is about to be written into in one call, before writing it:
// madvise(MADV_POPULATE_WRITE) over its byte range (Linux 5.14 and later).
//
// Why: loading writes every weight byte into fresh memory, and Linux maps fresh
// memory one 4 KiB page at a time, at the first write to each: a page fault each,
// and a fault is a trip into the kernel. On the course's CI machine (a virtual
// machine) writing one byte per page of 1 GiB took 4.6–5.0 s, most of an fp16 phi-2
// load (5.3 GB over two threads). MADV_POPULATE_WRITE mapped the same 1 GiB in
// 0.18–0.24 s, and the same writes after it took 2.7–2.8 s: this virtual machine
// still charges the first touch of each page, but no longer the trip. (2 MB pages,
// madvise(MADV_HUGEPAGE), cut both, but decoding from them ran 5–10 % slower here,
// so they are not asked for.)
// What it costs there, measured later: memory mapped this way a weight at a time, then
// written, reads slowly on its first pass. The first 10-token prefill after loading q8
// phi-2 shapes from a weight image took 2.1–3.0 s with it and 1.1–1.3 s without (five
// alternating pairs; fp16 2.3–2.4 against 1.4 in two pairs, 2.7 against 1.7 and 3.6 in
// two on a slower machine); later prefills were alike, and so was the time to the first
// token, within the spread (the q8 loads were 0.8 s faster with it, on average).
// In a bare test, 2 GB mapped 64 MB at a time between the writes read its first pass in
// 0.33–1.08 s, against 0.09–0.19 s unmapped or mapped all at once before any write, and
// no page fault was counted during that pass: the cost lies below the guest kernel.
// Mapping each arena a GiB at a time from the main thread removed the slow first
// prefill (1.1 and 1.3 s, q8) but added about as much to the load, so it is not done.
// What mapping costs depends on how much a process maps there: a bare loop mapping two
// fresh 2.6 GB memories, 64 MB a call, paid 0.5 s per GB for the first 1–3 GB and
// 1.5–5.2 s per GB beyond (three runs): a 3.1 GB q8 model loads from its image in 3–3.6 s,
// a 5.3 GB fp16 one in 8.6–12.3 s, most of it here.
// JavaScript cannot call madvise, so this file calls libc through koffi, an optional
// dependency (a foreign-function interface whose npm package carries prebuilt
// binaries). Where koffi is missing, or not on Linux, or the kernel refuses, pages
// fault in one at a time as before, and the note returned says why.

import type { WasmMemory } from "./wasm";

const MADV_POPULATE_WRITE = 23; // <asm-generic/mman-common.h>, Linux 5.14
const PAGE = 4096; // madvise's unit: the start must be page-aligned (a wasm memory's base is)

/** The part of koffi's API used here (2.x). */
interface Koffi {
  load(path: string): { func(signature: string): unknown };
  errno(): number;
}

/** madvise(addr, length, advice): koffi passes a typed array as a pointer to its first byte. */
export type Madvise = (addr: Uint8Array, length: number, advice: number) => number;
/** mmap(addr, length, prot, flags, fd, offset): the address as an integer (−1: failed). */
export type Mmap = (addr: Uint8Array, length: number, prot: number, flags: number, fd: number, offset: number) => number | bigint;

export interface Libc {
  madvise: Madvise;
  /** Present where libc was loaded through koffi (image.ts maps weight images with these). */
  mmap?: Mmap;
  errno(): number;
}

let libcCached: Libc | string | undefined;

/** libc's madvise and mmap through koffi, or why they are not available. */
export function libcMadvise(): Libc | string {
  if (libcCached !== undefined) return libcCached;
  if (process.platform !== "linux") return (libcCached = `not Linux (${process.platform})`);
  try {
    const name = "koffi"; // optional dependency: not a static import, so the build does not need it
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const koffi = require(name) as Koffi;
    const lib = koffi.load("libc.so.6");
    const madvise = lib.func("int madvise(void *addr, size_t length, int advice)") as Madvise;
    const mmap = lib.func("intptr_t mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)") as Mmap;
    libcCached = { madvise, mmap, errno: () => koffi.errno() };
  } catch (e) {
    libcCached = `koffi did not load: ${(e as Error).message.split("\n")[0]}`;
  }
  return libcCached;
}

/** What populating did: the pages mapped in one call each, or why they fault in one at a time. */
export const PREFAULTED = "pages mapped before each weight is written (madvise MADV_POPULATE_WRITE, through koffi)";

/**
 * Fresh memory mapped ahead of writes: populate(ptr, bytes) maps bytes [ptr, ptr + bytes)
 * of `memory`, widened to whole pages. After one refusal it stops asking (an older
 * kernel refuses every call the same way) and `note` says why.
 */
export class Prefaulter {
  note: string;
  private libc: Libc | null;

  constructor(enabled: boolean, libc: Libc | string = enabled ? libcMadvise() : "not asked for") {
    this.libc = typeof libc === "string" ? null : libc;
    this.note = typeof libc === "string" ? `pages fault in one at a time (prefaulting ${libc})` : PREFAULTED;
  }

  populate(memory: WasmMemory, ptr: number, bytes: number): void {
    if (!this.libc || bytes <= 0) return;
    const start = ptr - (ptr % PAGE);
    const length = Math.ceil((ptr + bytes - start) / PAGE) * PAGE;
    if (start + length > memory.buffer.byteLength) throw new Error(`prefault: bytes ${start}…${start + length} lie beyond the memory's ${memory.buffer.byteLength}`);
    if (this.libc.madvise(new Uint8Array(memory.buffer, start, 1), length, MADV_POPULATE_WRITE) !== 0) {
      this.note = `pages fault in one at a time (madvise MADV_POPULATE_WRITE refused, errno ${this.libc.errno()}: Linux older than 5.14?)`;
      this.libc = null;
    }
  }
}
