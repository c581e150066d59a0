// The safetensors reader: reads by byte range, and refuses every kind of corrupt file
// with an error naming the file and the tensor. Corrupt copies go to a temp dir.
import { afterAll, describe, expect, test } from "vitest";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { floatToHalf } from "../lib/phi2/f16";
import { SafetensorsFile, SafetensorsModel } from "../lib/phi2/safetensors";

const DIR = path.join(__dirname, "fixtures", "tiny-phi");
const SHARD = path.join(DIR, "model-00002-of-00002.safetensors");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "phi2-st-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A safetensors file from a header object and a data section. */
function write(name: string, header: unknown, data: Uint8Array, headerText = JSON.stringify(header)): string {
  const h = new TextEncoder().encode(headerText);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(h.length), true);
  const file = path.join(tmp, name);
  fs.writeFileSync(file, Buffer.concat([len, h, data]));
  return file;
}

/** The real shard's header and data, to corrupt one thing at a time. */
function shardParts(): { header: Record<string, any>; data: Uint8Array } {
  const bytes = fs.readFileSync(SHARD);
  const n = Number(bytes.readBigUInt64LE(0));
  return { header: JSON.parse(bytes.subarray(8, 8 + n).toString("utf8")), data: bytes.subarray(8 + n) };
}

function expectError(file: string, ...parts: (string | RegExp)[]): void {
  let msg = "";
  try {
    SafetensorsFile.open(file).close();
  } catch (e) {
    msg = (e as Error).message;
  }
  expect(msg, "no error thrown").not.toBe("");
  expect(msg).toContain(file);
  for (const p of parts) expect(msg).toMatch(p);
}

describe("reading", () => {
  test("the sharded fixture through its index: every tensor of the index, with shapes", () => {
    const st = SafetensorsModel.open(DIR);
    const index = JSON.parse(fs.readFileSync(path.join(DIR, "model.safetensors.index.json"), "utf8"));
    expect([...st.tensors.keys()].sort()).toEqual(Object.keys(index.weight_map).sort());
    expect(st.info("model.embed_tokens.weight").shape).toEqual([51200, 64]);
    expect(st.info("lm_head.weight").file).toBe(SHARD);
    expect(st.totalBytes()).toBe(index.metadata.total_size);
    st.close();
  });

  test("a byte range inside a tensor equals the same bytes read from the whole file", () => {
    const st = SafetensorsModel.open(DIR);
    const t = st.info("lm_head.weight");
    const whole = fs.readFileSync(SHARD);
    expect(Buffer.from(st.readBytes(t.name, 1000, 64))).toEqual(whole.subarray(t.offset + 1000, t.offset + 1064));
    st.close();
  });

  test("F16, BF16 and F32 decode to the values written; __metadata__ is allowed", () => {
    const values = [1, -2, 0.5, 57344, 2 ** -24, -0]; // exact in all three dtypes
    const f32 = new Float32Array(values);
    const f16 = new Uint16Array(values.map(floatToHalf));
    const bf16 = new Uint16Array(Array.from(new Uint32Array(f32.buffer), (u) => u >>> 16)); // exact for these values
    const data = Buffer.concat([Buffer.from(f32.buffer), Buffer.from(f16.buffer), Buffer.from(bf16.buffer)]);
    const file = write("ok.safetensors", {
      __metadata__: { format: "pt" },
      a: { dtype: "F32", shape: [2, 3], data_offsets: [0, 24] },
      b: { dtype: "F16", shape: [6], data_offsets: [24, 36] },
      c: { dtype: "BF16", shape: [3, 2], data_offsets: [36, 48] },
    }, data);
    const st = SafetensorsModel.open(file);
    for (const name of ["a", "b", "c"]) expect(Array.from(st.readF32(name))).toEqual(values);
    st.close();
    expect(SafetensorsFile.open(file).metadata).toEqual({ format: "pt" });
  });
});

describe("validation: each corruption is refused, naming the file (and the tensor)", () => {
  test("truncated file (a download cut in the middle)", () => {
    const bytes = fs.readFileSync(SHARD);
    const file = path.join(tmp, "truncated.safetensors");
    fs.writeFileSync(file, bytes.subarray(0, bytes.length - 5000));
    expectError(file, /tensor "model\.layers\.1\.\w+\.\w+\.(weight|bias)"/, /past the end/);
  });

  test("file shorter than the header length field", () => {
    const file = path.join(tmp, "tiny.safetensors");
    fs.writeFileSync(file, Buffer.from([1, 2, 3]));
    expectError(file, /too short/);
  });

  test("header length larger than the limit", () => {
    const file = path.join(tmp, "huge-header.safetensors");
    const bytes = Buffer.from(fs.readFileSync(SHARD));
    bytes.writeBigUInt64LE(BigInt(500_000_000), 0);
    fs.writeFileSync(file, bytes);
    expectError(file, /header length 500000000 bytes exceeds/);
  });

  test("header length larger than the file", () => {
    const file = path.join(tmp, "long-header.safetensors");
    const bytes = Buffer.from(fs.readFileSync(SHARD));
    bytes.writeBigUInt64LE(BigInt(bytes.length), 0);
    fs.writeFileSync(file, bytes);
    expectError(file, /runs past the end/);
  });

  test("header is not JSON", () => {
    const { header, data } = shardParts();
    const file = write("bad-json.safetensors", null, data, JSON.stringify(header).replace(/,/, ";"));
    expectError(file, /not valid JSON/);
  });

  test("unknown dtype", () => {
    const { header, data } = shardParts();
    header["lm_head.bias"].dtype = "F17";
    expectError(write("dtype.safetensors", header, data), /tensor "lm_head\.bias"/, /unknown dtype "F17"/);
  });

  test("shape × dtype size ≠ byte range", () => {
    const { header, data } = shardParts();
    header["model.final_layernorm.weight"].shape = [65];
    expectError(write("shape.safetensors", header, data), /tensor "model\.final_layernorm\.weight"/, /\[65\] × F16 is 130 bytes/);
  });

  test("byte range outside the file", () => {
    const { header, data } = shardParts();
    // grow the last tensor's range (and its shape, so the size check passes) past the end
    const last = header["model.layers.1.self_attn.v_proj.weight"];
    last.shape = [64, 65];
    last.data_offsets = [last.data_offsets[0], last.data_offsets[0] + 64 * 65 * 2];
    expectError(write("range.safetensors", header, data), /tensor "model\.layers\.1\.self_attn\.v_proj\.weight"/, /past the end of the data section/);
  });

  test("overlapping byte ranges", () => {
    const { header, data } = shardParts();
    header["lm_head.bias"].data_offsets = [100, 100 + 51200 * 2]; // overlaps lm_head.weight at 102400
    expectError(write("overlap.safetensors", header, data), /overlap/, /lm_head/);
  });

  test("an index naming a missing shard names the file", () => {
    const d = fs.mkdtempSync(path.join(tmp, "model-"));
    fs.copyFileSync(path.join(DIR, "model.safetensors.index.json"), path.join(d, "model.safetensors.index.json"));
    fs.copyFileSync(path.join(DIR, "model-00001-of-00002.safetensors"), path.join(d, "model-00001-of-00002.safetensors"));
    expect(() => SafetensorsModel.open(d)).toThrow(/model-00002-of-00002\.safetensors: file not found/);
  });

  test("an index listing a tensor its shard does not hold", () => {
    const d = fs.mkdtempSync(path.join(tmp, "model-"));
    for (const f of ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]) fs.copyFileSync(path.join(DIR, f), path.join(d, f));
    const index = JSON.parse(fs.readFileSync(path.join(DIR, "model.safetensors.index.json"), "utf8"));
    index.weight_map["lm_head.bias"] = "model-00001-of-00002.safetensors";
    fs.writeFileSync(path.join(d, "model.safetensors.index.json"), JSON.stringify(index));
    expect(() => SafetensorsModel.open(d)).toThrow(/model\.safetensors\.index\.json: lists tensor "lm_head\.bias" in .*model-00001-of-00002\.safetensors/);
  });
});
