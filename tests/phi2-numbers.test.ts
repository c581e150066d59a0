// Half-precision conversions and the deterministic random weights both backends share.
import { describe, expect, test } from "vitest";
import { bf16ToFloat, decodeToF32, floatToHalf, halfToFloat } from "../lib/phi2/f16";
import { JsMatmul, weightToF32 } from "../lib/phi2/matmul-js";
import { fillRandomF16, fillRandomF32, mulberry32, mulberry32At } from "../lib/phi2/random";

describe("float16", () => {
  test("known bit patterns (IEEE 754 binary16)", () => {
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(halfToFloat(0x7bff)).toBe(65504); // largest finite
    expect(halfToFloat(0x0001)).toBe(2 ** -24); // smallest subnormal
    expect(halfToFloat(0x0400)).toBe(2 ** -14); // smallest normal
    expect(halfToFloat(0x7c00)).toBe(Infinity);
    expect(halfToFloat(0x7e00)).toBeNaN();
    expect(bf16ToFloat(0x3f80)).toBe(1);
    expect(bf16ToFloat(0xc0a0)).toBe(-5);
  });

  test("every finite half survives float → half → float", () => {
    for (let h = 0; h < 0x10000; h++) {
      const x = halfToFloat(h);
      if (Number.isNaN(x)) continue;
      expect(floatToHalf(x)).toBe(h);
    }
  });

  test("rounding to nearest, ties to even (as torch .half())", () => {
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00); // tie → even (1.0)
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (1 + 2^-9)
    expect(floatToHalf(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // above the tie
    expect(floatToHalf(65520)).toBe(0x7c00); // rounds up past 65504 → inf
    expect(floatToHalf(2 ** -25)).toBe(0); // tie between 0 and the smallest subnormal → 0 (even)
    expect(floatToHalf(1.5 * 2 ** -25)).toBe(1);
  });

  test("decodeToF32 reads little-endian bytes", () => {
    expect(Array.from(decodeToF32(new Uint8Array([0x00, 0x3c, 0x00, 0xc0]), "F16"))).toEqual([1, -2]);
    expect(Array.from(decodeToF32(new Uint8Array([0x80, 0x3f]), "BF16"))).toEqual([1]);
  });

  test("unaligned bytes (the DataView path) decode like aligned ones (the typed-array path)", () => {
    const values = new Float32Array([1.5, -3.25, 1e-3, 65504, -0]);
    const f16 = new Uint16Array(Array.from(values, floatToHalf));
    const bf16 = new Uint16Array(Array.from(new Uint32Array(values.buffer), (u) => u >>> 16));
    for (const [dtype, bytes] of [["F32", new Uint8Array(values.buffer)], ["F16", new Uint8Array(f16.buffer)], ["BF16", new Uint8Array(bf16.buffer)]] as const) {
      const shifted = new Uint8Array(bytes.length + 1);
      shifted.set(bytes, 1);
      expect(Array.from(decodeToF32(shifted.subarray(1), dtype)), dtype).toEqual(Array.from(decodeToF32(bytes, dtype)));
    }
    expect(Array.from(decodeToF32(new Uint8Array(f16.buffer), "F16"))).toEqual(Array.from(values, (v) => halfToFloat(floatToHalf(v))));
  });
});

describe("random weights (mulberry32)", () => {
  test("mulberry32 is the published algorithm (reference transcription)", () => {
    // Tommy Ettinger's mulberry32, as commonly transcribed to JavaScript
    function reference(a: number) {
      return function () {
        let t = (a += 0x6d2b79f5);
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      };
    }
    for (const seed of [0, 1, 42, 0x7fffffff, -5]) {
      const a = reference(seed), b = mulberry32(seed);
      for (let i = 0; i < 1000; i++) expect(b()).toBe(a());
    }
  });

  test("element i computed directly equals the i-th output; fills start anywhere", () => {
    const g = mulberry32(7);
    const seq = Array.from({ length: 300 }, () => g());
    for (const i of [0, 1, 150, 299]) expect(mulberry32At(7, i)).toBe(seq[i]);
    const whole = fillRandomF32(new Float32Array(300), 7, 0.5);
    const tail = fillRandomF32(new Float32Array(100), 7, 0.5, 200); // rows 200…299 of a [300, 1] matrix
    expect(Array.from(tail)).toEqual(Array.from(whole.subarray(200)));
    expect(whole[3]).toBe(Math.fround((2 * seq[3] - 1) * 0.5));
    const h = fillRandomF16(new Uint16Array(300), 7, 0.5);
    for (let i = 0; i < 300; i++) expect(h[i]).toBe(floatToHalf(whole[i]));
  });

  test("JsMatmul with random F16 weights uses the rounded values", async () => {
    const spec = { name: "w", dtype: "F16" as const, rows: 3, cols: 5, source: { kind: "random" as const, seed: 3, scale: 0.1 } };
    const W = weightToF32(spec);
    const m = new JsMatmul();
    const hnd = await m.addWeight(spec);
    const x = new Float32Array([1, 2, 3, 4, 5, -1, 0, 1, 0, 2]); // [2, 5]
    const y = await m.matmul(hnd, x, 2); // [2, 3]
    for (let t = 0; t < 2; t++)
      for (let o = 0; o < 3; o++) {
        let s = 0;
        for (let i = 0; i < 5; i++) s += x[t * 5 + i] * halfToFloat(floatToHalf(Math.fround((2 * mulberry32At(3, o * 5 + i) - 1) * 0.1)));
        expect(y[t * 3 + o]).toBeCloseTo(s, 6);
        expect(W[o * 5]).toBe(Math.fround(halfToFloat(floatToHalf(Math.fround((2 * mulberry32At(3, o * 5) - 1) * 0.1)))));
      }
  });
});
