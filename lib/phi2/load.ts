// Build a runnable phi model from a directory of published files:
// config.json + safetensors (one file or shards) + tokenizer.json.
// Before any weight is read, estimate the memory the run needs and refuse a model
// that will not fit (better a clear message than the kernel's OOM killer).

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { kvCacheBytesPerToken } from "../compute/memory";
import { checkTensorsAgainstConfig, layersInTensors, listNames } from "./check";
import { ConfigError, readPhiConfig, type PhiConfig } from "./config";
import type { HoldDtype, MatmulBackend } from "./matmul";
import { createWasmMatmul } from "./kernels";
import type { WeightImage } from "./kernels/image";
import { JsMatmul } from "./matmul-js";
import { PhiModel } from "./model";
import { SafetensorsModel, numel } from "./safetensors";
import { loadTokenizer, type PhiTokenizer } from "./tokenizer";

export type BackendKind = "js" | "wasm" | "auto";

/** The wasm kernels exist but refused the thread count asked for (not a reason to fall back to js silently). */
export class ThreadsError extends Error {
  constructor(readonly threads: number, why: string) {
    super(`threads ${threads}: the wasm backend refuses it (${why}; this machine has ${os.availableParallelism()} cores)`);
    this.name = "ThreadsError";
  }
}

export interface BackendOptions {
  threads?: number;
  /** wasm: map weight images with mmap instead of reading them (kernels/image.ts). */
  mapImages?: boolean;
  /** Told why "auto" fell back to js (default: nobody is told). */
  onFallback?(why: string): void;
}

/**
 * A matmul backend: "js" (reference), "wasm" (kernels/, error if missing), "auto"
 * (wasm if it works, else js, saying why through onFallback). An explicit thread
 * count the kernels refuse is an error (ThreadsError) for "auto" too.
 */
export async function createBackend(kind: BackendKind, opts: BackendOptions = {}): Promise<MatmulBackend> {
  if (kind === "js") return new JsMatmul();
  let why: string;
  try {
    return await createWasmMatmul({ threads: opts.threads, mapImages: opts.mapImages });
  } catch (e) {
    why = (e as Error).message; // e.g. no WebAssembly SIMD in this runtime, or the .wasm not built
    if (opts.threads !== undefined && /thread/i.test(why)) throw new ThreadsError(opts.threads, why);
  }
  if (kind === "wasm") throw new Error(`wasm backend unavailable: ${why}`);
  opts.onFallback?.(`wasm backend unavailable (${why}): using the js backend, 1 thread`);
  return new JsMatmul();
}

export interface MemoryEstimate {
  /** Weight matrices as the backend holds them (fp32 for JsMatmul, stored dtype otherwise). */
  matrices: number;
  /** Embedding table (stored dtype) + biases and norms (fp32). */
  other: number;
  /** KV cache for `positions` positions, fp32. */
  kvCache: number;
  /** Node itself, activations, read buffers. */
  overhead: number;
  total: number;
}

const OVERHEAD_BYTES = 512 * 2 ** 20;

/** Memory to run the model in `st` with `config`, from the safetensors headers alone. */
export function estimateMemory(st: SafetensorsModel, config: PhiConfig, matrixBytesPerValue: number | "stored", positions: number): MemoryEstimate {
  let matrices = 0, other = 0;
  for (const t of st.tensors.values()) {
    const isMatrix = t.shape.length === 2 && t.name !== "model.embed_tokens.weight";
    if (isMatrix) matrices += matrixBytesPerValue === "stored" ? t.byteLength : numel(t.shape) * matrixBytesPerValue;
    else other += t.name === "model.embed_tokens.weight" ? t.byteLength : numel(t.shape) * 4;
  }
  // K and V, every layer, fp32 (model.ts KVCache): lib/compute's formula, per token × positions
  const kvCache = kvCacheBytesPerToken({ nLayers: config.numLayers, nKvHeads: config.numKvHeads, headDim: config.headDim }, "fp32") * positions;
  return { matrices, other, kvCache, overhead: OVERHEAD_BYTES, total: matrices + other + kvCache + OVERHEAD_BYTES };
}

/** Memory the OS can give us now: MemAvailable from /proc/meminfo (Linux), else os.freemem(). */
export function availableMemoryBytes(): number {
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(fs.readFileSync("/proc/meminfo", "utf8"));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return os.freemem();
}

const GB = (b: number) => `${(b / 1e9).toFixed(2)} GB`;

/** Throws if `estimate` does not fit in `free` bytes, with the numbers in the message. */
export function checkMemory(estimate: MemoryEstimate, free: number, what: string): void {
  if (estimate.total > free) {
    throw new Error(
      `${what} needs about ${GB(estimate.total)} of memory (weights ${GB(estimate.matrices)} + embedding/biases ${GB(estimate.other)} + ` +
        `KV cache ${GB(estimate.kvCache)} + overhead ${GB(estimate.overhead)}) but only ${GB(free)} is free: refusing to load. ` +
        `Close other programs, use --backend wasm (fp16 weights, half the memory of js), or a machine with more RAM.`,
    );
  }
}

/** How the backend stores matrices: JsMatmul in fp32 (4 bytes a value, or int8 + scales), the kernels as held. */
export function matrixBytesPerValue(backend: MatmulBackend, hold: HoldDtype = "stored"): number | "stored" {
  if (hold === "Q8_0") return 1 + 4 / 32;
  return backend.storedAsF32 || hold === "F32" ? 4 : "stored";
}

export interface LoadOptions {
  /** A kind (default "auto") or a backend already created (it is closed if loading fails). */
  backend?: BackendKind | MatmulBackend;
  threads?: number;
  /** Positions the KV cache must hold (for the memory estimate); default max_position_embeddings, at most that. */
  positions?: number;
  /** Free memory in bytes (default: measured). Tests inject a small value to see the refusal. */
  freeMemoryBytes?: number;
  /**
   * Called with the config and tokenizer before any weight is read: throw here to
   * stop early (the CLI checks its flags); a number returned replaces `positions`.
   */
  beforeWeights?(config: PhiConfig, tokenizer: PhiTokenizer): number | void;
  /** Told when "auto" falls back to the js backend, and why. */
  onFallback?(why: string): void;
  /** How the matrices are held: as stored (default), F32, or Q8_0 (int8, quantized at load). */
  hold?: HoldDtype;
  /** Progress of the weights: placed so far and total (weights, not bytes), and the bytes all matrices take as held (the estimate's). */
  onProgress?(done: number, total: number, totalBytes: number): void;
  /**
   * A weight image file (kernels/image.ts; wasm backend): the weights come from it when
   * it holds this model as held now; else from the files, and `image.save()` of the
   * result writes it for the next load.
   */
  image?: string;
  /** Map the image with mmap instead of reading it (a backend created here; see kernels/image.ts for what it measured). */
  mapImage?: boolean;
}

/** What a weight image did in a load. */
export interface ImageUse {
  file: string;
  /** The weights came from the image. */
  used: boolean;
  /** Used: how ("weights read from … as held", "… mapped …"); else why not ("no image yet", "stale: …"). */
  note: string;
  /** When not used: write the image of the weights as now held (seconds it took). Loading never writes files itself. */
  save?(onProgress?: (done: number, total: number) => void): Promise<number>;
}

/**
 * A model built through the weight image `file`: from it, when it is this backend's and
 * made from `key`; else by `build()` the usual way, and `image.save` writes the image
 * for the next load. A file that is not an image, or a damaged one, is refused
 * (ImageError), never replaced.
 */
export async function withImage(backend: MatmulBackend, file: string, key: string, build: (image?: WeightImage) => Promise<PhiModel>): Promise<{ model: PhiModel; image: ImageUse }> {
  const { openImage, saveImage } = backend;
  if (!openImage || !saveImage) throw new Error(`image ${file}: weight images are the wasm backend's, not ${backend.name}'s`);
  const found = openImage.call(backend, file, key);
  if (typeof found !== "string") {
    const model = await build(found);
    return { model, image: { file, used: true, note: backend.imageNote ?? "" } };
  }
  const model = await build();
  const save = async (onProgress?: (done: number, total: number) => void) => {
    const t0 = performance.now();
    await saveImage.call(backend, file, key, onProgress);
    return (performance.now() - t0) / 1000;
  };
  return { model, image: { file, used: false, note: found, save } };
}

/** What an image of the model in `st` is made from: each file's name, size and modification time (the shards and `also`), and the hold. */
export function imageKeyOfFiles(st: SafetensorsModel, hold: HoldDtype = "stored", also: string[] = []): string {
  const files = [...st.fileNames, ...also].map((f) => {
    const s = fs.statSync(f);
    return [path.basename(f), s.size, s.mtimeMs];
  });
  return JSON.stringify({ files, hold });
}

export interface LoadedPhi {
  model: PhiModel;
  tokenizer: PhiTokenizer;
  config: PhiConfig;
  estimate: MemoryEstimate;
  /** Seconds to read config, tokenizer and every weight. */
  loadSeconds: number;
  /** What the weight image did, if one was named. */
  image?: ImageUse;
}

/**
 * `dir/config.json`, checked against the tensors in `st`. A refused
 * num_hidden_layers also says how many layers the files hold.
 */
export function readCheckedConfig(dir: string, st: SafetensorsModel): PhiConfig {
  const configFile = path.join(dir, "config.json");
  let config: PhiConfig;
  try {
    config = readPhiConfig(dir);
  } catch (e) {
    if (e instanceof ConfigError && e.key === "num_hidden_layers") {
      const held = layersInTensors(st.tensors.keys());
      const layerNames = [...st.tensors.keys()].filter((n) => n.startsWith("model.layers."));
      throw new Error(`${e.message}; the files hold ${held.length} layers, all of them unused: ${listNames(layerNames)}`);
    }
    throw e;
  }
  checkTensorsAgainstConfig(st, config, configFile);
  return config;
}

/** Load config, tokenizer and weights from `dir` (e.g. a clone of huggingface.co/microsoft/phi-2). */
export async function loadPhi(dir: string, opts: LoadOptions = {}): Promise<LoadedPhi> {
  const t0 = performance.now();
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`${dir}: model directory not found`);
  const st = SafetensorsModel.open(dir); // headers only, every shard name checked
  let backend: MatmulBackend | null = null;
  try {
    const config = readCheckedConfig(dir, st);
    const tokenizer = await loadTokenizer(dir);
    const positions = opts.beforeWeights?.(config, tokenizer) ?? opts.positions ?? config.maxPositions;
    if (!(Number.isInteger(positions) && positions >= 1 && positions <= config.maxPositions)) {
      throw new Error(`${positions} positions: the model holds at most max_position_embeddings ${config.maxPositions} (${path.join(dir, "config.json")})`);
    }
    const b = opts.backend ?? "auto";
    backend = typeof b === "string" ? await createBackend(b, { threads: opts.threads, onFallback: opts.onFallback, mapImages: opts.mapImage }) : b;
    const estimate = estimateMemory(st, config, matrixBytesPerValue(backend, opts.hold), positions);
    checkMemory(estimate, opts.freeMemoryBytes ?? availableMemoryBytes(), `${dir} with the ${backend.name} backend`);
    const onProgress = opts.onProgress && ((done: number, total: number) => opts.onProgress!(done, total, estimate.matrices));
    const built = (image?: WeightImage) => PhiModel.load(st, config, backend!, { hold: opts.hold, onProgress, image });
    if (!opts.image) {
      const model = await built();
      return { model, tokenizer, config, estimate, loadSeconds: (performance.now() - t0) / 1000 };
    }
    const { model, image } = await withImage(backend, opts.image, imageKeyOfFiles(st, opts.hold, [path.join(dir, "config.json")]), built);
    return { model, tokenizer, config, estimate, loadSeconds: (performance.now() - t0) / 1000, image };
  } catch (e) {
    await backend?.close();
    throw e;
  } finally {
    st.close();
  }
}

/** Where the course keeps phi-2: $PHI2_DIR, else data/models/phi-2 under the repository root. */
export function defaultPhi2Dir(repoRoot: string, env: Record<string, string | undefined> = process.env): string {
  return env.PHI2_DIR || path.join(repoRoot, "data", "models", "phi-2");
}

export interface WeightsLocation {
  dir: string;
  /** True when the directory holds phi-2's shapes (32 layers, hidden 2560, vocab 51200). */
  isPhi2: boolean;
  /** One line in Markdown saying which weights these are (bold when they are not phi-2). */
  banner: string;
}

/**
 * Where the course's phi-2 is: $PHI2_DIR, else data/models/phi-2 under `repoRoot`;
 * when neither holds a config.json, the tiny test fixture (tests/fixtures/tiny-phi).
 */
export function locateWeights(repoRoot: string, env: Record<string, string | undefined> = process.env): WeightsLocation {
  const candidates = [...new Set([defaultPhi2Dir(repoRoot, env), path.join(repoRoot, "data", "models", "phi-2")])];
  for (const dir of candidates) {
    if (!fs.existsSync(path.join(dir, "config.json"))) continue;
    const c = readPhiConfig(dir);
    const isPhi2 = c.numLayers === 32 && c.hidden === 2560 && c.vocabSize === 51200;
    const what = isPhi2 ? "phi-2" : `a phi model (${c.numLayers} layers, hidden ${c.hidden})`;
    return { dir, isPhi2, banner: `**Weights: ${what} from \`${dir}\`.**` };
  }
  const dir = path.join(repoRoot, "tests", "fixtures", "tiny-phi");
  return {
    dir,
    isPhi2: false,
    banner:
      `**No phi-2 found (looked in ${candidates.map((c) => `\`${c}\``).join(", ")}): this run uses the tiny test fixture ` +
      `\`tests/fixtures/tiny-phi\` (2 layers, hidden 64, phi-2's vocabulary) — every timing below is the tiny model's, not phi-2's.** ` +
      "To run the real thing: `git clone https://huggingface.co/microsoft/phi-2 data/models/phi-2` (git-lfs, ≈5.6 GB) or `npm run fetch-phi2`.",
  };
}
