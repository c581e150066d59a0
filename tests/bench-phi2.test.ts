// `npm run bench -- phi2 --model DIR` on the tiny fixture: the folder's files (the
// shards its index names, nothing else), the GGUF cache name that follows them, and
// a whole run whose greedy ids must be the library's own; and, when node-llama-cpp is
// installed, one --vs llama.cpp run on one phi-2-shaped layer (the rounds' wiring: both
// generations interleaved pass by pass).
import { afterAll, describe, expect, test, vi } from "vitest";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { argmax, ARTICLE_PROMPT, generate, loadPhi, loadTokenizer, readPhiConfig } from "../lib/phi2";
import { readImage } from "../lib/phi2/kernels/image";
import { ARTICLE_PROMPT_IDS, main, Timed } from "../scripts/bench-phi2";
import { JsMatmul } from "../lib/phi2/matmul-js";
import { createWasmMatmul } from "../lib/phi2/kernels";
import { estimateMemory, matrixBytesPerValue } from "../lib/phi2/load";
import { SafetensorsModel } from "../lib/phi2/safetensors";
import { benchGgufPathForFolder, folderFiles, ggufOfFolder, loadNodeLlamaCpp } from "../scripts/bench-llama";
import { damonState } from "../scripts/damon";

const DIR = path.join(__dirname, "fixtures", "tiny-phi");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bench-phi2-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A copy of the fixture's model files in a fresh folder under tmp. */
function fixtureCopy(): string {
  const d = fs.mkdtempSync(path.join(tmp, "model-"));
  for (const f of fs.readdirSync(DIR)) if (!f.startsWith("reference") && f !== "make_tiny_phi.py") fs.copyFileSync(path.join(DIR, f), path.join(d, f));
  return d;
}

/** `npm run bench -- phi2 …` in-process: exit code, stdout (the JSON) and stderr. */
async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "", err = "";
  const log = vi.spyOn(console, "log").mockImplementation((...a) => void (out += a.join(" ") + "\n"));
  const write = vi.spyOn(process.stdout, "write").mockImplementation((s) => ((out += String(s)), true));
  const ewrite = vi.spyOn(process.stderr, "write").mockImplementation((s) => ((err += String(s)), true));
  try {
    return { code: await main(argv), out, err };
  } finally {
    log.mockRestore();
    write.mockRestore();
    ewrite.mockRestore();
  }
}

test("the bench's prompt ids are the article's prompt in the fixture's (phi-2's) tokenizer", async () => {
  expect((await loadTokenizer(DIR)).encode(ARTICLE_PROMPT)).toEqual(ARTICLE_PROMPT_IDS);
});

describe("the files a load reads", () => {
  test("the shards the index names, not every .safetensors in the folder (reference.safetensors is not one)", () => {
    const { shards, small } = folderFiles(DIR);
    expect(shards.map((f) => path.basename(f))).toEqual(["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]);
    expect(small.map((f) => path.basename(f)).sort()).toEqual(["config.json", "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json"]);
    for (const f of [...shards, ...small]) expect(path.dirname(f)).toBe(DIR);
  });
});

describe("the GGUF cache name of a folder", () => {
  test("stable while the files stay; new when a shard's mtime changes; per matrix type and per folder", () => {
    const d = fixtureCopy();
    const shard = path.join(d, "model-00002-of-00002.safetensors");
    const t = 1_700_000_000; // a whole second, so that setting it again gives the same mtime exactly
    fs.utimesSync(shard, t, t);
    const name = benchGgufPathForFolder(d, "F16");
    expect(path.dirname(name)).toBe(path.join(os.tmpdir(), "phi2-bench-gguf"));
    expect(path.basename(name)).toMatch(/^phi2-folder-model-\w+-[0-9a-f]{12}-F16-v1\.gguf$/);
    expect(benchGgufPathForFolder(d, "F16")).toBe(name);
    expect(benchGgufPathForFolder(d, "Q8_0")).not.toBe(name);
    expect(benchGgufPathForFolder(fixtureCopy(), "F16")).not.toBe(name); // same bytes, another folder

    fs.utimesSync(shard, t, t + 60);
    const touched = benchGgufPathForFolder(d, "F16");
    expect(touched).not.toBe(name);
    expect(benchGgufPathForFolder(d, "F16")).toBe(touched);
    fs.utimesSync(shard, t, t);
    expect(benchGgufPathForFolder(d, "F16")).toBe(name);
  });

  test("written once, reused while the folder is unchanged, rewritten after a shard changes", () => {
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = tmp; // os.tmpdir(): the GGUF goes under this test's folder
    try {
      const d = fixtureCopy();
      const config = readPhiConfig(d);
      const lines: string[] = [];
      const log = (s: string) => void lines.push(s);
      const file = ggufOfFolder(d, config, "F16", log);
      expect(file.startsWith(path.join(tmp, "phi2-bench-gguf") + path.sep)).toBe(true);
      expect(fs.statSync(file).size).toBeGreaterThan(51200 * 64 * 2); // at least the fp16 lm_head
      expect(lines[0]).toContain(`writing the weights of ${d} as F16 GGUF`);
      expect(fs.readdirSync(path.dirname(file))).toEqual([path.basename(file)]); // no temporary file left
      expect(ggufOfFolder(d, config, "F16", log)).toBe(file);
      expect(lines.at(-1)).toContain(`reusing ${file}`);
      const shard = path.join(d, "model-00001-of-00002.safetensors");
      fs.utimesSync(shard, new Date(), new Date(fs.statSync(shard).mtimeMs + 60_000));
      const again = ggufOfFolder(d, config, "F16", log);
      expect(again).not.toBe(file);
      expect(lines.at(-1)).not.toContain("reusing");
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
  });
});

describe("npm run bench -- phi2 --model", () => {
  test("--new-tokens beyond the folder's max_position_embeddings: exit 2 naming the flag and the limit, before any measurement", async () => {
    const d = fixtureCopy();
    const config = { ...JSON.parse(fs.readFileSync(path.join(d, "config.json"), "utf8")), max_position_embeddings: 16 };
    fs.writeFileSync(path.join(d, "config.json"), JSON.stringify(config));
    const r = await run(["--model", d, "--new-tokens", "10", "--json"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`bench phi2: --new-tokens 10 with the 10-token prompt needs 21 positions, more than max_position_embeddings 16 (${path.join(d, "config.json")}): at most 5`);
    expect(r.err).not.toContain("measuring read bandwidth");
    expect(r.out).toBe("");
  });

  test("a folder without weights: exit 1, one line naming the folder", async () => {
    const d = fs.mkdtempSync(path.join(tmp, "empty-"));
    const r = await run(["--model", d, "--json", "--no-progress"]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`bench phi2: ${d}: neither model.safetensors.index.json nor model.safetensors found\n`);
  });

  test(
    "fp16: weights from the folder, timed from the page cache; greedy ids as generate() gives them",
    async () => {
      const r = await run(["--model", DIR, "--new-tokens", "2", "--json", "--no-progress", "--threads", "2"]);
      expect(r.code).toBe(0);
      const j = JSON.parse(r.out);
      expect(j).toMatchObject({ weights: "folder", model_dir: DIR, layers: 2, dtype: "fp16", prompt_tokens: 10, new_tokens: 2 });
      for (const k of ["load_s", "decode_tokens_per_s", "prefill_s", "arithmetic_gmac_per_s_1_thread", "arithmetic_gmac_per_s"]) {
        expect(Number.isFinite(j[k])).toBe(true);
        expect(j[k]).toBeGreaterThan(0);
      }
      expect(j.arithmetic_thread_scaling).toBeCloseTo(j.arithmetic_gmac_per_s / j.arithmetic_gmac_per_s_1_thread, 12); // 2 threads against 1
      expect(j.damon).toEqual(damonState()); // this machine's DAMON, as scripts/damon.ts reads it (null where the kernel has none)
      // every file was read once before the timed load: the shards, config, index and tokenizer
      const sizes = folderFiles(DIR);
      const total = [...sizes.shards, ...sizes.small].reduce((s, f) => s + fs.statSync(f).size, 0);
      expect(j.page_cache_read_bytes).toBe(total);
      expect(r.err).toMatch(/read the 6 files of .*tiny-phi once \(0\.0\d GB in [\d.]+ s\): the load below is timed with the files in the page cache/);

      // the library's own greedy ids on the same prompt (the js reference backend)
      const { model } = await loadPhi(DIR, { backend: "js" });
      try {
        const ref = await generate(model, ARTICLE_PROMPT_IDS, { maxNewTokens: 3, eosTokenId: null });
        expect(j.greedy_ids).toEqual(ref.newIds);
      } finally {
        await model.close();
      }
    },
    120_000,
  );

  test(
    "--image: the q8 weights written after the first run's load, read by the next (timed from the page cache); the same greedy ids",
    async () => {
      const image = path.join(tmp, "bench-q8.phi2img");
      const argv = ["--model", DIR, "--dtype", "q8", "--new-tokens", "2", "--json", "--no-progress", "--threads", "2", "--image", image];
      const first = JSON.parse((await run(argv)).out);
      expect(first).toMatchObject({ image_file: image, image_used: false, image_note: "no image yet" });
      expect(first.image_write_s).toBeGreaterThan(0);
      const r = await run(argv);
      const second = JSON.parse(r.out);
      expect(second).toMatchObject({ image_used: true, image_write_s: null, memory_note: null, greedy_ids: first.greedy_ids, max_abs_dlogit: first.max_abs_dlogit });
      expect(second.image_note).toMatch(/^weights read from .*bench-q8\.phi2img as held/);
      expect(readImage(image).header.weights.map((w) => w.name)).not.toContain("probe"); // the model's weights only
      expect(second.page_cache_read_bytes).toBe(first.page_cache_read_bytes + fs.statSync(image).size); // the image was read through too
      expect(r.err).toMatch(/read the 7 files of .*tiny-phi and the image once/);
    },
    120_000,
  );

  test(
    "q8: held as Q8_0, and its error measured against the folder's fp16 weights",
    async () => {
      const r = await run(["--model", DIR, "--dtype", "q8", "--new-tokens", "2", "--json", "--no-progress", "--threads", "2"]);
      expect(r.code).toBe(0);
      const j = JSON.parse(r.out);
      expect(j).toMatchObject({ weights: "folder", model_dir: DIR, dtype: "q8", held_as: "Q8_0", positions: 10 });
      // the same comparison made here on the js reference backend: q8 and fp16 loaded from the folder
      const logitsOf = async (hold: "Q8_0" | "stored") => {
        const { model } = await loadPhi(DIR, { backend: "js", hold });
        try {
          return await model.forward(ARTICLE_PROMPT_IDS, model.newCache(), { allLogits: true });
        } finally {
          await model.close();
        }
      };
      const [q8, fp16] = [await logitsOf("Q8_0"), await logitsOf("stored")];
      let maxAbs = 0, same = 0;
      for (let i = 0; i < q8.length; i++) maxAbs = Math.max(maxAbs, Math.abs(q8[i] - fp16[i]));
      const V = q8.length / 10;
      for (let t = 0; t < 10; t++) if (argmax(q8.subarray(t * V, (t + 1) * V)) === argmax(fp16.subarray(t * V, (t + 1) * V))) same++;
      expect(maxAbs).toBeGreaterThan(1e-4); // the int8 path really differs from fp16
      expect(j.max_abs_dlogit).toBeCloseTo(maxAbs, 3); // wasm and js agree to ~1e-5 per logit
      expect(j.top1_agree).toBe(same);
    },
    120_000,
  );
});

test("the bench's timing wrapper keeps the memory estimate's bytes per value: js holds fp16 as fp32, the kernels as stored", async () => {
  const st = SafetensorsModel.open(DIR);
  const wasm = await createWasmMatmul({ threads: 1 });
  try {
    const config = readPhiConfig(DIR);
    const bytes = (b: Parameters<typeof matrixBytesPerValue>[0]) => estimateMemory(st, config, matrixBytesPerValue(b), 16).matrices;
    const fp16 = [...st.tensors.values()].filter((t) => t.shape.length === 2 && t.name !== "model.embed_tokens.weight").reduce((n, t) => n + t.byteLength, 0);
    expect(bytes(new Timed(new JsMatmul()))).toBe(2 * fp16); // fp16 files, float32 in the js backend
    expect(bytes(new Timed(wasm))).toBe(fp16);
    expect(bytes(new Timed(new JsMatmul()))).toBe(bytes(new JsMatmul()));
  } finally {
    st.close();
    await wasm.close();
  }
});

describe("npm run bench -- phi2 --vs llama.cpp (node-llama-cpp, when installed)", async () => {
  const m = await loadNodeLlamaCpp();
  test.skipIf(!m.lib)(
    "q8, one phi-2-shaped layer, --rounds 2: our report, then both sides' rounds; the q8 error still measured after them",
    async () => {
      const r = await run(["--layers", "1", "--dtype", "q8", "--new-tokens", "3", "--vs", "llama.cpp", "--rounds", "2", "--json", "--no-progress", "--threads", "2"]);
      expect(r.code).toBe(0);
      const j = JSON.parse(r.out);
      expect(j).toMatchObject({ layers: 1, held_as: "Q8_0", llama_cpp_gguf_type: "Q8_0", rounds: 2, top1_agree: 10, llama_cpp_mmap: false }); // read, as ours
      expect(j.round_results).toHaveLength(2);
      const ratios = j.round_results.map((x: { ours_decode_tokens_per_s: number; llama_cpp_decode_tokens_per_s: number }) => x.ours_decode_tokens_per_s / x.llama_cpp_decode_tokens_per_s);
      expect(j.ratio_decode).toBeCloseTo((ratios[0] + ratios[1]) / 2, 12); // the median of two
      expect(j.llama_cpp_first_prefill_s).toBeGreaterThan(0);
      expect(j.llama_cpp_first_decode_tokens_per_s).toBeGreaterThan(0); // its warm-up, alone, as long as a round
      expect(j.same_greedy_ids).toBeGreaterThan(0); // the same weights: at least the first id agrees
      // each round interleaves the two generations: 3 decode steps of each, compared in pairs
      expect(j.paired_steps).toBe(6);
      expect(j.paired_sign_test_p).toBeGreaterThan(0);
      expect(j.decode_paired_verdict).toMatch(/of 6 paired steps/);
      expect(r.err).toMatch(/round 2 of 2: ours and llama\.cpp, a pass each in turn/);
      expect(r.err.indexOf("q8 error")).toBeGreaterThan(r.err.indexOf("round 2 of 2: ours and llama.cpp")); // our model stayed loaded through the rounds
    },
    300_000,
  );
});
