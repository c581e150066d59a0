// The worker/WebAssembly SIMD matmul backend (lib/phi2/kernels) against scalar
// references: the model engineer's fp16/bf16 decoders (lib/phi2/f16.ts), a float64
// dot product, and JsMatmul. Needs the compiled workers: `npm run build` first
// (`npm test` does it).
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { bf16ToFloat, decodeToF32, floatToHalf, halfToFloat } from "../lib/phi2/f16";
import type { MatmulBackend, WeightDtype, WeightSpec } from "../lib/phi2/matmul";
import { JsMatmul, weightToF32 } from "../lib/phi2/matmul-js";
import { f16RoundScale, q8Matmul, quantizeMatrix, quantizeQ8 } from "../lib/phi2/q8";
import { q8Panels } from "../lib/phi2/kernels/compute";
import { fillRandomBF16, fillRandomF16, fillRandomF32 } from "../lib/phi2/random";
import { createWasmMatmul, measureReadBandwidth } from "../lib/phi2/kernels";
import { Arena, int8DotPays, kernelModule, MAX_COLS, PAGE, SCRATCH_BYTES } from "../lib/phi2/kernels/wasm";
import { cpuFlags } from "../lib/compute/cpu";
import { readImage } from "../lib/phi2/kernels/image";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "phi2-kernels-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Deterministic test data (not the weights' generator: an independent one). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** float64 reference y[t, r] = Σ_c W[r, c] x[t, c], and the scale Σ_c |W x| of each sum. */
function reference(W: Float32Array, rows: number, cols: number, x: Float32Array, T: number) {
  const y = new Float64Array(T * rows);
  const scale = new Float64Array(T * rows);
  for (let t = 0; t < T; t++)
    for (let r = 0; r < rows; r++) {
      let s = 0, a = 0;
      for (let c = 0; c < cols; c++) {
        const p = W[r * cols + c] * x[t * cols + c];
        s += p;
        a += Math.abs(p);
      }
      y[t * rows + r] = s;
      scale[t * rows + r] = a;
    }
  return { y, scale };
}

/** Every |y - ref| within 1e-5 of the sum's magnitude Σ|w·x| (float32 accumulation). */
function expectClose(y: Float32Array, ref: { y: Float64Array; scale: Float64Array }): void {
  expect(y.length).toBe(ref.y.length);
  let worst = 0;
  for (let i = 0; i < y.length; i++) {
    if (Number.isNaN(ref.y[i])) {
      expect(y[i]).toBeNaN();
      continue;
    }
    worst = Math.max(worst, Math.abs(y[i] - ref.y[i]) / (ref.scale[i] + 1e-30));
  }
  expect(worst).toBeLessThan(1e-5);
}

function randomX(T: number, cols: number, seed: number, amp = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: T * cols }, () => (2 * r() - 1) * amp);
}

describe("fp16 → fp32 in wasm (bit operations)", () => {
  test("all 65536 bit patterns match the scalar decoder, including subnormals, ±0, ±inf, NaN", () => {
    const arena = new Arena(kernelModule());
    const src = arena.alloc(2 * 65536);
    const dst = arena.alloc(4 * 65536);
    const h = arena.u16(src, 65536);
    for (let i = 0; i < 65536; i++) h[i] = i;
    arena.k.f16ToF32(src, dst, 65536);
    const f = arena.f32(dst, 65536);
    const bits = new Uint32Array(f.buffer, f.byteOffset, 65536);
    let mismatches = 0;
    for (let i = 0; i < 65536; i++) {
      const want = halfToFloat(i);
      if (Number.isNaN(want)) {
        if (!Number.isNaN(f[i]) || (bits[i] & 0x1fff) !== 0 || bits[i] >>> 31 !== i >>> 15) mismatches++; // payload and sign kept
      } else if (!Object.is(f[i], want)) mismatches++; // exact, and -0 stays -0
    }
    expect(mismatches).toBe(0);
    // the odd tail (n % 8) takes the scalar path
    arena.k.f16ToF32(src + 2 * 1020, dst, 13);
    for (let i = 0; i < 13; i++) expect(Object.is(arena.f32(dst, 13)[i], halfToFloat(1020 + i))).toBe(true);
  });

  test("subnormals and inf/NaN are found by the load-time scans", () => {
    const arena = new Arena(kernelModule());
    const src = arena.alloc(2 * 65536);
    const h = arena.u16(src, 65536);
    for (let i = 0; i < 65536; i++) h[i] = i;
    expect(arena.k.f16CountSubnormals(src, 65536)).toBe(2 * 1023);
    // the largest |h|: inf/NaN iff ≥ 0x7c00; over 8-lane chunks and the tail alike
    expect(arena.k.f16MaxAbs(src, 65536)).toBe(0x7fff);
    expect(arena.k.f16MaxAbs(src, 0x7c00)).toBe(0x7bff);
    expect(arena.k.f16MaxAbs(src, 0x7c01)).toBe(0x7c00);
    expect(arena.k.f16MaxAbs(src + 2 * 0x8000, 0x5401)).toBe(0x5400); // negative halves: |h|
    expect(arena.k.f16MaxAbs(src, 0)).toBe(0);
    for (let lane = 0; lane < 16; lane++) {
      const at = arena.alloc(2 * 21);
      const v = arena.u16(at, 21);
      v.fill(0x3c00);
      v[lane] = 0xd3ff; // -63.97 in lane `lane` of the first two chunks
      expect(arena.k.f16MaxAbs(at, 21)).toBe(0x53ff);
    }
  });

  test("f16ScalePow2 multiplies halves by 2^k exactly: every pattern it may scale, in 8-lane chunks and the tail", () => {
    const arena = new Arena(kernelModule());
    for (const k of [10, 3]) {
      // every finite |h| whose exponent field + k stays ≤ 30, both signs, in an order that mixes subnormals into most chunks
      const ok: number[] = [];
      const top = ((30 - k) << 10) | 0x3ff;
      for (let i = 0; i <= top; i++) ok.push(i, i | 0x8000);
      const r = rng(k);
      for (let i = ok.length - 1; i > 0; i--) {
        const j = Math.floor(r() * (i + 1));
        [ok[i], ok[j]] = [ok[j], ok[i]];
      }
      const n = ok.length + 3; // and a tail of 3 past the last whole chunk: two subnormals and a zero
      const at = arena.alloc(2 * n);
      const h = arena.u16(at, n);
      h.set(ok);
      h.set([0x0001, 0x83ff, 0x0000], ok.length);
      const before = Array.from(h, halfToFloat);
      arena.k.f16ScalePow2(at, n, k);
      let wrong = 0;
      for (let i = 0; i < n; i++) if (!Object.is(halfToFloat(h[i]), before[i] * 2 ** k)) wrong++;
      expect(wrong).toBe(0);
      const sub = Array.from(h).filter((b) => (b & 0x7c00) === 0 && (b & 0x3ff) !== 0).length;
      if (k === 10) expect(sub).toBe(0); // 2^10 leaves no subnormal
      else expect(sub).toBeGreaterThan(0); // 2^3 leaves the smallest ones
    }
  });

  test("tiled fp16: tileF16 puts each half where the layout says, and subnormals leave it as they leave row-major", () => {
    const rows = 12, cols = 40, n = rows * cols;
    const arena = new Arena(kernelModule());
    const [rm, tiled, starts] = [arena.alloc(2 * n), arena.alloc(2 * n), arena.alloc(4 * (rows + 1))];
    const h = arena.u16(rm, n);
    const next = rng(5);
    for (let i = 0; i < n; i++) h[i] = next() < 0.3 ? 1 + Math.floor(next() * 1023) : Math.floor(next() * 65536); // 30 % subnormal, sign included
    const original = h.slice();
    arena.k.tileF16(rm, tiled, rows, cols);
    const t = arena.u16(tiled, n);
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++) expect(t[(r >> 2) * 4 * cols + (c >> 3) * 32 + (r & 3) * 8 + (c & 7)]).toBe(original[r * cols + c]);
    // the same CSR lists from both layouts, and the dense copies still agree after (tiled = tile of row-major)
    const total = arena.k.f16CountSubnormalsPerRow(rm, rows, cols, starts + 4);
    const s = arena.u32(starts, rows + 1);
    for (let r = 0; r < rows; r++) s[r + 1] += s[r];
    expect(s[rows]).toBe(total);
    const lists = (w: number, tiledLayout: boolean) => {
      const [colIdx, vals] = [arena.alloc(4 * total), arena.alloc(4 * total)];
      (tiledLayout ? arena.k.f16ExtractSubnormalsTiled : arena.k.f16ExtractSubnormalsAt)(w, rows, cols, starts, colIdx, vals);
      return [Array.from(arena.u32(colIdx, total)), Array.from(arena.f32(vals, total))];
    };
    expect(lists(tiled, true)).toEqual(lists(rm, false));
    const check = arena.alloc(2 * n);
    arena.k.tileF16(rm, check, rows, cols);
    expect(arena.u16(tiled, n)).toEqual(arena.u16(check, n));
    expect(arena.k.f16CountSubnormals(tiled, n)).toBe(0);
  });
});

describe("float32 → fp16/bf16 rounding in wasm (random weights at load)", () => {
  test("matches f16.ts's floatToHalf on a sweep of float32 bit patterns and every fp16 rounding boundary", () => {
    const arena = new Arena(kernelModule());
    const values: number[] = [];
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    for (let b = 0; b < 2 ** 32; b += 4093) {
      u[0] = b;
      values.push(f[0]);
    }
    for (let h = 0; h < 0x7c00; h++) {
      // each finite half, and the float32 neighbours of the midpoint to the next one (ties to even)
      const lo = halfToFloat(h), hi = halfToFloat(h + 1);
      f[0] = (lo + hi) / 2;
      const mid = u[0];
      for (const d of [-1, 0, 1]) {
        u[0] = mid + d;
        values.push(f[0], -f[0]);
      }
      values.push(lo);
    }
    values.push(Infinity, -Infinity, NaN, 65520, 65519.996, 2 ** -25, 2 ** -25 * 1.0000001, 2 ** -26);
    const n = values.length;
    const src = arena.alloc(4 * n);
    const dst = arena.alloc(2 * n);
    arena.f32(src, n).set(values);
    arena.k.f32ToF16(src, dst, n);
    const got = arena.u16(dst, n);
    let mismatches = 0;
    for (let i = 0; i < n; i++) if (got[i] !== floatToHalf(values[i])) mismatches++;
    expect(n).toBeGreaterThan(1_000_000);
    expect(mismatches).toBe(0);
  });

  test("random weights in the workers' way equal random.ts's fillRandomF16 / fillRandomBF16", () => {
    const arena = new Arena(kernelModule());
    const n = 50_000;
    const src = arena.alloc(4 * n);
    const dst = arena.alloc(2 * n);
    for (const scale of [1e-6, 0.02, 1 / Math.sqrt(2560), 1e5]) {
      // tiny: subnormals; huge: overflow to inf. The workers generate in wasm: bit for bit random.ts's values
      for (const [seed, start] of [[42, 12345], [7, 2 ** 31 + 5], [-3, 0]]) {
        arena.k.randomF32(src, n, seed, start, scale);
        expect(Array.from(arena.u32(src, n))).toEqual(Array.from(new Uint32Array(fillRandomF32(new Float32Array(n), seed, scale, start).buffer)));
      }
      arena.k.randomF32(src, n, 42, 12345, scale);
      arena.k.f32ToF16(src, dst, n);
      expect(Array.from(arena.u16(dst, n))).toEqual(Array.from(fillRandomF16(new Uint16Array(n), 42, scale, 12345)));
      arena.k.f32ToBF16(src, dst, n);
      expect(Array.from(arena.u16(dst, n))).toEqual(Array.from(fillRandomBF16(new Uint16Array(n), 42, scale, 12345)));
    }
  });
});

describe("wasm backend against scalar references", () => {
  let wasm: MatmulBackend;
  let js: JsMatmul;
  beforeAll(async () => {
    wasm = await createWasmMatmul({ threads: 3 }); // 3 threads on any machine: uneven row splits
    js = new JsMatmul();
  });
  afterAll(async () => {
    await wasm.close();
  });

  const shapes: [number, number][] = [
    [37, 29], // cols not a multiple of 8, rows not of 3 or 4
    [64, 256],
    [2, 8], // fewer rows than threads
    [1, 3],
    [130, 1000],
    [8, 520], // tiled (rows % 4 == 0, cols % 8 == 0), and the prefill GEMM's 512-column blocks end in a short one
  ];
  for (const dtype of ["F16", "BF16", "F32"] as WeightDtype[]) {
    for (const [rows, cols] of shapes) {
      test(`${dtype} [${rows}, ${cols}], T = 1, 3 and 10, random source`, async () => {
        const spec: WeightSpec = { name: "w", dtype, rows, cols, source: { kind: "random", seed: rows * 1000 + cols, scale: 0.5 } };
        const h = await wasm.addWeight(spec);
        const hj = await js.addWeight(spec);
        const W = weightToF32(spec);
        for (const T of [1, 3, 10]) {
          const x = randomX(T, cols, T + cols);
          const ref = reference(W, rows, cols, x, T);
          expectClose(await wasm.matmul(h, x, T), ref);
          expectClose(await js.matmul(hj, x, T), ref); // the same weights as JsMatmul generates
        }
      });
    }
  }

  /** How the backend holds each weight, read from a weight image it saves: fp16 scaled by 2^scaleExp, or with subnormal lists. */
  let saved = 0;
  const heldForms = async (be: MatmulBackend) => {
    const f = path.join(tmp, `forms-${saved++}.phi2img`);
    await be.saveImage!(f, "test");
    const forms = readImage(f).header.weights.map((w) => ({ name: w.name, scaleExp: w.scaleExp ?? 0, lists: w.sparse?.total ?? 0 }));
    fs.rmSync(f);
    return forms;
  };

  test("F16 with many subnormal weights: held × 2^10 (no lists), or with a half ≥ 64 kept with lists; |x| large enough for the exact path; row-major and tiled", async () => {
    const be = await createWasmMatmul({ threads: 3 });
    try {
      for (const [rows, cols] of [[45, 77], [44, 80]]) {
        const bits = fillRandomF16(new Uint16Array(rows * cols), 3, 2e-4);
        const W0 = decodeToF32(new Uint8Array(bits.buffer), "F16");
        const sub = W0.filter((v) => v !== 0 && Math.abs(v) < 2 ** -14).length;
        expect(sub).toBeGreaterThan(rows * cols * 0.1); // the case is really exercised
        const big = Uint16Array.from(bits);
        big[rows * cols - 5] = 0x5640; // 100: too large to scale by 2^10 in fp16
        for (const [name, b] of [["scaled", bits], ["lists", big]] as const) {
          const bytes = new Uint8Array(b.buffer);
          const W = decodeToF32(bytes, "F16");
          const h = await be.addWeight({ name: `${name}-${rows}`, dtype: "F16", rows, cols, source: { kind: "bytes", bytes } });
          // x beyond 2^16 (unscaled) or 2^26 (scaled) takes the exact path: x · 2^(112 − scaleExp) would overflow float32
          for (const [T, amp] of [[1, 1], [1, 1e6], [1, 1e9], [10, 1], [10, 1e6], [10, 1e9]]) {
            const x = randomX(T, cols, 9, amp);
            expectClose(await be.matmul(h, x, T), reference(W, rows, cols, x, T));
          }
        }
      }
      const forms = await heldForms(be);
      expect(forms.filter((w) => w.name.startsWith("scaled"))).toEqual([expect.objectContaining({ scaleExp: 10, lists: 0 }), expect.objectContaining({ scaleExp: 10, lists: 0 })]);
      for (const w of forms.filter((w) => w.name.startsWith("lists"))) {
        expect(w.scaleExp).toBe(0);
        expect(w.lists).toBeGreaterThan(0);
      }
    } finally {
      await be.close();
    }
  });

  test("every fp16 value the load may scale, through the scaled kernels, is exact (one-hot x; fast and exact path)", async () => {
    // all finite |h| ≤ 0x53ff (< 64), both signs, as a [5376, 8] matrix (tiled): held × 2^10; x = c · e_j picks column j
    const vals: number[] = [];
    for (let i = 0; i <= 0x53ff; i++) vals.push(i, i | 0x8000);
    const rows = vals.length / 8, cols = 8;
    const be = await createWasmMatmul({ threads: 2 });
    try {
      const h = await be.addWeight({ name: "scalable", dtype: "F16", rows, cols, source: { kind: "bytes", bytes: new Uint8Array(new Uint16Array(vals).buffer) } });
      expect((await heldForms(be))[0]).toMatchObject({ scaleExp: 10, lists: 0 });
      let mismatches = 0;
      for (const c of [1, 2 ** 30]) { // 2^30 > 2^26: the exact path, then scaled back by 2^-10
        for (let j = 0; j < cols; j++) {
          const x = new Float32Array(cols);
          x[j] = c;
          const y = await be.matmul(h, x, 1);
          for (let r = 0; r < rows; r++) if (y[r] !== halfToFloat(vals[r * cols + j]) * c) mismatches++; // (-0 + 0 sums are +0)
        }
      }
      expect(mismatches).toBe(0);
    } finally {
      await be.close();
    }
  });

  test("F16 with inf and NaN weights (exact kernel) gives inf/NaN where float math does", async () => {
    const rows = 6, cols = 16;
    const bits = new Uint16Array(rows * cols);
    const r = rng(5);
    for (let i = 0; i < bits.length; i++) bits[i] = floatToHalf(2 * r() - 1);
    bits[3] = 0x7c00; // +inf in row 0
    bits[cols + 5] = 0xfc00; // -inf in row 1
    bits[2 * cols + 7] = 0x7e00; // NaN in row 2
    const bytes = new Uint8Array(bits.buffer);
    const W = decodeToF32(bytes, "F16");
    const h = await wasm.addWeight({ name: "inf", dtype: "F16", rows, cols, source: { kind: "bytes", bytes } });
    const x = Float32Array.from({ length: cols }, (_, i) => 0.5 + i);
    const y = await wasm.matmul(h, x, 1);
    const ref = reference(W, rows, cols, x, 1);
    expect(y[0]).toBe(Infinity);
    expect(y[1]).toBe(-Infinity);
    expect(y[2]).toBeNaN();
    expectClose(y.subarray(3), { y: ref.y.subarray(3), scale: ref.scale.subarray(3) });
  });

  test("every finite fp16 value through the fast kernel is exact (one-hot x)", async () => {
    // all 63488 finite patterns as a [7936, 8] matrix; x = e_j picks column j exactly
    const finite: number[] = [];
    for (let i = 0; i < 65536; i++) if ((i & 0x7c00) !== 0x7c00) finite.push(i);
    const rows = finite.length / 8, cols = 8;
    const bytes = new Uint8Array(new Uint16Array(finite).buffer);
    const h = await wasm.addWeight({ name: "all", dtype: "F16", rows, cols, source: { kind: "bytes", bytes } });
    let mismatches = 0;
    for (let j = 0; j < cols; j++) {
      const x = new Float32Array(cols);
      x[j] = 1;
      const y = await wasm.matmul(h, x, 1);
      for (let r = 0; r < rows; r++) if (y[r] !== halfToFloat(finite[r * cols + j])) mismatches++; // (-0 + 0 sums are +0)
    }
    expect(mismatches).toBe(0);
  });

  test("BF16 bytes decode like the scalar decoder", async () => {
    const rows = 9, cols = 11;
    const bits = Uint16Array.from({ length: rows * cols }, (_, i) => (i * 7919) & 0x7f7f);
    const bytes = Buffer.from(bits.buffer); // a Node Buffer: its slices are views of the caller's memory
    const W = Float32Array.from(bits, bf16ToFloat);
    const h = await wasm.addWeight({ name: "bf", dtype: "BF16", rows, cols, source: { kind: "bytes", bytes } });
    expect(bytes.byteLength).toBe(2 * rows * cols); // not moved away from the caller
    expect(new Uint16Array(bytes.buffer, bytes.byteOffset, rows * cols)).toEqual(bits);
    const x = randomX(1, cols, 4);
    expectClose(await wasm.matmul(h, x, 1), reference(W, rows, cols, x, 1));
  });

  test("chunking: the widest matrix (T split in chunks) and very many rows (rows split in blocks)", async () => {
    for (const [rows, cols] of [[3, MAX_COLS], [262147, 3]]) {
      const spec: WeightSpec = { name: "big", dtype: "F16", rows, cols, source: { kind: "random", seed: 11, scale: 1 } };
      const h = await wasm.addWeight(spec);
      const W = weightToF32(spec);
      for (const T of [1, 10]) {
        const x = randomX(T, cols, 2);
        expectClose(await wasm.matmul(h, x, T), reference(W, rows, cols, x, T));
      }
    }
  });

  test('"file" source: each worker reads its rows at an offset inside a file', async () => {
    const rows = 23, cols = 19;
    const spec: WeightSpec = { name: "f", dtype: "F16", rows, cols, source: { kind: "random", seed: 8, scale: 1 } };
    const W = weightToF32(spec);
    const payload = new Uint8Array(new Uint16Array(Array.from(W, floatToHalf)).buffer);
    const offset = 1237; // odd on purpose
    const file = path.join(tmp, "w.bin");
    fs.writeFileSync(file, Buffer.concat([Buffer.alloc(offset, 0xab), payload, Buffer.alloc(99, 0xcd)]));
    const h = await wasm.addWeight({ ...spec, source: { kind: "file", file, offset } });
    const x = randomX(10, cols, 6);
    expectClose(await wasm.matmul(h, x, 10), reference(W, rows, cols, x, 10));
    // a file that ends early names the file and the weight
    const short = path.join(tmp, "short.bin");
    fs.writeFileSync(short, Buffer.concat([Buffer.alloc(offset), payload.subarray(0, 500)]));
    await expect(wasm.addWeight({ ...spec, name: "cut", source: { kind: "file", file: short, offset } })).rejects.toThrow(/short\.bin.*"cut"/);
  });

  test("bad calls are refused and the backend keeps working", async () => {
    const spec: WeightSpec = { name: "ok", dtype: "F32", rows: 4, cols: 5, source: { kind: "random", seed: 1, scale: 1 } };
    const h = await wasm.addWeight(spec);
    await expect(wasm.matmul(h, new Float32Array(4), 1)).rejects.toThrow(/expected T=1 × 5/);
    await expect(wasm.matmul(9999, new Float32Array(5), 1)).rejects.toThrow(/no weight/);
    await expect(wasm.addWeight({ ...spec, source: { kind: "bytes", bytes: new Uint8Array(7) } })).rejects.toThrow(/bytes/);
    const x = randomX(1, 5, 1);
    expectClose(await wasm.matmul(h, x, 1), reference(weightToF32(spec), 4, 5, x, 1));
  });
});

/**
 * gelu_new, 0.5·v·(1 + tanh(u)) with u = √(2/π)·(v + 0.044715·v³), in float64. For
 * u < 0 as 0.5·v·(1 + tanh u) = v·e^(2u) / (1 + e^(2u)) (the same value): 1 + tanh(u)
 * cancels to 0 for very negative v, and the relative error is the point here.
 */
function geluDefinition(v: number): number {
  const u = Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3);
  if (u >= 0) return 0.5 * v * (1 + Math.tanh(u));
  const e = Math.exp(2 * u);
  return (v * e) / (1 + e);
}

describe("bias and gelu_new after the product (the kernel threads' epilogue)", () => {
  test("the wasm kernel against the float64 definition, over [-30, 30], at the extremes, and in the rows % 4 tail", () => {
    const arena = new Arena(kernelModule());
    const { XIN, XP } = arena.scratch(0);
    const vs = [0, -0, 1e-30, -1e-30, 1e-3, -1e-3, 1e4, -1e4, 3e38, -3e38, NaN];
    for (let v = -30; v <= 30; v += 0.0137) vs.push(v);
    const rows = 11; // 2 SIMD groups and a tail of 3
    const T = Math.ceil(vs.length / rows);
    const bias = Float32Array.from({ length: rows }, (_, i) => (i - 5) * 0.25);
    const y = new Float32Array(T * rows);
    y.set(vs);
    arena.f32(XIN, y.length).set(y);
    arena.f32(XP, rows).set(bias);
    arena.k.biasAct(XIN, XP, rows, T, 1);
    const got = arena.f32(XIN, y.length);
    let worst = 0;
    for (let j = 0; j < y.length; j++) {
      const pre = Math.fround(y[j] + bias[j % rows]);
      const want = geluDefinition(pre);
      if (Number.isNaN(pre)) {
        expect(got[j]).toBeNaN();
        continue;
      }
      if (!Number.isFinite(want)) {
        expect(got[j]).toBe(want); // +3e38: v itself; −3e38: −0 (e^(−2u) overflows)
        continue;
      }
      // float32 rounds u itself by a few ulp, which moves e^(−2u) by ≈ 2|u|·10^−7 relative
      // (at v = −9, u = −35: 6·10^−6, where gelu is 10^−30); +1e-30: both 0 for any use
      const u = Math.sqrt(2 / Math.PI) * (pre + 0.044715 * pre ** 3);
      worst = Math.max(worst, Math.abs(got[j] - want) / ((Math.abs(want) + 1e-30) * (1 + Math.abs(u))));
    }
    expect(worst).toBeLessThan(1e-6);
    // bias alone, no activation; and no bias at all
    const few = Float32Array.from([-3, -1, -0.5, 0, 0.3, 1, 2.5, 4, 7, 0.01, -0.02]);
    arena.f32(XIN, rows).set(few);
    arena.k.biasAct(XIN, XP, rows, 1, 0);
    expect(Array.from(arena.f32(XIN, rows))).toEqual(Array.from(few, (v, i) => Math.fround(v + bias[i])));
    arena.f32(XIN, rows).set(few);
    arena.k.biasAct(XIN, 0, rows, 1, 1);
    for (let i = 0; i < rows; i++) expect(arena.f32(XIN, rows)[i]).toBeCloseTo(geluDefinition(few[i]), 6);
  });

  test("both backends: act(x·Wᵀ + b) with gelu_new and without, F16 and Q8_0, T = 1 and 7, uneven row blocks", async () => {
    const wasm = await createWasmMatmul({ threads: 3 });
    const js = new JsMatmul();
    try {
      for (const [rows, cols, hold] of [[37, 64, "stored"], [200, 96, "stored"], [200, 96, "Q8_0"]] as const) {
        const r = rng(rows + cols);
        const bias = Float32Array.from({ length: rows }, () => 2 * r() - 1);
        for (const activation of [undefined, "gelu_new"] as const) {
          const spec: WeightSpec = { name: "fc1", dtype: "F16", rows, cols, source: { kind: "random", seed: rows, scale: 0.3 }, hold, bias, activation };
          const plain = { ...spec, bias: undefined, activation: undefined }; // the product alone, for the reference
          const [hw, hj, hw0, hj0] = [await wasm.addWeight(spec), await js.addWeight(spec), await wasm.addWeight(plain), await js.addWeight(plain)];
          for (const T of [1, 7]) {
            const x = randomX(T, cols, T);
            for (const [backend, h, h0] of [[wasm, hw, hw0], [js, hj, hj0]] as const) {
              const pre = await backend.matmul(h0, x, T);
              const y = await backend.matmul(h, x, T);
              for (let i = 0; i < y.length; i++) {
                const v = pre[i] + bias[i % rows];
                const want = activation ? geluDefinition(v) : v;
                expect(Math.abs(y[i] - want)).toBeLessThan(1e-5 * (1 + Math.abs(want)));
              }
            }
          }
        }
      }
      const bad: WeightSpec = { name: "fc9", dtype: "F16", rows: 4, cols: 8, source: { kind: "random", seed: 1, scale: 1 }, bias: new Float32Array(3) };
      for (const backend of [wasm, js]) {
        await expect(backend.addWeight(bad)).rejects.toThrow(/fc9: bias has 3 values, the weight has 4 rows/);
        await expect(backend.addWeight({ ...bad, bias: undefined, activation: "relu" as "gelu_new" })).rejects.toThrow(/fc9: activation relu not supported/);
      }
    } finally {
      await wasm.close();
    }
  });
});

/** The active data segments of a wasm module: [offset, bytes]. */
function dataSegments(file: string): [number, Uint8Array][] {
  const b = fs.readFileSync(file);
  let p = 8;
  const uleb = () => {
    let r = 0, shift = 0, x;
    do {
      x = b[p++];
      r += (x & 0x7f) * 2 ** shift;
      shift += 7;
    } while (x & 0x80);
    return r;
  };
  const out: [number, Uint8Array][] = [];
  while (p < b.length) {
    const id = b[p++];
    const len = uleb();
    const end = p + len;
    if (id === 11) {
      for (let n = uleb(); n > 0; n--) {
        expect(uleb()).toBe(0); // active, memory 0
        expect(b[p++]).toBe(0x41); // i32.const offset (non-negative here, so its LEB reads as unsigned)
        const offset = uleb();
        expect(b[p++]).toBe(0x0b); // end
        const size = uleb();
        out.push([offset, b.subarray(p, p + size)]);
        p += size;
      }
    }
    p = end;
  }
  return out;
}

test("both compiled modules share one memory: their static data lies below the first scratch slot and agrees where it overlaps", () => {
  const dir = path.join(__dirname, "../lib/phi2/kernels");
  const bytes = new Map<number, number>();
  for (const file of ["matvec.wasm", "relaxed.wasm"]) {
    for (const [offset, data] of dataSegments(path.join(dir, file))) {
      expect(offset + data.length).toBeLessThanOrEqual(PAGE); // Arena puts scratch slot 0 at PAGE
      data.forEach((v, i) => {
        const had = bytes.get(offset + i);
        if (had !== undefined) expect(v).toBe(had);
        bytes.set(offset + i, v);
      });
    }
  }
  expect(bytes.size).toBeGreaterThan(0); // F16_MASK is there
});

describe("relaxed SIMD (assembly/relaxed.ts): Q8_0 through its int8 dot, the fp16 prefill through its fused multiply-add", () => {
  const check = path.join(__dirname, "helpers", "relaxed-check.cjs");
  const run = (node: string, args: string[] = []) => {
    const r = spawnSync(node, [...args, check], { encoding: "utf8", timeout: 120_000 });
    if (r.status !== 0) throw new Error(`${node} ${check}: exit ${r.status}\n${r.stderr}`);
    return JSON.parse(r.stdout.trim().split("\n").pop()!) as {
      node: string;
      relaxedName: string;
      portableName: string;
      defaultName: string;
      int8DotPays: boolean;
      values: number;
      differ: number;
      f16: { values: number; maxRel: number; decodeValues: number; decodeDiffer: number; logitsMaxDiff: number; fusedProbe: number[] };
    };
  };
  // a Node whose V8 (≥ 12) has relaxed SIMD without a flag: this one, or the one CI fetches (.ci/run)
  const v8Major = Number(process.versions.v8.split(".")[0]);
  const relaxedNode = process.env.PHI2_RELAXED_NODE ?? (v8Major >= 12 ? process.execPath : undefined);

  test.skipIf(relaxedNode === undefined)("where the runtime has it, it is used, and gives the int16 kernel's products and tiny-phi's logits to the bit", () => {
    const r = run(relaxedNode!);
    expect(r.relaxedName).toMatch(/relaxed SIMD: int8 dot/);
    expect(r.portableName).not.toMatch(/relaxed/);
    // by default the int8 dot only where it pays (int8DotPays), the fused multiply-add always
    expect(r.defaultName.includes("int8 dot")).toBe(r.int8DotPays);
    expect(r.defaultName).toMatch(/fused multiply-add/);
    expect(r.values).toBeGreaterThan(250_000);
    expect(r.differ).toBe(0);
  });

  test.skipIf(relaxedNode === undefined)("fp16: the prefill's GEMM fused where the CPU has FMA (one product's last bit shows it), within float32 rounding of the portable one; decode's products the same to the bit", () => {
    const r = run(relaxedNode!);
    expect(r.relaxedName).toMatch(/fused multiply-add/);
    // whether V8 can fuse: always on arm64; on x64 where the CPU has FMA3 (Linux lists it in
    // /proc/cpuinfo), else it multiplies and adds apart (0, as the portable kernel); elsewhere unknown
    const flags = cpuFlags();
    const fma = process.arch === "arm64" ? true : flags !== undefined ? flags.has("fma") : undefined;
    if (fma === undefined) expect([2 ** -24, 0]).toContain(r.f16.fusedProbe[0]);
    else expect(r.f16.fusedProbe[0]).toBe(fma ? 2 ** -24 : 0);
    expect(r.f16.fusedProbe[1]).toBe(0);
    expect(r.f16.values).toBeGreaterThan(1000);
    expect(r.f16.maxRel).toBeLessThan(1e-5); // of each product's largest |y|: sums of ≤ 8192 terms
    expect(r.f16.decodeValues).toBeGreaterThan(100);
    expect(r.f16.decodeDiffer).toBe(0);
    expect(r.f16.logitsMaxDiff).toBeLessThan(1e-4);
  });

  test("int8DotPays: x64 with AVX-VNNI or AVX-512 VNNI in the CPU's flags only", () => {
    const info = (flags: string) => `processor\t: 0\nmodel name\t: Some CPU with vnni in its name\nflags\t\t: ${flags}\nbugs\t\t: avx_vnni\n`;
    expect(int8DotPays(info("fpu sse4_2 avx2 fma avx_vnni"), "x64")).toBe(true);
    expect(int8DotPays(info("fpu avx2 avx512f avx512_vnni avx512vl"), "x64")).toBe(true);
    expect(int8DotPays(info("fpu sse4_2 avx avx2 fma f16c"), "x64")).toBe(false); // "vnni" elsewhere in the text does not count
    expect(int8DotPays(info("fpu avx2 avx_vnni_int8"), "x64")).toBe(false); // another feature
    expect(int8DotPays(info("fpu avx2 avx_vnni"), "arm64")).toBe(false); // not measured there
    expect(int8DotPays(undefined, "x64")).toBe(false);
  });

  test.skipIf(v8Major !== 11)("Node 20 with --experimental-wasm-relaxed-simd: the probe refuses its int8 dot (it doubles the sum), so the int16 kernel runs", () => {
    const r = run(process.execPath, ["--experimental-wasm-relaxed-simd"]);
    expect(r.relaxedName).not.toMatch(/relaxed/);
    expect(r.differ).toBe(0);
  });
});

describe("Q8_0 int8 weights", () => {
  test("quantizeQ8 follows Q8_0's rule: d = max|w|/127 rounded to fp16, q = round-half-even(w/d)", () => {
    const w = new Float32Array(32);
    w[0] = 1.27; w[1] = -0.5; w[2] = 0.005; w[3] = -1.27; w[4] = 0.255; // 0.255·100 = 25.5: a tie
    const q = new Int8Array(32), d = new Float32Array(1);
    quantizeQ8(w, q, d);
    expect(d[0]).toBe(halfToFloat(floatToHalf(Math.fround(1.27) / 127)));
    expect(Array.from(q.subarray(0, 5))).toEqual([127, -50, 0, -127, Math.round(Math.fround(Math.fround(0.255) * Math.fround(1 / Math.fround(Math.fround(1.27) / 127))))]);
    expect(Math.abs(q[4])).toBeLessThanOrEqual(26);
    // zeros quantize to zeros with scale 0; fp16 rounding of scales matches f16.ts for a sweep of values
    quantizeQ8(new Float32Array(32), q, d);
    expect(d[0]).toBe(0);
    for (const v of [1e-9, 3e-7, 6.1e-5, 1e-3, 0.0123, 1, 333.3, 65000]) expect(f16RoundScale(Math.fround(v))).toBe(halfToFloat(floatToHalf(v)));
  });

  test("wide Q8_0 matrices are cut in equal column panels of whole blocks, 1024 to 4096 columns", () => {
    expect([2560, 4096, 5120, 8192, 10240, 32 * 129, 32 * 131, 32].map(q8Panels)).toEqual([1, 1, 2, 2, 4, 3, 1, 1]);
  });

  test("wasm int8 kernels equal the TypeScript reference (q8.ts) and stay near float math", async () => {
    const wasm = await createWasmMatmul({ threads: 3 });
    try {
      // [8, 8192] and [12, 5120] are held as 2 column panels (q8Panels), [260, 2560] tiled in one
      for (const [rows, cols, dtype] of [[37, 64, "F16"], [130, 1024, "F32"], [2, 32, "BF16"], [260, 2560, "F16"], [8, 8192, "F16"], [12, 5120, "F32"]] as const) {
        const spec: WeightSpec = { name: "q", dtype, rows, cols, source: { kind: "random", seed: rows + cols, scale: 0.05 }, hold: "Q8_0" };
        const h = await wasm.addWeight(spec);
        const W = weightToF32(spec);
        const Wq = quantizeMatrix(W, rows, cols);
        for (const T of [1, 3, 10]) {
          const x = randomX(T, cols, T * 7 + rows, 2);
          const y = await wasm.matmul(h, x, T);
          const yRef = q8Matmul(Wq, x, T);
          const exact = reference(W, rows, cols, x, T);
          for (let i = 0; i < y.length; i++) {
            // same integers, same block products: only the float order of the block sums differs
            expect(Math.abs(y[i] - yRef[i])).toBeLessThan(1e-5 * exact.scale[i] + 1e-12);
            // int8 error: well under 2 % of the sum's magnitude Σ|w·x| (for these data ~0.3 %)
            expect(Math.abs(y[i] - exact.y[i])).toBeLessThan(0.02 * exact.scale[i]);
          }
        }
        expect(wasm.weightBytes()).toBeGreaterThan(0);
      }
      // a file source is quantized from its fp16 bytes; columns must be a multiple of 32; inf/NaN refused
      const rows = 9, cols = 96;
      const spec: WeightSpec = { name: "fq", dtype: "F16", rows, cols, source: { kind: "random", seed: 3, scale: 1 } };
      const W = weightToF32(spec);
      const file = path.join(tmp, "q.bin");
      fs.writeFileSync(file, Buffer.concat([Buffer.alloc(33), new Uint8Array(new Uint16Array(Array.from(W, floatToHalf)).buffer)]));
      const hf = await wasm.addWeight({ ...spec, source: { kind: "file", file, offset: 33 }, hold: "Q8_0" });
      const x = randomX(2, cols, 5);
      const yf = await wasm.matmul(hf, x, 2);
      const yr = q8Matmul(quantizeMatrix(W, rows, cols), x, 2);
      for (let i = 0; i < yf.length; i++) expect(yf[i]).toBeCloseTo(yr[i], 5);
      await expect(wasm.addWeight({ ...spec, cols: 95, rows: 1, source: { kind: "random", seed: 1, scale: 1 }, hold: "Q8_0" })).rejects.toThrow(/multiples of 32, got 95/);
      // inf or NaN anywhere is refused with the row, row-major (2 rows) and tiled (8 rows, 2 groups)
      for (const [rows, at, bits] of [[2, 40, 0x7c00], [8, 200, 0x7c00], [8, 255, 0x7e00]]) {
        const bad = new Uint16Array(rows * 32).fill(floatToHalf(0.5));
        bad[at] = bits; // +inf or NaN
        const spec = { name: "inf", dtype: "F16" as const, rows, cols: 32, source: { kind: "bytes" as const, bytes: new Uint8Array(bad.buffer) }, hold: "Q8_0" as const };
        await expect(wasm.addWeight(spec)).rejects.toThrow(new RegExp(`inf.*inf or NaN in row ${Math.floor(at / 32)}: cannot quantize`));
      }
      // and the backend keeps working after the refusals
      expect((await wasm.matmul(hf, x, 2)).length).toBe(2 * rows);
    } finally {
      await wasm.close();
    }
  });

  test("held as F32: a fp16 source decoded at load computes like the fp16 kernels", async () => {
    const wasm = await createWasmMatmul({ threads: 2 });
    try {
      const spec: WeightSpec = { name: "f", dtype: "F16", rows: 41, cols: 300, source: { kind: "random", seed: 5, scale: 0.3 } };
      const h = await wasm.addWeight({ ...spec, hold: "F32" });
      expect(wasm.weightBytes()).toBe(41 * 300 * 4);
      const x = randomX(10, 300, 1);
      expectClose(await wasm.matmul(h, x, 10), reference(weightToF32(spec), 41, 300, x, 10));
    } finally {
      await wasm.close();
    }
  });
});

test("matmulMany: several products in one wake-up (mixed dtypes, shapes and arenas) equal one call each", async () => {
  const maxArenaBytes = Math.ceil((PAGE + 2 * SCRATCH_BYTES + 2 ** 20) / PAGE) * PAGE; // ~1 MiB of weights per arena
  const be = await createWasmMatmul({ threads: 2, maxArenaBytes });
  try {
    const specs: WeightSpec[] = [
      { name: "a", dtype: "F16", rows: 300, cols: 1000, source: { kind: "random", seed: 1, scale: 1 } },
      { name: "b", dtype: "F32", rows: 7, cols: 64, source: { kind: "random", seed: 2, scale: 1 } },
      { name: "c", dtype: "F16", rows: 500, cols: 64, source: { kind: "random", seed: 3, scale: 1 }, hold: "Q8_0" },
      { name: "d", dtype: "BF16", rows: 400, cols: 1000, source: { kind: "random", seed: 4, scale: 1 } }, // a second arena
    ];
    const handles: number[] = [];
    for (const spec of specs) handles.push(await be.addWeight(spec));
    for (const T of [1, 5]) {
      const xs = specs.map((sp, i) => randomX(T, sp.cols, 10 * T + i));
      const many = await be.matmulMany!(handles.map((handle, i) => ({ handle, x: xs[i] })), T);
      for (let i = 0; i < specs.length; i++) expect(many[i]).toEqual(await be.matmul(handles[i], xs[i], T));
    }
    const nine = Array.from({ length: 9 }, () => ({ handle: handles[1], x: randomX(1, 64, 1) }));
    await expect(be.matmulMany!(nine, 1)).rejects.toThrow(/9 matmuls in one call, 1…8/);
  } finally {
    await be.close();
  }
});

test("weights spread over several wasm memories (phi-2's 5.6 GB needs two)", async () => {
  // arenas with 2 MiB for weights hold three 600 KB matrices each; the subnormal-heavy
  // one (#5, with one half of 100: not scaled, compute.ts) then leaves no room for its
  // sparse lists and is moved to a new arena
  const maxArenaBytes = Math.ceil((PAGE + 2 * SCRATCH_BYTES + 2 ** 21) / PAGE) * PAGE;
  const be = await createWasmMatmul({ threads: 2, maxArenaBytes });
  try {
    const specs: WeightSpec[] = [];
    for (let i = 0; i < 8; i++) {
      if (i === 5) {
        const bits = fillRandomF16(new Uint16Array(300 * 1000), 105, 3e-4); // most weights subnormal
        bits[1234] = 0x5640;
        specs.push({ name: `w${i}`, dtype: "F16", rows: 300, cols: 1000, source: { kind: "bytes", bytes: new Uint8Array(bits.buffer) } });
      } else {
        specs.push({ name: `w${i}`, dtype: "F16", rows: 300, cols: 1000, source: { kind: "random", seed: 100 + i, scale: 1 } });
      }
    }
    const handles = [];
    for (const spec of specs) handles.push(await be.addWeight(spec));
    for (let i = 0; i < specs.length; i++) {
      const x = randomX(1, 1000, i);
      expectClose(await be.matmul(handles[i], x, 1), reference(weightToF32(specs[i]), 300, 1000, x, 1));
    }
    await expect(be.addWeight({ name: "huge", dtype: "F32", rows: 1000, cols: 1000, source: { kind: "random", seed: 1, scale: 1 } })).rejects.toThrow(/does not fit in one wasm memory/);
  } finally {
    await be.close();
  }
});

test("measureReadBandwidth returns a positive finite number", () => {
  const bw = measureReadBandwidth({ bytes: 32 * 2 ** 20, threads: 2, repeats: 2 });
  expect(Number.isFinite(bw.gbPerS) && bw.gbPerS > 0).toBe(true);
  expect(bw.samplesGbPerS).toHaveLength(2);
  expect(bw.gbPerS).toBeGreaterThanOrEqual(bw.medianGbPerS);
});

describe("worker lifetime", () => {
  // A child node process loads the compiled backend, multiplies once, and must then
  // exit on its own: with close(), and (idle workers are unref'd) even without it.
  const run = (close: boolean) => {
    const index = path.join(__dirname, "..", "dist", "lib", "phi2", "kernels", "index.js");
    const script = `
      const { createWasmMatmul } = require(${JSON.stringify(index)});
      (async () => {
        const be = await createWasmMatmul({ threads: 3 });
        const h = await be.addWeight({ name: "w", dtype: "F16", rows: 8, cols: 8, source: { kind: "random", seed: 1, scale: 1 } });
        const y = await be.matmul(h, new Float32Array(8).fill(1), 1);
        console.log("y", y.length);
        ${close ? "await be.close(); await be.matmul(h, new Float32Array(8), 1).catch((e) => console.log(e.message));" : ""}
      })();`;
    return spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 30_000 });
  };
  test("close() ends the workers: the process exits, and a closed backend refuses work", () => {
    const r = run(true);
    expect(r.error).toBeUndefined(); // no timeout
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("y 8");
    expect(r.stdout).toMatch(/closed/);
  });
  test("a forgotten close() does not keep the process alive", () => {
    const r = run(false);
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("y 8");
  });
});
