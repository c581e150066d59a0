// Loading a model directory (memory check first), and the phi2 CLI's --json output.
import { afterAll, describe, expect, test, vi } from "vitest";
import { execFileSync } from "node:child_process";
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

/** `npm run phi2` in-process: its exit code and everything it printed. */
async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "", err = "";
  const log = vi.spyOn(console, "log").mockImplementation((...a) => void (out += a.join(" ") + "\n"));
  const error = vi.spyOn(console, "error").mockImplementation((...a) => void (err += a.join(" ") + "\n"));
  const write = vi.spyOn(process.stdout, "write").mockImplementation((s) => ((out += String(s)), true));
  try {
    return { code: await main(argv, { out: (s) => void (out += s), err: (s) => void (err += s) }), out, err };
  } finally {
    log.mockRestore();
    error.mockRestore();
    write.mockRestore();
  }
}

describe("npm run phi2", () => {

  test("--json: one object with the prompt's ids, the greedy ids of transformers and timings", async () => {
    const { code, out } = await run(["--model", DIR, "--prompt", reference.prompt, "--max-length", "12", "--backend", "js", "--json"]);
    expect(code).toBe(0);
    const j = JSON.parse(out);
    expect(j.input_ids).toEqual(reference.input_ids);
    expect(j.output_ids).toEqual(reference.greedy_max_length_12);
    expect(typeof j.text).toBe("string");
    for (const k of ["load_s", "prefill_s", "decode_tokens_per_s"]) expect(j[k]).toBeGreaterThan(0);
  });

  test("--image: written by the first run (not counted in its load), read by the next; the same greedy ids", async () => {
    const image = path.join(tmp, "tiny.phi2img");
    const argv = ["--model", DIR, "--prompt", reference.prompt, "--max-length", "12", "--backend", "wasm", "--image", image, "--json", "--no-progress"];
    const first = JSON.parse((await run(argv)).out);
    expect([first.image_used, first.image_note, first.image_write_s > 0]).toEqual([false, "no image yet", true]);
    expect(first.output_ids).toEqual(reference.greedy_max_length_12);
    const second = JSON.parse((await run(argv)).out);
    expect([second.image_used, second.image_write_s]).toEqual([true, null]);
    expect(second.image_note).toMatch(/^weights read from .*tiny\.phi2img as held/);
    expect(second.output_ids).toEqual(reference.greedy_max_length_12);
    const streamed = await run(argv.filter((a) => a !== "--json"));
    expect(streamed.err).toMatch(/weight image: weights read from .*tiny\.phi2img/);
  });

  test("--image needs the wasm backend, --image-map needs --image (exit 2, naming the flag)", async () => {
    const js = await run(["--model", DIR, "--image", path.join(tmp, "x.phi2img"), "--backend", "js"]);
    expect([js.code, js.err]).toEqual([2, expect.stringMatching(/--image needs the wasm backend/)]);
    const map = await run(["--model", DIR, "--image-map"]);
    expect([map.code, map.err]).toEqual([2, expect.stringMatching(/--image-map needs --image FILE/)]);
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

/** A copy of the fixture in a temp folder, with config.json changed by `change`. */
function fixtureCopy(change: Record<string, unknown> = {}): string {
  const d = fs.mkdtempSync(path.join(tmp, "model-"));
  for (const f of fs.readdirSync(DIR)) if (!f.startsWith("reference") && f !== "make_tiny_phi.py") fs.copyFileSync(path.join(DIR, f), path.join(d, f));
  const config = { ...JSON.parse(fs.readFileSync(path.join(DIR, "config.json"), "utf8")), ...change };
  fs.writeFileSync(path.join(d, "config.json"), JSON.stringify(config));
  return d;
}

describe("config.json is checked against the tensors before any weight is read", () => {
  test("num_hidden_layers smaller than the files hold: refused, naming the unused tensors", async () => {
    const d = fixtureCopy({ num_hidden_layers: 1 });
    await expect(loadPhi(d, { backend: "js" })).rejects.toThrow(
      /holds tensors .*config\.json \(num_hidden_layers 1, .*\) does not use; the files hold 2 layers \(model\.layers\.0 … model\.layers\.1\) but num_hidden_layers is 1: model\.layers\.1\.\* \(14 tensors\) — refusing/,
    );
  });

  test.each([0, -1])("num_hidden_layers %i: refused, naming the limit and the layers the files hold", async (n) => {
    const d = fixtureCopy({ num_hidden_layers: n });
    await expect(loadPhi(d, { backend: "js" })).rejects.toThrow(
      new RegExp(`"num_hidden_layers" is ${n}; it must be an integer in 1…16777216; the files hold 2 layers, all of them unused: model\\.layers\\.0\\.\\* \\(14 tensors\\), model\\.layers\\.1\\.\\* \\(14 tensors\\)`),
    );
  });

  test("num_hidden_layers larger than the files hold: the missing tensors are named", async () => {
    const d = fixtureCopy({ num_hidden_layers: 3 });
    await expect(loadPhi(d, { backend: "js" })).rejects.toThrow(/needs tensors that .* does not hold \(it holds 2 layers \(model\.layers\.0 … model\.layers\.1\)\): model\.layers\.2\.\* \(14 tensors\)/);
  });

  test("a size that disagrees with the shapes is refused, naming tensor, file and keys", async () => {
    const d = fixtureCopy({ intermediate_size: 128 });
    await expect(loadPhi(d, { backend: "js" })).rejects.toThrow(/model-00001-of-00002\.safetensors: tensor "model\.layers\.0\.mlp\.fc1\.weight" has shape \[256,64\], .*intermediate_size 128.* implies \[128,64\]/);
  });

  test("an extra tensor in the files (not in any layer) is named", async () => {
    const d = fixtureCopy();
    const index = JSON.parse(fs.readFileSync(path.join(d, "model.safetensors.index.json"), "utf8"));
    // reference.safetensors has other names; build a shard with one unexpected tensor
    const header = { "model.rotary_emb.inv_freq": { dtype: "F32", shape: [3], data_offsets: [0, 12] } };
    const h = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(h.length));
    fs.writeFileSync(path.join(d, "extra.safetensors"), Buffer.concat([len, h, Buffer.alloc(12)]));
    index.weight_map["model.rotary_emb.inv_freq"] = "extra.safetensors";
    fs.writeFileSync(path.join(d, "model.safetensors.index.json"), JSON.stringify(index));
    await expect(loadPhi(d, { backend: "js" })).rejects.toThrow(/does not use: "model\.rotary_emb\.inv_freq" — refusing/);
  });

  test("the fixture itself passes (every tensor used, every shape as implied)", async () => {
    const { model } = await loadPhi(DIR, { backend: "js" });
    await model.close();
  });
});

describe("npm run phi2: flags against the model's limits, each message naming the flag and the limit", () => {
  const cfg = path.join(DIR, "config.json");

  test("--max-new-tokens 1000000000 (was: Invalid typed array length)", async () => {
    const r = await run(["--model", DIR, "--backend", "js", "--max-new-tokens", "1000000000"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/phi2: --max-new-tokens must be a whole number in \[1, 1\.6777216e7\], got "1000000000" \(the real limit is the model's max_position_embeddings \(phi-2: 2048\)/);
    const r2 = await run(["--model", DIR, "--backend", "js", "--max-new-tokens", "5000"]);
    expect(r2.code).toBe(2);
    expect(r2.err).toContain(`phi2: --max-new-tokens 5000 with a 10-token prompt needs 5010 positions, more than the model's max_position_embeddings 2048 (${cfg}): at most 2038 new tokens`);
  });

  test("--max-length 1e9 / 1000000000 / 4096 name the 2048-position limit (was: a KV-cache memory message)", async () => {
    for (const v of ["1e9", "1000000000"]) {
      const r = await run(["--model", DIR, "--backend", "js", "--max-length", v]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/phi2: --max-length must be a whole number in \[1, 1\.6777216e7\], got .* max_position_embeddings \(phi-2: 2048\)/);
    }
    const r = await run(["--model", DIR, "--backend", "js", "--max-length", "4096"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`phi2: --max-length 4096 exceeds the model's max_position_embeddings 2048 (${cfg})`);
  });

  test("a prompt longer than --max-length is an error, not a silent run with no tokens", async () => {
    const prompt = "the quick brown fox jumps over the lazy dog ".repeat(25); // 225 tokens
    const r = await run(["--model", DIR, "--backend", "js", "--prompt", prompt]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/phi2: --prompt is 2\d\d tokens, which leaves no room for new tokens under --max-length 200 \(the default\): raise --max-length \(at most 2048\) or give --max-new-tokens N \(at most 18\d\d\)/);
    expect(r.out).toBe("");
    const long = await run(["--model", DIR, "--backend", "js", "--prompt", "the quick brown fox jumps over the lazy dog ".repeat(230), "--max-new-tokens", "1"]);
    expect(long.err).toMatch(/--prompt is 2\d\d\d tokens; the model's max_position_embeddings 2048 .* leaves no room for a new token \(at most 2047 prompt tokens\)/);
  });

  test("an empty prompt is refused by name", async () => {
    const r = await run(["--model", DIR, "--backend", "js", "--prompt", ""]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("phi2: --prompt needs a value, got an empty one");
  });

  test("--threads 100 with auto: refused with the kernels' limit and the cores, not a silent fall back to js", async () => {
    const r = await run(["--model", DIR, "--threads", "100", "--max-new-tokens", "1", "--json"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/phi2: --threads 100: the wasm backend refuses it \(threads must be an integer in 1…\d+, got 100; this machine has \d+ cores\)/);
  });

  test("--threads with --backend js says it is ignored; the backend used is printed", async () => {
    const r = await run(["--model", DIR, "--backend", "js", "--threads", "2", "--max-new-tokens", "1"]);
    expect(r.code).toBe(0);
    expect(r.err).toContain("--threads 2 is ignored: the js backend runs on 1 thread");
    expect(r.err).toMatch(/\(js f32 × 1 thread\)/);
  });

  test("a FIFO as a shard: refused at once, naming it (it used to hang)", async () => {
    const d = fixtureCopy();
    const shard = path.join(d, "model-00002-of-00002.safetensors");
    fs.rmSync(shard);
    execFileSync("mkfifo", [shard]);
    const r = await run(["--model", d, "--backend", "js", "--json"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${shard}: a FIFO (named pipe), not a regular file`);
  });

  test("a config with nonsense values exits 1 naming the file and key (was: NaN logits, exit 0)", async () => {
    for (const [change, re] of [
      [{ partial_rotary_factor: 5 }, /"partial_rotary_factor" is 5; it must be in \(0, 1\]/],
      [{ rope_theta: 0 }, /"rope_theta" is 0; it must be a finite number > 0/],
    ] as const) {
      const d = fixtureCopy(change);
      const r = await run(["--model", d, "--backend", "js", "--json"]);
      expect(r.code).toBe(1);
      expect(r.err).toContain(path.join(d, "config.json"));
      expect(r.err).toMatch(re);
    }
  });

  test("a broken tokenizer.json exits 1 naming it", async () => {
    const d = fixtureCopy();
    fs.writeFileSync(path.join(d, "tokenizer.json"), "");
    const r = await run(["--model", d, "--backend", "js", "--json"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${path.join(d, "tokenizer.json")}: empty file`);
  });
});
