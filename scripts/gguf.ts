// A small GGUF writer (llama.cpp's model file format, version 3), enough to hand
// llama.cpp the same weights our engine runs. The layout
// (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md):
//
//   "GGUF" u32 version=3 · u64 tensor count · u64 key-value count
//   key-values:   string key · u32 value type · value
//   tensor infos: string name · u32 n_dims · u64 dims[n_dims] (ne[0] = the fastest,
//                 i.e. columns first) · u32 ggml type · u64 offset in the data section
//   padding to `general.alignment` (32), then each tensor's bytes, each at an offset
//   that is a multiple of the alignment.
// Strings are u64 length + UTF-8 bytes; everything little-endian.
//
// Tensor data is written by a callback in chunks, so a 5.6 GB phi-2 never sits in memory.

import * as fs from "node:fs";
import { writeAtomically } from "../lib/write-atomic";

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_ALIGNMENT = 32;

/** gguf_type: the type tag of a key-value. */
export const GGUF_TYPE = { UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9, UINT64: 10, INT64: 11, FLOAT64: 12 } as const;

/** ggml_type of the tensors we write, and their block sizes (values, bytes). */
export const GGML_TYPE = { F32: 0, F16: 1, Q8_0: 8 } as const;
export type GgmlType = keyof typeof GGML_TYPE;
export const GGML_BLOCK: Record<GgmlType, { values: number; bytes: number }> = {
  F32: { values: 1, bytes: 4 },
  F16: { values: 1, bytes: 2 },
  Q8_0: { values: 32, bytes: 34 }, // fp16 scale + 32 int8
};

export type GgufValue =
  | { type: "u32"; value: number }
  | { type: "i32"; value: number }
  | { type: "f32"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "string[]"; value: readonly string[] }
  | { type: "i32[]"; value: ArrayLike<number> };

export interface GgufTensor {
  name: string;
  /** ggml order: ne[0] first (a torch weight [out, in] is [in, out] here). */
  dims: readonly number[];
  type: GgmlType;
  /** Writes the tensor's bytes, in order, through `put` (any chunk sizes). */
  write(put: (bytes: Uint8Array) => void): void;
}

/** Bytes of a tensor of `dims` in `type`. */
export function tensorBytes(dims: readonly number[], type: GgmlType): number {
  const n = dims.reduce((a, b) => a * b, 1);
  const b = GGML_BLOCK[type];
  if (dims[0] % b.values !== 0) throw new Error(`${type}: the first dimension (${dims[0]}) must be a multiple of ${b.values}`);
  return (n / b.values) * b.bytes;
}

/** Growing little-endian byte buffer for the header. */
class Bytes {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u32(x: number): void {
    this.room(4);
    this.view.setUint32(this.length, x, true);
    this.length += 4;
  }
  i32(x: number): void {
    this.room(4);
    this.view.setInt32(this.length, x, true);
    this.length += 4;
  }
  f32(x: number): void {
    this.room(4);
    this.view.setFloat32(this.length, x, true);
    this.length += 4;
  }
  u64(x: number): void {
    this.room(8);
    this.view.setBigUint64(this.length, BigInt(x), true);
    this.length += 8;
  }
  u8(x: number): void {
    this.room(1);
    this.buf[this.length++] = x;
  }
  string(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  pad(alignment: number): void {
    while (this.length % alignment !== 0) this.u8(0);
  }
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

function writeValue(h: Bytes, v: GgufValue): void {
  switch (v.type) {
    case "u32":
      h.u32(GGUF_TYPE.UINT32);
      h.u32(v.value);
      return;
    case "i32":
      h.u32(GGUF_TYPE.INT32);
      h.i32(v.value);
      return;
    case "f32":
      h.u32(GGUF_TYPE.FLOAT32);
      h.f32(v.value);
      return;
    case "bool":
      h.u32(GGUF_TYPE.BOOL);
      h.u8(v.value ? 1 : 0);
      return;
    case "string":
      h.u32(GGUF_TYPE.STRING);
      h.string(v.value);
      return;
    case "string[]":
      h.u32(GGUF_TYPE.ARRAY);
      h.u32(GGUF_TYPE.STRING);
      h.u64(v.value.length);
      for (const s of v.value) h.string(s);
      return;
    case "i32[]":
      h.u32(GGUF_TYPE.ARRAY);
      h.u32(GGUF_TYPE.INT32);
      h.u64(v.value.length);
      for (let i = 0; i < v.value.length; i++) h.i32(v.value[i]);
      return;
  }
}

/** The header (everything before the data section, padded): magic … tensor infos. */
export function ggufHeader(kv: ReadonlyArray<[string, GgufValue]>, tensors: readonly GgufTensor[]): { header: Uint8Array; offsets: number[] } {
  const h = new Bytes();
  h.u32(GGUF_MAGIC);
  h.u32(GGUF_VERSION);
  h.u64(tensors.length);
  h.u64(kv.length);
  for (const [key, v] of kv) {
    h.string(key);
    writeValue(h, v);
  }
  const offsets: number[] = [];
  let offset = 0;
  for (const t of tensors) {
    h.string(t.name);
    h.u32(t.dims.length);
    for (const d of t.dims) h.u64(d);
    h.u32(GGML_TYPE[t.type]);
    h.u64(offset);
    offsets.push(offset);
    offset += tensorBytes(t.dims, t.type);
    offset = Math.ceil(offset / GGUF_ALIGNMENT) * GGUF_ALIGNMENT;
  }
  h.pad(GGUF_ALIGNMENT);
  return { header: h.bytes(), offsets };
}

/** Write a GGUF file: header, then each tensor at its aligned offset. Returns the file's size. */
export function writeGguf(file: string, kv: ReadonlyArray<[string, GgufValue]>, tensors: readonly GgufTensor[]): number {
  const { header, offsets } = ggufHeader(kv, tensors);
  return writeAtomically(file, (fd) => {
    let pos = 0;
    const put = (b: Uint8Array) => {
      let done = 0;
      while (done < b.length) done += fs.writeSync(fd, b, done, b.length - done, pos + done);
      pos += b.length;
    };
    put(header);
    const dataStart = header.length;
    tensors.forEach((t, i) => {
      const at = dataStart + offsets[i];
      if (pos < at) put(new Uint8Array(at - pos)); // alignment padding
      const before = pos;
      t.write(put);
      const want = tensorBytes(t.dims, t.type);
      if (pos - before !== want) throw new Error(`${file}: tensor ${t.name} wrote ${pos - before} bytes, its ${t.type} [${t.dims}] needs ${want}`);
    });
    return pos;
  });
}

/**
 * Q8_0 as llama.cpp's quantize_row_q8_0_ref: per block of 32 values, d = max|x| / 127
 * (stored as fp16), q = round(x / d) (half away from zero), 34 bytes a block.
 */
export function quantizeQ8_0(x: Float32Array, out: Uint8Array, floatToHalf: (f: number) => number): void {
  if (x.length % 32 !== 0) throw new Error(`Q8_0: ${x.length} values is not a multiple of 32`);
  if (out.length !== (x.length / 32) * 34) throw new Error(`Q8_0: output of ${out.length} bytes, need ${(x.length / 32) * 34}`);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let b = 0; b < x.length / 32; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]));
    const d = amax / 127;
    const id = d !== 0 ? 1 / d : 0;
    view.setUint16(b * 34, floatToHalf(d), true);
    for (let j = 0; j < 32; j++) {
      const v = x[b * 32 + j] * id;
      view.setInt8(b * 34 + 2 + j, Math.sign(v) * Math.round(Math.abs(v))); // roundf: half away from zero
    }
  }
}
