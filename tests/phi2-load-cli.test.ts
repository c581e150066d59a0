// Loading a model directory (memory check first), and the phi2 CLI's --json output.
import { afterAll, describe, expect, test, vi } from "vitest";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { readPhiConfig } from "../lib/phi2/config";
import { availableMemoryBytes, createBackend, estimateMemory, loadPhi, locateWeights } from "../lib/phi2/load";
import { JsMatmul } from "../lib/phi2/matmul-js";
import { SafetensorsModel } from "../lib/phi2/safetensors";
import { main } from "../scripts/phi2";

const DIR = path.join(__dirname, "fixtures", "tiny-phi");
const reference = JSON.parse(fs.readFileSync(path.join(DIR, "reference.json"), "utf8"));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "phi2-load-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("memory estimate and refusal", () => {
  test("estimate from the headers: tiny-phi's matrices in fp32 for the js backend", () => {
    const st = SafetensorsModel.open(DIR);
    const cfg = readPhiConfig(DIR);
    // per layer q, k, v, dense 64×64, fc1 256×64, fc2 64×256; lm_head 51200×64
    const matrixValues = 2 * (4 * 64 * 64 + 2 * 256 * 64) + 51200 * 64;
    const e = estimateMemory(st, cfg, 4, 100);
    expect(e.matrices).toBe(4 * matrixValues);
    expect(estimateMemory(st, cfg, "stored", 100).matrices).toBe(2 * matrixValues); // fp16 on disk
    expect(e.kvCache).toBe(2 * 2 * 100 * 64 * 4); // K and V · layers · positions · width · fp32
    expect(e.other).toBeGreaterThanOrEqual(51200 * 64 * 2); // the fp16 embedding is kept as stored
    st.close();
  });

  test("a model that does not fit is refused before loading, with the estimate", async () => {
    await expect(loadPhi(DIR, { backend: "js", freeMemoryBytes: 100e6 })).rejects.toThrow(/needs about 0\.5\d GB .* only 0\.10 GB is free: refusing to load/);
  });

  test("free memory is measured (MemAvailable or os.freemem)", () => {
    const free = availableMemoryBytes();
    expect(free).toBeGreaterThan(0);
    expect(free).toBeLessThanOrEqual(os.totalmem());
  });

  test("a missing file is named", async () => {
    const d = path.join(tmp, "no-tokenizer");
    fs.mkdirSync(d);
    for (const f of ["config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]) fs.copyFileSync(path.join(DIR, f), path.join(d, f));
    await expect(loadPhi(d, { backend: "js" })).rejects.toThrow(`${path.join(d, "tokenizer.json")}: not found`);
    await expect(loadPhi(path.join(tmp, "nothing"), { backend: "js" })).rejects.toThrow(/nothing: model directory not found/);
  });

  test("backend 'js' is the reference; 'auto' always gives a working backend", async () => {
    expect(await createBackend("js")).toBeInstanceOf(JsMatmul);
    const b = await createBackend("auto", { threads: 1 });
    const h = await b.addWeight({ name: "w", dtype: "F32", rows: 2, cols: 3, source: { kind: "bytes", bytes: new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer) } });
    expect(Array.from(await b.matmul(h, new Float32Array([1, 0, -1]), 1))).toEqual([-2, -2]);
    await b.close();
  });
});

test("locateWeights: $PHI2_DIR, then data/models/phi-2, else the tiny fixture, said in bold", () => {
  const none = locateWeights(tmp, {});
  expect(none.dir).toBe(path.join(tmp, "tests", "fixtures", "tiny-phi"));
  expect(none.isPhi2).toBe(false);
  expect(none.banner).toMatch(/^\*\*No phi-2 found .*not phi-2's\.\*\*/);
  expect(none.banner).toContain("git clone https://huggingface.co/microsoft/phi-2");
  const viaEnv = locateWeights(tmp, { PHI2_DIR: DIR });
  expect(viaEnv).toMatchObject({ dir: DIR, isPhi2: false });
  expect(viaEnv.banner).toContain("a phi model (2 layers, hidden 64)");
});

describe("npm run phi2", () => {
  async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = "", err = "";
    const log = vi.spyOn(console, "log").mockImplementation((...a) => void (out += a.join(" ") + "\n"));
    const error = vi.spyOn(console, "error").mockImplementation((...a) => void (err += a.join(" ") + "\n"));
    const write = vi.spyOn(process.stdout, "write").mockImplementation((s) => ((out += String(s)), true));
    try {
      return { code: await main(argv), out, err };
    } finally {
      log.mockRestore();
      error.mockRestore();
      write.mockRestore();
    }
  }

  test("--json: one object with the prompt's ids, the greedy ids of transformers and timings", async () => {
    const { code, out } = await run(["--model", DIR, "--prompt", reference.prompt, "--max-length", "12", "--backend", "js", "--json"]);
    expect(code).toBe(0);
    const j = JSON.parse(out);
    expect(j.input_ids).toEqual(reference.input_ids);
    expect(j.output_ids).toEqual(reference.greedy_max_length_12);
    expect(typeof j.text).toBe("string");
    for (const k of ["load_s", "prefill_s", "decode_tokens_per_s"]) expect(j[k]).toBeGreaterThan(0);
  });

  test("streaming mode prints the prompt, the text and the timings", async () => {
    const { code, out } = await run(["--model", DIR, "--max-new-tokens", "3", "--backend", "js"]);
    expect(code).toBe(0);
    expect(out).toContain(reference.prompt + " Nay Curtis Dai");
    expect(out).toMatch(/load [\d.]+ s · prefill 10 tokens [\d.]+ s · 3 new tokens/);
  });

  test("bad flags exit 2; a missing model exits 1 naming it", async () => {
    expect((await run(["--max-length", "zero"])).code).toBe(2);
    expect((await run(["--frobnicate"])).code).toBe(2);
    expect((await run(["--max-length", "5", "--max-new-tokens", "5"])).code).toBe(2);
    const r = await run(["--model", path.join(tmp, "absent"), "--json"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(path.join(tmp, "absent"));
  });
});
