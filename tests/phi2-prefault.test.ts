// Mapping a weight's memory before the load writes it (lib/phi2/kernels/prefault.ts):
// the ranges asked for are checked against the bytes each fill really writes, and
// on Linux with koffi, that the call maps pages without any byte being touched.
import { describe, expect, test } from "vitest";
import * as fs from "node:fs";
import { ComputeThread } from "../lib/phi2/kernels/compute";
import { createWasmMatmul } from "../lib/phi2/kernels";
import { libcMadvise, Prefaulter, PREFAULTED, type Libc } from "../lib/phi2/kernels/prefault";
import { Arena, kernelModule, PAGE, type WasmMemory } from "../lib/phi2/kernels/wasm";
import type { FillMessage, HeldDtype } from "../lib/phi2/kernels/protocol";

/** A libc whose madvise records [start, end) byte offsets and answers `rc`. */
function fakeLibc(rc = 0, errno = 22) {
  const ranges: [number, number][] = [];
  const libc: Libc = {
    madvise: (addr, length) => (ranges.push([addr.byteOffset, addr.byteOffset + length]), rc),
    errno: () => errno,
  };
  return { libc, ranges };
}

const memory = (bytes: number): WasmMemory => new WebAssembly.Memory({ initial: bytes / PAGE, maximum: bytes / PAGE, shared: true }) as unknown as WasmMemory;

describe("Prefaulter", () => {
  test("widens each range to whole 4 KiB pages and refuses one beyond the memory", () => {
    const { libc, ranges } = fakeLibc();
    const p = new Prefaulter(true, libc);
    const m = memory(PAGE);
    p.populate(m, 5000, 100); // inside page 1
    p.populate(m, 4000, 200); // across pages 0 and 1
    p.populate(m, 8192, 0); // nothing to map: no call
    expect(ranges).toEqual([[4096, 8192], [0, 8192]]);
    expect(p.note).toBe(PREFAULTED);
    expect(() => p.populate(m, PAGE - 10, 20)).toThrow(/beyond the memory's 65536/);
  });

  test("after a refusal it says why and stops asking; disabled, it never asks", () => {
    const { libc, ranges } = fakeLibc(-1, 22);
    const p = new Prefaulter(true, libc);
    p.populate(memory(PAGE), 0, 100);
    p.populate(memory(PAGE), 0, 100);
    expect(ranges).toHaveLength(1);
    expect(p.note).toMatch(/refused, errno 22/);
    const off = new Prefaulter(false);
    expect(off.note).toMatch(/one at a time .*not asked for/);
    expect(new Prefaulter(true, "koffi did not load: x").note).toMatch(/koffi did not load/);
  });
});

describe("each fill asks to map exactly the bytes it writes", () => {
  // row-major Q8_0 (rows % 4 ≠ 0), tiled Q8_0 in 4 panels (10240 columns), F32, F16; two threads' halves
  const cases: { held: HeldDtype; rows: number; cols: number; tiled: boolean; panels: number }[] = [
    // (big enough that a range a few per cent short ends pages early)
    { held: "Q8_0", rows: 30, cols: 4096, tiled: false, panels: 1 },
    { held: "Q8_0", rows: 64, cols: 10240, tiled: true, panels: 4 },
    { held: "F32", rows: 41, cols: 1024, tiled: false, panels: 1 },
    { held: "F16", rows: 64, cols: 1024, tiled: true, panels: 1 },
  ];
  for (const c of cases) {
    test(`${c.held} [${c.rows}, ${c.cols}]${c.tiled ? `, tiled in ${c.panels} panel(s)` : ""}`, () => {
      const arena = new Arena(kernelModule(), { maxBytes: 256 * PAGE, slots: 1 });
      const n = c.rows * c.cols;
      const intBytes = c.held === "F32" ? 4 * n : c.held === "F16" ? 2 * n : n;
      const scaleBytes = c.held === "Q8_0" ? (4 * n) / 32 : 0;
      const ptr = arena.alloc(c.tiled ? intBytes + scaleBytes : intBytes + 4096); // a gap: the scales start on another page
      const scales = scaleBytes && !c.tiled ? arena.alloc(scaleBytes) : 0;
      const counts = c.held === "F16" ? arena.alloc(4 * (c.rows + 1)) : 0;
      const end = arena.alloc(16);
      const before = arena.u8(ptr, end - ptr).fill(0xab).slice();
      const { libc, ranges } = fakeLibc();
      const thread = new ComputeThread(0, 1, new Int32Array(8), new Int32Array(24), new Prefaulter(true, libc), false);
      thread.arenas[0] = arena;
      const half = c.tiled ? 4 * Math.floor(c.rows / 8) : Math.floor(c.rows / 2);
      for (const [r0, r1] of [[0, half], [half, c.rows]]) {
        const m: FillMessage = {
          type: "fill", id: 1, name: "w", arena: 0, ptr, dtype: "F16", held: c.held, scales, tiled: c.tiled, rows: c.rows, cols: c.cols, panels: c.panels, r0, r1, counts,
          source: { kind: "random", seed: 3, scale: 0.5 },
        };
        thread.fill(m);
      }
      const after = arena.u8(ptr, end - ptr);
      const inRange = (a: number) => ranges.some(([s, e]) => a >= s && a < e);
      let changed = 0, outside = -1;
      for (let i = 0; i < after.length; i++) {
        if (after[i] === before[i] || (counts && ptr + i >= counts)) continue; // (the F16 counts are not weight memory)
        changed++;
        if (outside < 0 && !inRange(ptr + i)) outside = ptr + i;
      }
      expect(outside, "the first written byte outside every range asked for").toBe(-1);
      expect(changed).toBeGreaterThan(0.9 * (intBytes + scaleBytes));
      // and nothing far beyond: every range lies within the weight's pages
      const lo = ptr - (ptr % 4096), hi = Math.ceil((c.tiled || !scales ? ptr + intBytes + scaleBytes : scales + scaleBytes) / 4096) * 4096;
      for (const [s, e] of ranges) expect(s >= lo && e <= hi, `range ${s}…${e} outside ${lo}…${hi}`).toBe(true);
    });
  }
});

/** The process's resident memory (Linux). */
function rssBytes(): number {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync("/proc/self/status", "utf8"))![1]) * 1024;
}

const libc = libcMadvise();
describe.skipIf(typeof libc === "string")(`madvise through koffi (${typeof libc === "string" ? libc : "loaded"})`, () => {
  test("populating 64 MiB maps it without a byte being written; not populating leaves it unmapped", () => {
    const bytes = 64 * 2 ** 20;
    for (const enabled of [false, true]) {
      const m = memory(bytes);
      const r0 = rssBytes();
      new Prefaulter(enabled).populate(m, 0, bytes);
      const grew = rssBytes() - r0;
      if (enabled) expect(grew).toBeGreaterThan(0.9 * bytes);
      else expect(grew).toBeLessThan(0.1 * bytes);
    }
  });

  test("the backend says so, and its products are the same with and without", async () => {
    const x = new Float32Array(3 * 2560).map((_, i) => Math.sin(i));
    const ys: Float32Array[] = [];
    for (const prefault of [true, false]) {
      const b = await createWasmMatmul({ threads: 2, prefault });
      try {
        const h = await b.addWeight({ name: "w", dtype: "F16", rows: 64, cols: 2560, hold: "Q8_0", source: { kind: "random", seed: 7, scale: 0.1 } });
        expect(b.memoryNote).toBe(prefault ? PREFAULTED : "pages fault in one at a time (prefaulting not asked for)");
        ys.push(await b.matmul(h, x, 3));
      } finally {
        await b.close();
      }
    }
    expect(ys[0]).toEqual(ys[1]);
  });
});
