// The safetensors reader: reads by byte range, and refuses every kind of corrupt file
// with an error naming the file and the tensor. Corrupt copies go to a temp dir.
import { afterAll, describe, expect, test } from "vitest";
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { floatToHalf } from "../lib/phi2/f16";
import { readPhiConfig } from "../lib/phi2/config";
import { loadPhi } from "../lib/phi2/load";
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
    expect(() => SafetensorsModel.open(d)).toThrow(/model-00002-of-00002\.safetensors: not found/);
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

// A downloaded model folder is untrusted: its index may name any path. Nothing
// outside the folder may be opened — checked with a FIFO "tripwire" outside it: a
// child process opens the FIFO for writing, which completes only when someone opens
// it for reading, and then leaves a marker file. No marker = never opened.
describe("the index cannot make us open a file outside the model folder", () => {
  const root = fs.mkdtempSync(path.join(tmp, "traversal-"));
  const SECRET = "SECRET-0123456789-do-not-print";
  fs.writeFileSync(path.join(root, "secret.txt"), SECRET + "\n");
  fs.copyFileSync(SHARD, path.join(root, "outside.safetensors")); // a valid shard: would load and run
  const SHARD1 = "model-00001-of-00002.safetensors";
  const SHARD2 = "model-00002-of-00002.safetensors";

  /** A FIFO outside any model folder, and a way to ask whether anyone opened it. */
  function tripwire(name: string): { fifo: string; opened(): Promise<boolean> } {
    const fifo = path.join(root, name);
    const mark = fifo + ".opened";
    execFileSync("mkfifo", [fifo]);
    const child = spawn("sh", ["-c", 'exec 3>"$1"; echo opened > "$2"', "sh", fifo, mark], { stdio: "ignore" });
    return {
      fifo,
      async opened() {
        await new Promise((r) => setTimeout(r, 200)); // time for the writer's open to return and the marker to appear
        const was = fs.existsSync(mark);
        if (child.exitCode === null) child.kill();
        return was;
      },
    };
  }

  /** A copy of the fixture whose index maps lm_head.bias (and nothing else) to `shard`. */
  function folderMapping(shard: unknown, name = "model"): string {
    const d = fs.mkdtempSync(path.join(root, `${name}-`));
    for (const f of ["config.json", "tokenizer.json", "tokenizer_config.json", SHARD1, SHARD2]) fs.copyFileSync(path.join(DIR, f), path.join(d, f));
    const index = JSON.parse(fs.readFileSync(path.join(DIR, "model.safetensors.index.json"), "utf8"));
    index.weight_map["lm_head.bias"] = shard;
    fs.writeFileSync(path.join(d, "model.safetensors.index.json"), JSON.stringify(index));
    return d;
  }

  function openError(d: string): string {
    try {
      SafetensorsModel.open(d).close();
    } catch (e) {
      return (e as Error).message;
    }
    return "";
  }

  test("../../../../../../etc/passwd is refused by name, naming the index and the tensor", () => {
    const d = folderMapping("../../../../../../etc/passwd");
    const msg = openError(d);
    expect(msg).toContain(path.join(d, "model.safetensors.index.json"));
    expect(msg).toMatch(/tensor "lm_head\.bias": file name "\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd" contains a path separator/);
    expect(msg).toMatch(/refusing to open it/);
    expect(msg).not.toMatch(/root:|too short|header/);
  });

  test("the same climb to a file that exists outside: never opened (FIFO tripwire)", async () => {
    const wire = tripwire("climb.fifo");
    const d = folderMapping("../".repeat(20) + wire.fifo.slice(1)); // resolves to the FIFO: ".." at / stays at /
    expect(path.resolve(d, "../".repeat(20) + wire.fifo.slice(1))).toBe(wire.fifo);
    expect(openError(d)).toMatch(/contains a path separator/);
    expect(await wire.opened()).toBe(false);
  });

  test("../outside.safetensors, a valid shard outside: refused, and loadPhi refuses too (no run on outside weights)", async () => {
    const d = folderMapping("../outside.safetensors");
    expect(openError(d)).toMatch(/tensor "lm_head\.bias": file name "\.\.\/outside\.safetensors" contains a path separator/);
    await expect(loadPhi(d, { backend: "js" })).rejects.toThrow(/outside\.safetensors" contains a path separator/);
  });

  test("../secret.txt: refused without one byte of the file in the message", () => {
    const msg = openError(folderMapping("../secret.txt"));
    expect(msg).toMatch(/secret\.txt" contains a path separator/);
    expect(msg).not.toContain("SECRET");
    expect(msg).not.toMatch(/bytes|JSON|header/);
  });

  test("backslashes, '..' without a separator, absolute paths, NUL and '' are refused", async () => {
    const wire = tripwire("abs.fifo");
    const cases: [unknown, RegExp][] = [
      ["..\\outside.safetensors", /contains a path separator \(\/ or \\\)/],
      ["..", /contains "\.\."/],
      ["model..safetensors", /contains "\.\."/],
      [wire.fifo, /contains a path separator/],
      ["C:outside.safetensors", /not a plain file name/],
      ["model-00002-of-00002.safetensors\0.txt", /contains a NUL byte/],
      ["", /is empty/],
    ];
    for (const [name, re] of cases) expect(openError(folderMapping(name)), JSON.stringify(name)).toMatch(re);
    expect(await wire.opened()).toBe(false);
  });

  test("a non-string index entry is refused naming the index file and the tensor", () => {
    for (const bad of [5, null, ["a"], { file: "x" }]) {
      const d = folderMapping(bad);
      const msg = openError(d);
      expect(msg).toContain(path.join(d, "model.safetensors.index.json"));
      expect(msg).toMatch(/tensor "lm_head\.bias": weight_map entry is .*, not a shard file name/);
    }
  });

  test("a shard that is a symlink leading out of the folder is refused, never opened", async () => {
    const wire = tripwire("link-target.fifo");
    const d = folderMapping(SHARD2);
    fs.rmSync(path.join(d, SHARD2));
    fs.symlinkSync(path.relative(d, wire.fifo), path.join(d, SHARD2));
    const msg = openError(d);
    expect(msg).toMatch(new RegExp(`${SHARD2} is a symlink to .*link-target\\.fifo, outside the model folder`));
    expect(await wire.opened()).toBe(false);
  });

  test("a symlink to a file inside the folder is fine (the check is on real paths)", () => {
    const d = folderMapping(SHARD2);
    fs.mkdirSync(path.join(d, "blobs"));
    fs.renameSync(path.join(d, SHARD2), path.join(d, "blobs", "abc123"));
    fs.symlinkSync(path.join("blobs", "abc123"), path.join(d, SHARD2));
    const st = SafetensorsModel.open(d);
    expect(st.info("lm_head.weight").shape).toEqual([51200, 64]);
    st.close();
  });

  test("the index itself and config.json as symlinks leading out are refused", () => {
    const d = folderMapping(SHARD2);
    fs.renameSync(path.join(d, "model.safetensors.index.json"), path.join(root, "index-outside.json"));
    fs.symlinkSync(path.join(root, "index-outside.json"), path.join(d, "model.safetensors.index.json"));
    expect(openError(d)).toMatch(/model\.safetensors\.index\.json is a symlink to .*index-outside\.json, outside the model folder/);
    fs.rmSync(path.join(d, "config.json"));
    fs.symlinkSync(path.join(root, "secret.txt"), path.join(d, "config.json"));
    let msg = "";
    try {
      readPhiConfig(d);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/config\.json is a symlink to .*secret\.txt, outside the model folder/);
    expect(msg).not.toContain("SECRET");
  });

  test("a FIFO as a shard inside the folder is refused at once (it used to hang)", async () => {
    const d = folderMapping(SHARD2);
    fs.rmSync(path.join(d, SHARD2));
    execFileSync("mkfifo", [path.join(d, SHARD2)]);
    expect(openError(d)).toMatch(new RegExp(`${SHARD2}: a FIFO \\(named pipe\\), not a regular file`));
    // and given directly as the file to open
    expect(() => SafetensorsModel.open(path.join(d, SHARD2))).toThrow(/a FIFO \(named pipe\), not a regular file/);
  });
});
