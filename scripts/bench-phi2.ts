// `npm run bench -- phi2 [--json] [--threads N] [--layers N | --model DIR] [--new-tokens N] [--dtype fp16|bf16|fp32|q8] [--backend wasm|js] [--image FILE [--image-map]] [--batch LIST] [--vs llama.cpp [--rounds N]] [--no-progress]`
//
// phi-2's exact shapes (32 layers, hidden 2560, MLP 10240, vocab 51200, 32 heads)
// with deterministic random weights, run through the real model code
// (lib/phi2/model.ts: PhiModel.random + generate) on the worker/WebAssembly backend:
//   1. this machine's read bandwidth (lib/phi2/kernels: measureReadBandwidth), and how
//      arithmetic scales from one thread to all (the prefill's fp16 GEMM),
//   2. load: weights generated inside the workers, in the weight dtype
//      (--model DIR: loadPhi reads the folder's files instead, after one untimed read
//      of each so that, like llama.cpp's mmap, the load is timed from the page cache;
//      --image FILE: from a weight image, the weights as held, written by the first run),
//   3. the article's 10-token prompt: prefill, then --new-tokens greedy decode steps,
// and prints decode tokens/s beside the bandwidth bound: bandwidth ÷ bytes of
// weight matrices read per token (every matrix once; the embedding is one row).
// --dtype fp32 and q8 hold the same fp16 random weights as float32 or as int8
// (Q8_0, quantized at load); q8 then also loads the fp16 model and prints the
// error: max |Δlogit| and top-1 agreement over the prompt's positions.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  argmax, createBackend, DTYPE_BYTES, generate, generateBatch, GreedySteps, loadPhi, matmulMany, matrixBytesPerValue, measureReadBandwidth, PHI2_CONFIG, PhiModel,
  readCheckedConfig, SafetensorsModel, spread, withImage, ImageError, type HoldDtype, type ImageUse, type MatmulBackend, type PhiConfig, type WeightDtype, type WeightImage,
  type WeightSpec,
} from "../lib/phi2";
import { withProgress } from "../lib/progress";
import { ArgsError, defineCli, NO_PROGRESS_FLAG, runCli, type Values } from "./args";
import { folderFiles, loadAverage, measureAgainstLlamaCpp, readThrough, reportAgainstLlamaCpp, warmLine, type Steps } from "./bench-llama";
import { imageLine, saveImageShowing } from "./phi2";
import { damonLine, damonState } from "./damon";

/** The article's prompt "Write a detailed analogy between mathematics and a lighthouse." in phi-2's
 *  tokenizer (tests/fixtures/tiny-phi/reference.json, input_ids). With random weights only the count matters. */
export const ARTICLE_PROMPT_IDS = [16594, 257, 6496, 23970, 1022, 19473, 290, 257, 46371, 13];

/** --rounds when not given: enough for a range, short enough to add seconds, not minutes. */
export const DEFAULT_ROUNDS = 3;

export const CLI = defineCli({
  program: "bench phi2",
  usage: "usage: npm run bench -- phi2 [--json] [--threads N] [--layers N | --model DIR] [--new-tokens N] [--dtype fp16|bf16|fp32|q8] [--backend wasm|js] [--image FILE [--image-map]] [--batch LIST] [--vs llama.cpp [--rounds N]] [--no-progress]",
  flags: {
    threads: { type: "integer", min: 1, max: 64, help: `compute threads: this one and N − 1 workers (default: all ${os.availableParallelism()} cores)` },
    layers: { type: "integer", min: 1, max: 64, help: "decoder layers (default 32, phi-2's; fewer for a quick run)" },
    model: {
      type: "string", metavar: "DIR",
      help: "load the weights from this model folder (config.json, safetensors, tokenizer.json) instead of random ones; its files are read once first, so the load is timed from the page cache",
    },
    "new-tokens": { type: "integer", min: 1, max: 2000, default: 16, help: "greedy decode steps after the prefill" },
    dtype: {
      type: "enum", choices: ["fp16", "bf16", "fp32", "q8"], default: "fp16", ignoreCase: true,
      help: "weights held as fp16 (phi-2's), bf16, fp32 (the fp16 values in float32) or q8 (quantized to int8 at load; also measures its error against fp16)",
    },
    backend: { type: "enum", choices: ["wasm", "js"], default: "wasm", help: "wasm, or js (the single-threaded float32 reference)" },
    image: {
      type: "string", metavar: "FILE",
      help: "a weight image (wasm): the weights as held, written here by the first run (not counted in its load) and read from here by later runs, with no conversion (as llama.cpp loads its GGUF); read once first, so the load is timed from the page cache",
    },
    "image-map": { type: "boolean", help: "map the image with mmap instead of reading it (lib/phi2/kernels/image.ts says what that measured)" },
    batch: { type: "string", metavar: "LIST", help: "also decode B sequences at once for each B in LIST (e.g. 1,2,4,8, each 1…64): aggregate tokens/s" },
    vs: { type: "enum", choices: ["llama.cpp"], help: "also run llama.cpp (node-llama-cpp) on the same weights as GGUF; prints both rows and the ratios" },
    rounds: {
      type: "integer", min: 1, max: 20,
      help: `with --vs: rounds, both models loaded, each interleaving our generation with llama.cpp's pass by pass (default ${DEFAULT_ROUNDS}); the ratios are per round, printed with their median, their range and which side won every round, if one did, and the decode steps are compared in pairs (a sign test)`,
    },
    json: { type: "boolean", help: "print one JSON object" },
    "no-progress": NO_PROGRESS_FLAG,
  },
});

/** Wraps a backend to add up the wall time spent inside matmul calls (what it holds and how, as the backend's). */
export class Timed implements MatmulBackend {
  seconds = 0;
  calls = 0;
  constructor(readonly inner: MatmulBackend) {}
  get name() {
    return this.inner.name;
  }
  get storedAsF32() {
    return this.inner.storedAsF32;
  }
  addWeight(spec: WeightSpec) {
    return this.inner.addWeight(spec);
  }
  async matmul(handle: number, x: Float32Array, T: number) {
    const t0 = performance.now();
    try {
      return await this.inner.matmul(handle, x, T);
    } finally {
      this.seconds += (performance.now() - t0) / 1000;
      this.calls++;
    }
  }
  async matmulMany(calls: readonly { handle: number; x: Float32Array }[], T: number) {
    const t0 = performance.now();
    try {
      return await matmulMany(this.inner, calls, T);
    } finally {
      this.seconds += (performance.now() - t0) / 1000;
      this.calls++;
    }
  }
  // the inner backend's weight images, if it has them (withImage says so when it has not)
  get openImage() {
    return this.inner.openImage?.bind(this.inner);
  }
  get saveImage() {
    return this.inner.saveImage?.bind(this.inner);
  }
  get imageNote() {
    return this.inner.imageNote;
  }
  weightBytes() {
    return this.inner.weightBytes();
  }
  close() {
    return this.inner.close();
  }
}

/**
 * Wall time of one tiny matmul call, the per-call cost of waking the workers: the
 * median and the mean of 500 (µs). On a virtual machine a few calls stall for
 * milliseconds (a core taken away), which the mean counts and the median does not.
 */
async function callOverheadUs(backend: MatmulBackend): Promise<{ median: number; mean: number }> {
  const h = await backend.addWeight({ name: "probe", dtype: "F16", rows: 8, cols: 8, source: { kind: "random", seed: 1, scale: 1 } });
  const x = new Float32Array(8);
  for (let i = 0; i < 50; i++) await backend.matmul(h, x, 1);
  const us: number[] = [];
  for (let i = 0; i < 500; i++) {
    const t0 = performance.now();
    await backend.matmul(h, x, 1);
    us.push((performance.now() - t0) * 1000);
  }
  return { median: spread(us).median, mean: us.reduce((s, v) => s + v, 0) / us.length };
}

/**
 * Arithmetic across threads: an fp16 GEMM in the prefill's shape (T = 10) on 1024 × 2560
 * weights, timed on one thread and on `threads` (GMAC/s, the best of 3 runs of 20 calls;
 * at T = 10 the weights are read at a few GB/s, so this measures arithmetic, not memory).
 * Less than ×threads here means the threads compete for the cores (other programs, or
 * hardware threads sharing one core's SIMD units), however fast memory streams.
 */
async function arithmeticScaling(threads: number): Promise<{ one: number; all: number }> {
  const rate = async (n: number) => {
    const backend = await createBackend("wasm", { threads: n });
    try {
      const rows = 1024, cols = 2560, T = 10;
      const h = await backend.addWeight({ name: "arithmetic", dtype: "F16", rows, cols, source: { kind: "random", seed: 1, scale: 1 } });
      const x = new Float32Array(T * cols).fill(0.5);
      for (let i = 0; i < 3; i++) await backend.matmul(h, x, T);
      let best = 0;
      for (let r = 0; r < 3; r++) {
        const t0 = performance.now();
        for (let i = 0; i < 20; i++) await backend.matmul(h, x, T);
        best = Math.max(best, (20 * T * rows * cols) / ((performance.now() - t0) / 1000) / 1e9);
      }
      return best;
    } finally {
      await backend.close();
    }
  };
  return { one: await rate(1), all: await rate(threads) };
}

/**
 * CPU seconds per GB to touch fresh memory for the first time (one write per 4 KiB
 * page): every byte of weights lands in fresh memory at load, and in a virtual
 * machine each first touch of a page can cost many microseconds.
 */
function firstTouchCpuSPerGB(bytes = 256 * 2 ** 20): number {
  const c0 = process.cpuUsage();
  const u8 = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 4096) u8[i] = 1;
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6 / (bytes / 1e9);
}

/** --dtype: the random weights' dtype, and how the backend holds them. */
const DTYPES = {
  fp16: { stored: "F16", hold: "stored", bytes: 2 },
  bf16: { stored: "BF16", hold: "stored", bytes: 2 },
  fp32: { stored: "F16", hold: "F32", bytes: 4 },
  q8: { stored: "F16", hold: "Q8_0", bytes: 1 + 4 / 32 },
} as const satisfies Record<string, { stored: WeightDtype; hold: HoldDtype; bytes: number }>;

/** Largest |a - b| and how many of the T rows of [T, vocab] logits have the same argmax. */
function compareLogits(a: Float32Array, b: Float32Array, T: number) {
  const V = a.length / T;
  let maxAbs = 0, same = 0;
  for (let i = 0; i < a.length; i++) maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
  for (let t = 0; t < T; t++) if (argmax(a.subarray(t * V, (t + 1) * V)) === argmax(b.subarray(t * V, (t + 1) * V))) same++;
  return { maxAbs, same };
}

/**
 * PhiModel.random with a progress bar on stderr (lib/progress: only if it takes over 1 s;
 * stdout stays the report or the one JSON object); ≈130 calls, a draw at most every 0.1 s.
 */
async function randomModel(config: PhiConfig, backend: MatmulBackend, stored: WeightDtype, hold: HoldDtype, showProgress: boolean, label = "weights", image?: string): Promise<{ model: PhiModel; image?: ImageUse }> {
  const perValue = matrixBytesPerValue(backend, hold); // as the backend holds them
  const bytesPerWeight = perValue === "stored" ? DTYPE_BYTES[stored] : perValue;
  const build = (img?: WeightImage) =>
    withProgress({ label, enabled: showProgress }, (bar) =>
      PhiModel.random(config, backend, stored, 1, { hold, image: img, onProgress: bar && ((done, total) => bar(done, total, total * bytesPerWeight)) }),
    );
  if (!image) return { model: await build() };
  const key = JSON.stringify({ random: { seed: 1, stored, config }, hold }); // what PhiModel.random makes from
  return withImage(backend, image, key, build);
}

/** A model folder, checked before anything is measured. */
interface Folder {
  dir: string;
  /** Its config.json, checked against the tensors (it decides the layers). */
  config: PhiConfig;
  /** Every file a load reads: the JSON files and each shard the index names. */
  files: string[];
  /** The matrices' dtype(s) in the files, e.g. "F16". */
  stored: string;
  /** KV-cache positions the run needs (loadPhi's memory estimate). */
  positions: number;
}

/**
 * Open and check the model folder `dir` (headers and config only: no weight is read).
 * The prompt is phi-2 tokenizer ids, so a smaller vocabulary is refused here rather
 * than failing inside the embedding lookup.
 */
function openFolder(dir: string, newTokens: number): Folder {
  const st = SafetensorsModel.open(dir);
  let config: PhiConfig, stored: string, files: string[];
  try {
    config = readCheckedConfig(dir, st);
    stored = [...new Set([...st.tensors.values()].filter((t) => t.shape.length === 2).map((t) => t.dtype))].join("/");
    const { shards, small } = folderFiles(dir, st); // (the headers just read, not opened again)
    files = [...small, ...shards];
  } finally {
    st.close();
  }
  const configFile = path.join(dir, "config.json");
  const top = Math.max(...ARTICLE_PROMPT_IDS);
  if (top >= config.vocabSize) {
    throw new Error(`${configFile}: vocab_size ${config.vocabSize}, but the article's prompt (phi-2 tokenizer ids) holds id ${top}: this benchmark needs phi-2's vocabulary (≥ ${top + 1} ids)`);
  }
  const positions = ARTICLE_PROMPT_IDS.length + newTokens + 1;
  if (positions > config.maxPositions) {
    const most = config.maxPositions - ARTICLE_PROMPT_IDS.length - 1;
    throw new ArgsError(`--new-tokens ${newTokens} with the ${ARTICLE_PROMPT_IDS.length}-token prompt needs ${positions} positions, more than max_position_embeddings ${config.maxPositions} (${configFile}): at most ${most}`, "--new-tokens");
  }
  return { dir, config, files, stored, positions };
}

/** loadPhi from the folder into `backend` (ours, timed), with the progress bar randomModel draws. */
async function folderModel(folder: Folder, backend: MatmulBackend, hold: HoldDtype, showProgress: boolean, label = "weights", image?: string): Promise<{ model: PhiModel; image?: ImageUse }> {
  return withProgress({ label, enabled: showProgress }, (bar) => loadPhi(folder.dir, { backend, hold, positions: folder.positions, onProgress: bar, image }));
}

/** The checked flags (throws ArgsError). */
export function argsOf(values: Values<typeof CLI.flags>) {
  if (values.model !== undefined) checkModelFlags(values);
  if (values.image !== undefined && values.backend === "js") throw new ArgsError("--image needs --backend wasm: a weight image holds the wasm kernels' layout", "--image");
  if (values["image-map"] && values.image === undefined) throw new ArgsError("--image-map needs --image FILE", "--image-map");
  if (values.rounds !== undefined && values.vs === undefined) throw new ArgsError("--rounds needs --vs llama.cpp: a round is one run of ours and one of llama.cpp's", "--rounds");
  const batch = values.batch === undefined ? [] : values.batch.split(",").map((v) => v.trim());
  if (batch.some((b) => !/^\d+$/.test(b) || Number(b) < 1 || Number(b) > 64))
    throw new ArgsError(`--batch must be a comma-separated list of whole numbers in [1, 64], got "${values.batch}"`, "--batch");
  return {
    model: values.model,
    image: values.image,
    imageMap: values["image-map"],
    vs: values.vs,
    rounds: values.rounds ?? DEFAULT_ROUNDS,
    batch: batch.map(Number),
    json: values.json,
    progress: !values["no-progress"],
    threads: values.threads ?? os.availableParallelism(),
    layers: values.layers ?? PHI2_CONFIG.numLayers,
    newTokens: values["new-tokens"],
    dtype: values.dtype as keyof typeof DTYPES,
    backend: values.backend as "wasm" | "js",
  };
}

/** --model DIR: a directory that exists, and no flag the folder decides (its layers, its dtype). */
function checkModelFlags(values: Values<typeof CLI.flags>): void {
  if (values.layers !== undefined) throw new ArgsError("--layers cannot be used with --model: the folder's config.json decides the layers", "--layers");
  if (values.dtype === "bf16") throw new ArgsError("--dtype bf16 cannot be used with --model: a folder's fp16 weights cannot be held as bf16 (use fp16, fp32 or q8)", "--dtype");
  const dir = values.model!;
  if (!fs.existsSync(dir)) throw new ArgsError(`--model ${dir}: no such directory`, "--model");
  if (!fs.statSync(dir).isDirectory()) throw new ArgsError(`--model ${dir}: not a directory (give the model folder)`, "--model");
}

export function main(argv: string[]): Promise<number> {
  return runCli(CLI, argv, (p) => bench(argsOf(p.values)), undefined, "npm run bench -- phi2 --help");
}

async function bench(args: ReturnType<typeof argsOf>): Promise<number> {
  const { threads, newTokens, dtype } = args;
  const log = (s: string) => (args.json ? process.stderr : process.stdout).write(s + "\n");

  // 0. a model folder is checked (headers, config, prompt ids) before anything is measured
  let folder: Folder | undefined;
  if (args.model !== undefined) {
    try {
      folder = openFolder(args.model, newTokens);
    } catch (e) {
      if (e instanceof ArgsError) throw e; // a flag against the folder's limits: exit 2
      process.stderr.write(`bench phi2: ${(e as Error).message}\n`);
      return 1;
    }
  }
  const layers = folder ? folder.config.numLayers : args.layers;

  // 1. bandwidth, before the weights take memory
  log(`measuring read bandwidth (${threads} threads, 2 GiB)…`);
  const bw = measureReadBandwidth({ threads });
  const arithmetic = args.backend === "wasm" && threads > 1 ? await arithmeticScaling(threads) : null;

  // 2. load
  log(`load average before our run: ${loadAverage().toFixed(2)} (1 min) on ${os.availableParallelism()} cores`);
  const config = folder?.config ?? { ...PHI2_CONFIG, numLayers: layers };
  const backend = new Timed(await createBackend(args.backend, { threads, mapImages: args.imageMap }));
  const { stored, hold } = DTYPES[dtype];
  let warm: { bytes: number; seconds: number } | undefined;
  const imageFiles = args.image && fs.existsSync(args.image) ? [args.image] : []; // an image already written is read through too
  if (folder || imageFiles.length) {
    const files = [...(folder?.files ?? []), ...imageFiles];
    warm = readThrough(files);
    log(warmLine(folder ? `the ${files.length} files of ${folder.dir}${imageFiles.length ? " and the image" : ""}` : `the image ${args.image}`, warm));
  }
  if (folder) {
    log(`loading ${folder.dir} (${layers} layers, ${folder.stored} weights held as ${hold}) in ${backend.name} from files in the page cache…`);
  } else log(`loading phi-2 shapes (${layers} layers) with random ${stored} weights held as ${hold} in ${backend.name}…`);
  const firstTouch = firstTouchCpuSPerGB();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let model: PhiModel;
  let image: ImageUse | undefined;
  try {
    ({ model, image } = folder ? await folderModel(folder, backend, hold, args.progress, "weights", args.image) : await randomModel(config, backend, stored, hold, args.progress, "weights", args.image));
  } catch (e) {
    if (!folder && !(e instanceof ImageError)) throw e;
    process.stderr.write(`bench phi2: ${(e as Error).message}\n`); // e.g. the memory check's refusal, naming the folder; an image refused
    return 1;
  }
  const loadS = (performance.now() - t0) / 1000;
  const loadCpu = process.cpuUsage(cpu0);
  // an image this run did not use is written now, not counted in the load: before anything else joins the
  // backend's weights (the wake-up probe below), and on disk before the measurements start (image.ts syncs it)
  const imageWriteS = await saveImageShowing(image, args.progress);
  const bytesPerToken = backend.weightBytes(); // every matrix is read once per token
  try {
    const overheadUs = backend.name.startsWith("wasm") ? await callOverheadUs(backend) : { median: NaN, mean: NaN };

    // warm-up: the same prompt once (V8 first runs the JavaScript around the kernels —
    // LayerNorm, rotary, attention — in its interpreter, and tiers up the
    // wasm kernels on first use; llama.cpp's native code has no such first run)
    await generate(model, ARTICLE_PROMPT_IDS, { maxNewTokens: 2, eosTokenId: null });

    // 3. the measurement: prefill the 10-token prompt, then decode
    log(`prefill ${ARTICLE_PROMPT_IDS.length} tokens, decode ${newTokens}…`);
    let atFirstToken: number | undefined; // matmul seconds when the prefill is done
    let callsAtFirstToken = 0;
    // CPU seconds of all threads (main + workers): on a shared machine wall time also counts
    // the time other programs hold the cores, CPU time only the work this run did
    let cpuAtFirstToken: NodeJS.CpuUsage | undefined;
    const timedRun = { maxNewTokens: newTokens + 1, eosTokenId: null }; // this one, and each round's beside llama.cpp (oursSteps, below)
    const r = await generate(model, ARTICLE_PROMPT_IDS, {
      ...timedRun,
      onToken: () => {
        if (atFirstToken === undefined) {
          atFirstToken = backend.seconds;
          callsAtFirstToken = backend.calls;
          cpuAtFirstToken = process.cpuUsage();
        }
      },
    });
    const matmulShare = (backend.seconds - (atFirstToken ?? 0)) / r.decodeSeconds;
    const callsPerToken = (backend.calls - callsAtFirstToken) / Math.max(1, r.newIds.length - 1);
    const tps = r.decodeTokensPerSecond;
    const cpu = process.cpuUsage(cpuAtFirstToken);
    const cpuSPerToken = (cpu.user + cpu.system) / 1e6 / (r.newIds.length - 1);
    const bound = (bw.gbPerS * 1e9) / bytesPerToken;
    const { hidden: h, intermediate: im, vocabSize } = config;
    const kv = config.numKvHeads * config.headDim;
    const macs = layers * (2 * h * h + 2 * kv * h + 2 * h * im) + vocabSize * h; // one multiply-add per weight

    // batch decoding: B prompts (the article's, rotated: with random weights only the count matters)
    const batchRows: { batch: number; decode_tokens_per_s: number; steps: number; decode_s: number }[] = [];
    for (const B of args.batch) {
      log(`batch decoding: ${B} sequence${B > 1 ? "s" : ""} × ${newTokens} steps…`);
      const prompts = Array.from({ length: B }, (_, b) => [...ARTICLE_PROMPT_IDS.slice(b % 10), ...ARTICLE_PROMPT_IDS.slice(0, b % 10)]);
      const rb = await generateBatch(model, prompts, { maxNewTokens: newTokens + 1, eosTokenId: null });
      batchRows.push({ batch: B, decode_tokens_per_s: rb.decodeTokensPerSecond, steps: rb.steps, decode_s: rb.decodeSeconds });
    }

    // q8: the prompt's logits, compared below with the fp16 model's (loaded once ours is freed)
    const mine = hold === "Q8_0" ? await model.forward(ARTICLE_PROMPT_IDS, model.newCache(), { allLogits: true }) : undefined;

    // llama.cpp on the same weights, its passes interleaved with ours; its report is printed after ours
    const oursSteps = async (): Promise<Steps> => {
      const g = new GreedySteps(model, ARTICLE_PROMPT_IDS, timedRun.maxNewTokens);
      return { prefill: () => g.prefill(), step: () => g.step(), ids: g.newIds, close: async () => {} };
    };
    const against = args.vs
      ? await measureAgainstLlamaCpp({
          config, type: hold === "Q8_0" ? "Q8_0" : "F16", threads, promptIds: ARTICLE_PROMPT_IDS, newTokens, folder: folder?.dir, log,
          ours: { load_s: loadS, prefill_s: r.prefillSeconds, decode_tokens_per_s: tps, ids: r.newIds },
          llamaMmap: args.imageMap, rounds: args.rounds, oursSteps, oursBytes: process.memoryUsage().rss, closeOurs: () => model.close(), // rss: all this process holds (weights, embedding, caches, heap)
        })
      : undefined;

    // q8: its error against the same weights in fp16, on the prompt's logits
    let error: { max_abs_dlogit: number; top1_agree: number; positions: number } | undefined;
    if (mine) {
      log("q8 error: the prompt's logits against the fp16 model…");
      await model.close();
      const fp16Backend = await createBackend(args.backend, { threads });
      const fp16 = folder
        ? (await folderModel(folder, fp16Backend, "stored", args.progress, "fp16 weights")).model
        : (await randomModel(config, fp16Backend, stored, "stored", args.progress, "fp16 weights")).model;
      const theirs = await fp16.forward(ARTICLE_PROMPT_IDS, fp16.newCache(), { allLogits: true });
      await fp16.close();
      const c = compareLogits(mine, theirs, ARTICLE_PROMPT_IDS.length);
      error = { max_abs_dlogit: c.maxAbs, top1_agree: c.same, positions: ARTICLE_PROMPT_IDS.length };
    }
    const forward = "generate (real forward pass: matmuls, LayerNorm, rotary, attention over the KV cache, GELU)";
    const result = {
      measured: folder ? `lib/phi2/load.ts loadPhi + ${forward}` : `lib/phi2/model.ts PhiModel.random + ${forward}`,
      weights: folder ? "folder" : "random",
      model_dir: folder?.dir ?? null,
      ...(warm ? { page_cache_read_bytes: warm.bytes, page_cache_read_s: warm.seconds } : {}),
      backend: backend.name,
      dtype,
      held_as: hold,
      ...(error ?? {}),
      threads,
      layers,
      prompt_tokens: ARTICLE_PROMPT_IDS.length,
      new_tokens: newTokens,
      load_s: loadS,
      load_cpu_s: (loadCpu.user + loadCpu.system) / 1e6,
      first_touch_cpu_s_per_gb: firstTouch,
      memory_note: image?.used ? null : (backend.inner.memoryNote ?? null),
      image_file: image?.file ?? null,
      image_used: image?.used ?? null,
      image_note: image?.note ?? null,
      image_write_s: imageWriteS,
      prefill_s: r.prefillSeconds,
      decode_tokens_per_s: tps,
      decode_s_per_token: 1 / tps,
      decode_cpu_s_per_token: cpuSPerToken,
      weight_bytes_per_token: bytesPerToken,
      effective_gb_s: (tps * bytesPerToken) / 1e9,
      gmac_per_s: (tps * macs) / 1e9,
      arithmetic_gmac_per_s_1_thread: arithmetic?.one ?? null,
      arithmetic_gmac_per_s: arithmetic?.all ?? null,
      arithmetic_thread_scaling: arithmetic ? arithmetic.all / arithmetic.one : null,
      arithmetic_note: "the prefill's fp16 GEMM, T = 10, 1024 × 2560 weights: GMAC/s on 1 thread and on all threads",
      bandwidth_gb_s: bw.gbPerS,
      bandwidth_median_gb_s: bw.medianGbPerS,
      bandwidth_note: `best of ${bw.repeats} rounds, ${threads} threads streaming ${(bw.bytes / 2 ** 30).toFixed(1)} GiB`,
      bound_tokens_per_s: bound,
      fraction_of_bound: tps / bound,
      matmul_call_overhead_us: overheadUs.median,
      matmul_call_overhead_mean_us: overheadUs.mean,
      ...(batchRows.length ? { batch_decode: batchRows } : {}),
      decode_time_in_matmul: matmulShare,
      greedy_ids: r.newIds,
      loadavg_1min: loadAverage(),
      damon: damonState(),
    };
    if (!args.json) {
      const f = (v: number, d = 2) => v.toFixed(d);
      log("");
      const weights = folder ? `${folder.dir}: ${folder.stored} weights from files in the page cache,` : `phi-2 shapes, random ${stored} weights`;
      log(`${weights} held as ${hold}, ${backend.name}, ${layers} layers (measured: ${result.measured})`);
      log(`  weights read per token   ${f(bytesPerToken / 1e9)} GB (${f(macs / 1e9)} GMAC)`);
      log(`  load                     ${f(loadS, 1)} s (${f(result.load_cpu_s, 1)} CPU s; fresh memory costs ${f(firstTouch, 2)} CPU s/GB just to touch once)`);
      if (result.memory_note) log(`  fresh weight memory      ${result.memory_note}`);
      if (image) log(`  weight image             ${imageLine(image, imageWriteS)}`);
      for (const b of batchRows) log(`  batch of ${String(b.batch).padEnd(3)}             ${f(b.decode_tokens_per_s)} tokens/s in all (${b.steps} steps, ${f(b.decode_s / b.steps, 3)} s a step)`);
      if (error) log(`  q8 vs fp16 (prompt)      max |Δlogit| ${error.max_abs_dlogit.toPrecision(3)}, same top-1 at ${error.top1_agree} of ${error.positions} positions`);
      log(`  prefill (10 tokens)      ${f(r.prefillSeconds)} s`);
      log(`  decode                   ${f(tps)} tokens/s (${f(1000 / tps, 0)} ms/token, ${f(result.effective_gb_s, 1)} GB/s of weights, ${f(result.gmac_per_s, 1)} GMAC/s)`);
      log(`  CPU time per token       ${f(cpuSPerToken, 3)} s summed over all threads (wall ${f(1 / tps, 3)} s × ${threads} threads if both were busy all the time)`);
      log(`  read bandwidth           ${f(bw.gbPerS, 1)} GB/s best, ${f(bw.medianGbPerS, 1)} GB/s median (${result.bandwidth_note})`);
      if (arithmetic) {
        log(`  arithmetic               ${f(arithmetic.one, 1)} GMAC/s on 1 thread, ${f(arithmetic.all, 1)} on ${threads} (×${f(arithmetic.all / arithmetic.one)}: the prefill's fp16 GEMM, T = 10; below ×${threads}, the threads compete for the cores)`);
      }
      log(`  bandwidth bound          ${f(bound)} tokens/s → we reach ${f(100 * result.fraction_of_bound, 0)}% of it`);
      log(`  per matmul call          ${f(overheadUs.median, 1)} µs wake-up overhead, median (mean ${f(overheadUs.mean, 0)} µs: a few calls stall); ${f(callsPerToken, 0)} calls per token; ${f(100 * matmulShare, 0)}% of decode time is inside matmul calls`);
      log(`  load average (1 min)     ${f(result.loadavg_1min, 1)} on ${os.availableParallelism()} cores, counting this benchmark's own threads (other programs slow every number above)`);
      log(`  kernel's DAMON           ${damonLine(result.damon)}`);
      log(`  for comparison (issue 5, same machine): PyTorch fp32 2 threads 1.5 tokens/s; goal ≥ 1.5, stretch ≥ 2.8`);
    }
    const vs = against ? reportAgainstLlamaCpp(against, log) : {};
    if (args.json) console.log(JSON.stringify({ ...result, ...vs }));
    return 0;
  } finally {
    await model.close();
  }
}
