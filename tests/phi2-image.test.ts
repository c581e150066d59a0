// Weight images (lib/phi2/kernels/image.ts): a model loaded from its image, mapped or
// read, gives the same logits to the bit as the model loaded from its files; an image
// of other weights is rewritten; a file that is not an image, or a damaged one, is
// refused with its name and the reason.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { mapInto, readImage, type ImageHeader } from "../lib/phi2/kernels/image";
import { PAGE, type WasmMemory } from "../lib/phi2/kernels/wasm";
import { libcMadvise } from "../lib/phi2/kernels/prefault";
import { loadPhi, type LoadOptions } from "../lib/phi2/load";
import type { HoldDtype } from "../lib/phi2/matmul";

const FIXTURE = path.join(__dirname, "fixtures", "tiny-phi");
const PROMPT = [50256, 464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290];
let dir: string; // a copy of the fixture (its files' times change in a test)

/** Layer 0's fc1 in the copy gets a half of 100 and a subnormal: too large to be held × 2^10 (compute.ts), it keeps subnormal lists. */
const LISTS_WEIGHT = "model.layers.0.mlp.fc1.weight";

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "phi2-image-"));
  for (const f of fs.readdirSync(FIXTURE)) fs.copyFileSync(path.join(FIXTURE, f), path.join(dir, f));
  const shard = path.join(dir, "model-00001-of-00002.safetensors");
  const b = fs.readFileSync(shard);
  const n = Number(b.readBigUInt64LE(0));
  const t = (JSON.parse(b.toString("utf8", 8, 8 + n)) as Record<string, { dtype: string; data_offsets: [number, number] }>)[LISTS_WEIGHT];
  expect(t.dtype).toBe("F16");
  b.writeUInt16LE(0x5640, 8 + n + t.data_offsets[0]); // 100
  b.writeUInt16LE(0x0001, 8 + n + t.data_offsets[0] + 2); // 2^-24
  fs.writeFileSync(shard, b);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Every position's logits of the prompt, and what the image did (an image not used is then written). */
async function run(opts: LoadOptions): Promise<{ logits: Float32Array; note: string; used: boolean | undefined }> {
  const { model, image } = await loadPhi(dir, { backend: "wasm", threads: 2, ...opts });
  try {
    const logits = await model.forward(PROMPT, model.newCache(), { allLogits: true });
    if (image?.save) expect(await image.save()).toBeGreaterThan(0);
    return { logits, note: image?.note ?? "", used: image?.used };
  } finally {
    await model.backend.close();
  }
}

const sha = (f: string) => crypto.createHash("sha256").update(fs.readFileSync(f)).digest("hex");
const header = (f: string): ImageHeader => readImage(f).header;
const mapping = typeof libcMadvise() !== "string";

describe.each<HoldDtype>(["stored", "Q8_0", "F32"])("hold %s", (hold) => {
  test("written after the first load, then read and mapped: the same logits to the bit, the file untouched", async () => {
    const image = path.join(dir, `model-${hold}.phi2img`);
    const plain = await run({ hold });
    const first = await run({ hold, image });
    expect(first.used).toBe(false);
    expect(first.note).toBe("no image yet");
    expect(first.logits).toEqual(plain.logits);
    const before = sha(image);

    const read = await run({ hold, image });
    expect(read.used).toBe(true);
    expect(read.note).toMatch(/^weights read from .* as held \(no conversion\)$/);
    expect(read.logits).toEqual(plain.logits);

    const mapped = await run({ hold, image, mapImage: true });
    expect(mapped.used).toBe(true);
    expect(mapped.note).toMatch(mapping ? /^weights mapped from .*\(mmap\)$/ : /^weights read from .* \(not mapped: .*koffi/);
    expect(mapped.logits).toEqual(plain.logits);
    expect(sha(image)).toBe(before); // MAP_PRIVATE: the run's memory never reaches the file
  });
});

test("the fp16 image holds weights scaled × 2^10 and one with subnormal lists (so the test above covers both)", () => {
  const h = header(path.join(dir, "model-stored.phi2img"));
  const lists = h.weights.filter((w) => w.sparse);
  expect(lists.map((w) => [w.name, w.scaleExp ?? 0])).toEqual([[LISTS_WEIGHT, 0]]);
  expect(h.weights.filter((w) => w.held === "F16" && w.scaleExp === 10).length).toBeGreaterThan(4);
  expect(h.weights.filter((w) => w.held === "F16" && w.tiled).length).toBeGreaterThan(0);
});

test("an image of other weights, or of files changed since, is written again", async () => {
  const image = path.join(dir, "stale.phi2img");
  fs.copyFileSync(path.join(dir, "model-stored.phi2img"), image);
  const other = await run({ hold: "Q8_0", image }); // made with hold "stored"
  expect(other.used).toBe(false);
  expect(other.note).toMatch(/^stale: made from other weights/);
  expect(header(image).weights.some((w) => w.held === "Q8_0")).toBe(true);
  expect((await run({ hold: "Q8_0", image })).used).toBe(true);

});

describe("refused, with the file's name and why", () => {
  const damaged = (name: string, edit: (bytes: Buffer, h: ImageHeader) => Buffer | void): string => {
    const src = path.join(dir, "model-stored.phi2img");
    const bytes = fs.readFileSync(src);
    const out = edit(bytes, header(src)) ?? bytes;
    const f = path.join(dir, name);
    fs.writeFileSync(f, out);
    return f;
  };

  test("a file that is not an image is not replaced", async () => {
    const f = path.join(dir, "notes.txt");
    fs.writeFileSync(f, "my notes");
    await expect(run({ image: f })).rejects.toThrow(/notes\.txt: not a weight image/);
    expect(fs.readFileSync(f, "utf8")).toBe("my notes");
  });

  test("truncated", async () => {
    const f = damaged("short.phi2img", (b) => b.subarray(0, b.length - 5000));
    await expect(run({ image: f })).rejects.toThrow(/short\.phi2img: weight \d+ .*past the file's end/);
  });

  test("a header that is not JSON, or a section of the wrong size", async () => {
    const f = damaged("json.phi2img", (b) => void b.write("{{", 12));
    await expect(run({ image: f })).rejects.toThrow(/json\.phi2img: header is not JSON/);
    const g = damaged("size.phi2img", (b) => {
      const n = b.readUInt32LE(8);
      const h = JSON.parse(b.toString("utf8", 12, 12 + n)) as ImageHeader;
      h.weights[0].dense[1] += 2;
      const text = Buffer.from(JSON.stringify(h).padEnd(n, " "));
      expect(text.length).toBe(n);
      text.copy(b, 12);
    });
    await expect(run({ image: g })).rejects.toThrow(/size\.phi2img: weight 0 .*expected \d+ bytes/);
  });

  test("a subnormal column index outside the matrix", async () => {
    const f = damaged("index.phi2img", (b, h) => {
      const w = h.weights.find((x) => x.sparse)!;
      b.writeUInt32LE(w.cols, w.sparse!.colIdx[0]);
    });
    await expect(run({ image: f })).rejects.toThrow(/index\.phi2img: .*column index \d+ outside its \d+ columns/);
  });

  test("a scale exponent out of range", async () => {
    const edit = (name: string, change: (h: ImageHeader) => void) =>
      damaged(name, (b) => {
        const n = b.readUInt32LE(8);
        const h = JSON.parse(b.toString("utf8", 12, 12 + n)) as ImageHeader;
        change(h);
        const text = Buffer.from(JSON.stringify(h).padEnd(n, " "));
        expect(text.length).toBe(n);
        text.copy(b, 12);
      });
    const f = edit("exp.phi2img", (h) => void (h.weights.find((w) => w.scaleExp)!.scaleExp = 11));
    await expect(run({ image: f })).rejects.toThrow(/exp\.phi2img: weight \d+ .*scaleExp 11 on a F16 weight \(an fp16 weight's is an integer 0…10\)/);
    const g = edit("neg.phi2img", (h) => void (h.weights.find((w) => w.scaleExp)!.scaleExp = -1)); // (the header's length unchanged)
    await expect(run({ image: g })).rejects.toThrow(/neg\.phi2img: weight \d+ .*scaleExp -1 on a F16 weight/);
  });

  test("a subnormal left in the matrix, where an image holds none", async () => {
    const f = damaged("sub.phi2img", (b, h) => {
      const w = h.weights.find((x) => x.held === "F16")!;
      b.writeUInt16LE(0x0001, w.dense[0] + 2 * 7);
    });
    await expect(run({ image: f })).rejects.toThrow(/sub\.phi2img: .* 1 subnormal fp16 values in its matrix/);
  });

  test("the js backend has no images", async () => {
    await expect(run({ image: path.join(dir, "model-stored.phi2img"), backend: "js" })).rejects.toThrow(/weight images are the wasm backend's/);
  });
});

test("an image of files changed since (a shard, config.json) is written again (last: it changes the files' times)", async () => {
  const image = path.join(dir, "model-Q8_0.phi2img");
  for (const f of ["model-00002-of-00002.safetensors", "config.json"]) {
    const file = path.join(dir, f);
    const { atime, mtime } = fs.statSync(file);
    fs.utimesSync(file, atime, new Date(mtime.getTime() + 5000));
    expect((await run({ hold: "Q8_0", image })).note, f).toBe("stale: made from other weights, or the files changed since");
    expect((await run({ hold: "Q8_0", image })).used, f).toBe(true); // the image written just now
  }
});

test("a refused mmap leaves fresh zero pages and says why; if even those fail, it throws", () => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }) as unknown as WasmMemory;
  const calls: [number, number, number][] = [];
  const libc = (answers: number[]) => ({
    madvise: () => 0,
    errno: () => 12,
    mmap: (addr: Uint8Array, length: number, _prot: number, flags: number) => (calls.push([addr.byteOffset, length, flags]), answers.shift()!),
  });
  expect(mapInto(libc([-1, 0]), memory, 8192, 3, 4096, 5000)).toBe("mmap refused (errno 12)");
  expect(calls).toEqual([[8192, 8192, 0x12], [8192, 8192, 0x32]]); // the file, then anonymous pages over the same range
  expect(() => mapInto(libc([-1, -1]), memory, 8192, 3, 4096, 5000)).toThrow(/could not be restored/);
  expect(() => mapInto(libc([0]), memory, 100, 3, 4096, 10)).toThrow(/not page-aligned/);
  expect(() => mapInto(libc([0]), memory, PAGE - 4096, 3, 0, 8192)).toThrow(/beyond the memory's/);
});
