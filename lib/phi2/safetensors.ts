// safetensors: the format phi-2 is published in (https://github.com/huggingface/safetensors).
//
//   [8 bytes: N, little-endian u64] [N bytes: JSON header] [data section]
//
// The header maps each tensor name to {dtype, shape, data_offsets: [begin, end]},
// offsets counted from the start of the data section; an optional "__metadata__"
// entry holds string → string. A big model is split into shards listed by
// model.safetensors.index.json ({"weight_map": {tensor name: shard file}}).
//
// phi-2's first shard is ≈5 GB, so we never read a whole file: the header is
// read and checked once, then each tensor is read by its byte range with
// fs.readSync on a file descriptor. Nothing in a header is trusted before it is
// validated: a truncated download must give an error naming the file and tensor,
// not a garbage model.

import * as fs from "node:fs";
import * as path from "node:path";
import { SAFETENSORS_DTYPES } from "./dtypes";
import { decodeToF32 } from "./f16";
import { existsInFolder, fileInFolder, openRegular } from "./folder";

export { SAFETENSORS_DTYPES }; // the table lives in dtypes.ts

/** Largest header we accept (the real ones are tens of KB; the reference library caps at 100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  name: string;
  dtype: string;
  shape: number[];
  /** The .safetensors file holding it. */
  file: string;
  /** Absolute byte offset of the first element in `file`. */
  offset: number;
  byteLength: number;
}

export class SafetensorsError extends Error {
  constructor(file: string, message: string, tensor?: string) {
    super(`${file}${tensor ? `: tensor "${tensor}"` : ""}: ${message}`);
    this.name = "SafetensorsError";
  }
}

/** Product of a shape's dims (1 for a scalar []). */
export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A read that found the end of the file `done` bytes into `length` bytes at `position` (readExactly's and readBytesAsync's error). */
function endedEarly(file: string, length: number, position: number, done: number, tensor?: string): SafetensorsError {
  return new SafetensorsError(file, `file ended after ${position + done} bytes while reading ${length} bytes at ${position}`, tensor);
}

function readExactly(fd: number, file: string, length: number, position: number, tensor?: string): Uint8Array {
  const buf = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, done, length - done, position + done);
    if (n === 0) throw endedEarly(file, length, position, done, tensor);
    done += n;
  }
  return buf;
}

/** One .safetensors file: its validated header, and reads by byte range. */
export class SafetensorsFile {
  readonly tensors = new Map<string, TensorInfo>();
  readonly metadata: Record<string, string> = {};
  readonly fileSize: number;
  readonly headerBytes: number;
  private fd: number | null;

  private constructor(readonly file: string, fd: number) {
    this.fd = fd;
    this.fileSize = fs.fstatSync(fd).size;
    try {
      this.headerBytes = this.parseHeader();
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** Open `file` (a path the user named, or one `fileInFolder` checked). A FIFO or a directory is refused, not waited on. */
  static open(file: string): SafetensorsFile {
    if (!fs.existsSync(file)) throw new SafetensorsError(file, "file not found");
    return new SafetensorsFile(file, openRegular(file));
  }

  private parseHeader(): number {
    const file = this.file;
    if (this.fileSize < 8) throw new SafetensorsError(file, `only ${this.fileSize} bytes: too short for the 8-byte header length (truncated?)`);
    const lenBytes = readExactly(this.fd!, file, 8, 0);
    const n = Number(new DataView(lenBytes.buffer).getBigUint64(0, true));
    if (n > MAX_HEADER_BYTES) throw new SafetensorsError(file, `header length ${n} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit (corrupt file?)`);
    if (8 + n > this.fileSize) throw new SafetensorsError(file, `header length ${n} bytes runs past the end of the ${this.fileSize}-byte file (truncated?)`);
    const text = new TextDecoder().decode(readExactly(this.fd!, file, n, 8));
    let header: unknown;
    try {
      header = JSON.parse(text);
    } catch (e) {
      throw new SafetensorsError(file, `header is not valid JSON (${(e as Error).message})`);
    }
    if (typeof header !== "object" || header === null || Array.isArray(header)) throw new SafetensorsError(file, "header is not a JSON object");

    const dataStart = 8 + n;
    const dataBytes = this.fileSize - dataStart;
    const ranges: { name: string; begin: number; end: number }[] = [];
    for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
      if (name === "__metadata__") {
        if (typeof entry !== "object" || entry === null) throw new SafetensorsError(file, "__metadata__ is not an object");
        for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
          if (typeof v !== "string") throw new SafetensorsError(file, `__metadata__.${k} is not a string`);
          this.metadata[k] = v;
        }
        continue;
      }
      const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (typeof e !== "object" || e === null) throw new SafetensorsError(file, "entry is not an object", name);
      if (typeof e.dtype !== "string" || !(e.dtype in SAFETENSORS_DTYPES)) throw new SafetensorsError(file, `unknown dtype ${JSON.stringify(e.dtype)}`, name);
      const isDim = (d: unknown) => Number.isSafeInteger(d) && (d as number) >= 0;
      if (!Array.isArray(e.shape) || !e.shape.every(isDim)) throw new SafetensorsError(file, `bad shape ${JSON.stringify(e.shape)}`, name);
      const offs = e.data_offsets;
      if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isDim) || offs[0] > offs[1]) {
        throw new SafetensorsError(file, `bad data_offsets ${JSON.stringify(offs)}`, name);
      }
      const shape = e.shape as number[];
      const [begin, end] = offs as [number, number];
      const expected = numel(shape) * SAFETENSORS_DTYPES[e.dtype];
      if (end - begin !== expected) {
        throw new SafetensorsError(file, `shape [${shape}] × ${e.dtype} is ${expected} bytes but data_offsets [${begin}, ${end}) hold ${end - begin}`, name);
      }
      if (end > dataBytes) {
        throw new SafetensorsError(file, `bytes [${begin}, ${end}) run past the end of the data section (${dataBytes} bytes; truncated download?)`, name);
      }
      ranges.push({ name, begin, end });
      this.tensors.set(name, { name, dtype: e.dtype, shape, file, offset: dataStart + begin, byteLength: end - begin });
    }
    // no two tensors may share bytes (empty tensors take no bytes)
    ranges.sort((a, b) => a.begin - b.begin || a.end - b.end);
    let prev: { name: string; begin: number; end: number } | undefined;
    for (const r of ranges) {
      if (r.end === r.begin) continue;
      if (prev && r.begin < prev.end) {
        throw new SafetensorsError(file, `bytes [${r.begin}, ${r.end}) overlap tensor "${prev.name}" [${prev.begin}, ${prev.end})`, r.name);
      }
      prev = r;
    }
    return n;
  }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new SafetensorsError(this.file, "not in this file", name);
    return t;
  }

  /** Raw little-endian bytes of a tensor (or of bytes [start, start+length) inside it). */
  readBytes(name: string, start = 0, length?: number): Uint8Array {
    const t = this.info(name);
    const len = length ?? t.byteLength - start;
    if (start < 0 || start + len > t.byteLength) throw new SafetensorsError(this.file, `read [${start}, ${start + len}) outside its ${t.byteLength} bytes`, name);
    if (this.fd === null) throw new SafetensorsError(this.file, "file already closed", name);
    return readExactly(this.fd, this.file, len, t.offset + start, name);
  }

  /**
   * readBytes on libuv's thread pool: the calling thread goes on meanwhile. The file
   * must stay open until the promise settles.
   */
  async readBytesAsync(name: string): Promise<Uint8Array> {
    const t = this.info(name);
    if (this.fd === null) throw new SafetensorsError(this.file, "file already closed", name);
    const buf = new Uint8Array(t.byteLength);
    for (let done = 0; done < buf.length; ) {
      const n = await new Promise<number>((resolve, reject) =>
        fs.read(this.fd!, buf, done, buf.length - done, t.offset + done, (e, bytes) => (e ? reject(e) : resolve(bytes))),
      );
      if (n === 0) throw endedEarly(this.file, buf.length, t.offset, done, name);
      done += n;
    }
    return buf;
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

/**
 * All tensors of a model: a single file, or a directory with model.safetensors
 * or model.safetensors.index.json (sharded).
 */
export class SafetensorsModel {
  readonly tensors = new Map<string, TensorInfo>();
  private readonly files = new Map<string, SafetensorsFile>();

  private constructor(readonly source: string, files: SafetensorsFile[], weightMap?: Record<string, string>, indexFile?: string) {
    for (const f of files) this.files.set(f.file, f);
    if (weightMap) {
      // the index names which shard holds each tensor: check it
      for (const [name, shard] of Object.entries(weightMap)) {
        const f = this.files.get(shard);
        const t = f?.tensors.get(name);
        if (!t) throw new SafetensorsError(indexFile!, `lists tensor "${name}" in ${shard}, which does not hold it`);
        this.tensors.set(name, t);
      }
    } else {
      for (const f of files) for (const [name, t] of f.tensors) this.tensors.set(name, t);
    }
  }

  /**
   * Open `p`: a .safetensors file, or a model directory. In a directory only plain
   * file names inside it are opened (see folder.ts): every shard the index names is
   * checked before any shard is opened.
   */
  /** The shards' paths. */
  get fileNames(): string[] {
    return [...this.files.keys()];
  }

  static open(p: string): SafetensorsModel {
    if (!fs.existsSync(p)) throw new Error(`${p}: not found`);
    if (!fs.statSync(p).isDirectory()) return new SafetensorsModel(p, [SafetensorsFile.open(p)]);
    const INDEX = "model.safetensors.index.json";
    if (existsInFolder(p, INDEX)) {
      const index = fileInFolder(p, INDEX);
      let json: unknown;
      const fd = openRegular(index);
      try {
        json = JSON.parse(fs.readFileSync(fd, "utf8"));
      } catch (e) {
        throw new Error(`${index}: not valid JSON (${(e as Error).message})`);
      } finally {
        fs.closeSync(fd);
      }
      const weightMap = (json as { weight_map?: unknown } | null)?.weight_map;
      if (typeof weightMap !== "object" || weightMap === null || Array.isArray(weightMap)) throw new Error(`${index}: no "weight_map" object`);
      // every shard name is checked (plain name, inside the folder, a regular file) before one is opened
      const full: Record<string, string> = {};
      const shardFiles = new Set<string>();
      for (const [name, s] of Object.entries(weightMap as Record<string, unknown>)) {
        if (typeof s !== "string") throw new SafetensorsError(index, `weight_map entry is ${JSON.stringify(s)}, not a shard file name`, name);
        full[name] = fileInFolder(p, s, { source: index, what: `tensor "${name}"` });
        shardFiles.add(full[name]);
      }
      const files: SafetensorsFile[] = [];
      try {
        for (const f of [...shardFiles].sort()) files.push(SafetensorsFile.open(f));
        return new SafetensorsModel(p, files, full, index);
      } catch (e) {
        for (const f of files) f.close();
        throw e;
      }
    }
    const SINGLE = "model.safetensors";
    if (existsInFolder(p, SINGLE)) return new SafetensorsModel(p, [SafetensorsFile.open(fileInFolder(p, SINGLE))]);
    throw new Error(`${p}: neither model.safetensors.index.json nor model.safetensors found`);
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`${this.source}: tensor "${name}" not found`);
    return t;
  }

  readBytes(name: string, start = 0, length?: number): Uint8Array {
    const t = this.info(name);
    return this.files.get(t.file)!.readBytes(name, start, length);
  }

  readBytesAsync(name: string): Promise<Uint8Array> {
    return this.files.get(this.info(name).file)!.readBytesAsync(name);
  }

  /** A float tensor (F16, BF16 or F32) decoded to float32. */
  readF32(name: string): Float32Array {
    const t = this.info(name);
    if (t.dtype !== "F16" && t.dtype !== "BF16" && t.dtype !== "F32") throw new Error(`${t.file}: tensor "${name}" is ${t.dtype}, not a float tensor`);
    return decodeToF32(this.readBytes(name), t.dtype);
  }

  /** Bytes of all tensor data (what a download or a load must move). */
  totalBytes(): number {
    let s = 0;
    for (const t of this.tensors.values()) s += t.byteLength;
    return s;
  }

  close(): void {
    for (const f of this.files.values()) f.close();
  }
}
