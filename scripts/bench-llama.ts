// llama.cpp (through node-llama-cpp, an optional dependency) on a GGUF file: load,
// prefill of the given prompt ids, then greedy decode steps — timed the way
// bench-phi2.ts times our engine, so the two rows can be put side by side:
//   load_s      loadModel (the file is mmap'ed: fast when it is in the page cache)
//   prefill_s   from handing over the prompt to the first new token
//   decode      (new tokens − 1) / the time after the first token
//
// node-llama-cpp is ESM and optional: it is imported by name at run time, so this
// file compiles and the bench runs (printing our row alone) when it is absent.

import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { existsInFolder, fileInFolder, openRegular, SafetensorsModel, type PhiConfig } from "../lib/phi2";
import { writePhi2GgufFromFolder, writePhi2GgufRandom, type MatrixType } from "./gguf-phi2";
import { ROOT } from "./root";

/** The part of node-llama-cpp's API used here (3.x). */
interface Token {
  readonly __token?: never;
}
interface LlamaSequence {
  evaluate(tokens: Token[], options?: { temperature?: number }): AsyncGenerator<Token, void, void | Token | Token[]>;
}
interface LlamaContext {
  getSequence(): LlamaSequence;
  dispose(): Promise<void>;
}
interface LlamaModel {
  createContext(opts: { contextSize: number; threads?: number | { ideal?: number; min?: number }; batchSize?: number; sequences?: number }): Promise<LlamaContext>;
  tokenize(text: string, specialTokens?: boolean): Token[];
  detokenize(tokens: readonly Token[], specialTokens?: boolean): string;
  dispose(): Promise<void>;
}
interface Llama {
  loadModel(opts: { modelPath: string; gpuLayers?: number; useMmap?: boolean }): Promise<LlamaModel>;
  dispose(): Promise<void>;
  readonly cpuMathCores?: number;
}
interface NodeLlamaCpp {
  getLlama(opts: { gpu: false; build: "never"; maxThreads?: number; logLevel?: string; progressLogs?: boolean }): Promise<Llama>;
}

/** The version of an installed package, from node_modules/<name>/package.json above this file ("?" if not found). */
function packageVersion(name: string): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, "node_modules", name, "package.json");
    if (fs.existsSync(file)) return (JSON.parse(fs.readFileSync(file, "utf8")) as { version: string }).version;
    if (path.dirname(dir) === dir) return "?";
  }
}

/** node-llama-cpp if it is installed (and its prebuilt binary loads), else why not. */
export async function loadNodeLlamaCpp(): Promise<{ lib: NodeLlamaCpp; version: string } | { lib: null; why: string }> {
  const name = "node-llama-cpp"; // optional dependency: not a static import, so the build does not need it
  try {
    const lib = (await import(name)) as NodeLlamaCpp;
    return { lib, version: packageVersion(name) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND" ? "node-llama-cpp is not installed (it is an optional dependency: npm install --include=optional)" : (e as Error).message;
    return { lib: null, why };
  }
}

export interface LlamaRun {
  load_s: number;
  prefill_s: number;
  decode_tokens_per_s: number;
  new_tokens: number;
  /** The greedy ids (the prompt's excluded). */
  ids: number[];
  threads: number;
  loadavg_1min_before: number;
}

/** The 1-minute load average, to print before each run (other programs slow every number). */
export function loadAverage(): number {
  return os.loadavg()[0];
}

/**
 * Load `file` with llama.cpp on the CPU and generate `newTokens` greedy tokens after
 * `promptIds` with `threads` threads. Never stops early at an end-of-text token.
 */
export async function runLlamaCpp(lib: NodeLlamaCpp, file: string, promptIds: readonly number[], newTokens: number, threads: number): Promise<LlamaRun> {
  const loadavg = loadAverage();
  const llama = await lib.getLlama({ gpu: false, build: "never", maxThreads: threads, logLevel: "error", progressLogs: false });
  try {
    const t0 = performance.now();
    const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
    const loadS = (performance.now() - t0) / 1000;
    try {
      const context = await model.createContext({ contextSize: Math.max(64, promptIds.length + newTokens + 8), threads, batchSize: 512, sequences: 1 });
      try {
        const seq = context.getSequence();
        const ids: number[] = [];
        const start = performance.now();
        let firstAt = start;
        for await (const tok of seq.evaluate(promptIds as unknown as Token[], { temperature: 0 })) {
          ids.push(tok as unknown as number);
          if (ids.length === 1) firstAt = performance.now();
          if (ids.length >= newTokens) break;
        }
        const end = performance.now();
        return {
          load_s: loadS,
          prefill_s: (firstAt - start) / 1000,
          decode_tokens_per_s: ids.length > 1 ? (ids.length - 1) / ((end - firstAt) / 1000) : NaN,
          new_tokens: ids.length,
          ids,
          threads,
          loadavg_1min_before: loadavg,
        };
      } finally {
        await context.dispose();
      }
    } finally {
      await model.dispose();
    }
  } finally {
    await llama.dispose();
  }
}

export interface OursRow {
  load_s: number;
  prefill_s: number;
  decode_tokens_per_s: number;
  /** Our greedy ids after the prompt, to see that both ran the same weights. */
  ids: readonly number[];
}

/** Where the bench's GGUF files are kept between runs (phi-2 F16 is 5.6 GB: written once). */
export function benchGgufPath(layers: number, type: MatrixType, seed = 1): string {
  return path.join(os.tmpdir(), "phi2-bench-gguf", `phi2-random-seed${seed}-L${layers}-${type}-v1.gguf`);
}

/**
 * The files a load of the model folder `dir` reads: its small JSON files and each
 * safetensors shard the index names. The shard list is SafetensorsModel.open's
 * (every name checked to be a plain file inside `dir`), not a glob of the folder;
 * `opened`: that model already open (left open), else it is opened here and closed.
 */
export function folderFiles(dir: string, opened?: SafetensorsModel): { shards: string[]; small: string[] } {
  const st = opened ?? SafetensorsModel.open(dir);
  try {
    const shards = [...new Set([...st.tensors.values()].map((t) => t.file))].sort();
    const names = ["config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors.index.json"];
    const small = names.filter((n) => existsInFolder(dir, n)).map((n) => fileInFolder(dir, n));
    return { shards, small };
  } finally {
    if (!opened) st.close();
  }
}

/**
 * Where the bench keeps the GGUF of the model folder `dir` between runs: the name
 * carries a short hash of the folder's real path and each file's name, size and
 * mtime (shards, config and tokenizer: all go into the GGUF), so a changed folder
 * gets a new file instead of a stale one.
 */
export function benchGgufPathForFolder(dir: string, type: MatrixType): string {
  const real = fs.realpathSync(dir);
  const { shards, small } = folderFiles(dir);
  const h = createHash("sha256").update(real);
  for (const f of [...shards, ...small]) {
    const s = fs.statSync(f);
    h.update(`\0${path.basename(f)}\0${s.size}\0${s.mtimeMs}`);
  }
  h.update(`\0${type}`);
  const name = path.basename(real).replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 40);
  return path.join(os.tmpdir(), "phi2-bench-gguf", `phi2-folder-${name}-${h.digest("hex").slice(0, 12)}-${type}-v1.gguf`);
}

/**
 * Read `files` once, start to end (64 MiB at a time into one buffer), so that a
 * load timed next finds them in the page cache. Returns the bytes and seconds.
 */
export function readThrough(files: readonly string[]): { bytes: number; seconds: number } {
  const buf = Buffer.allocUnsafe(64 * 2 ** 20);
  const t0 = performance.now();
  let bytes = 0;
  for (const f of files) {
    const fd = openRegular(f);
    try {
      for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) bytes += n;
    } finally {
      fs.closeSync(fd);
    }
  }
  return { bytes, seconds: (performance.now() - t0) / 1000 };
}

/** One line saying that `what` was read once so the timed load finds it in the page cache. */
export function warmLine(what: string, r: { bytes: number; seconds: number }): string {
  return `read ${what} once (${(r.bytes / 1e9).toFixed(2)} GB in ${r.seconds.toFixed(1)} s): the load below is timed with the files in the page cache`;
}

/** The GGUF of PhiModel.random's weights for `config`, written once (benchGgufPath). */
function ggufOfRandom(config: PhiConfig, type: MatrixType, log: (line: string) => void): string {
  const file = benchGgufPath(config.numLayers, type);
  if (fs.existsSync(file)) log(`llama.cpp: reusing ${file} (${(fs.statSync(file).size / 1e9).toFixed(2)} GB)`);
  else {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    log(`llama.cpp: writing the same random weights as ${type} GGUF to ${file}…`);
    const tokenizer = JSON.parse(fs.readFileSync(path.join(ROOT, "tests", "fixtures", "tiny-phi", "tokenizer.json"), "utf8")); // phi-2's tokenizer
    const t0 = performance.now();
    const bytes = writePhi2GgufRandom(config, tokenizer, file, type);
    log(`  ${(bytes / 1e9).toFixed(2)} GB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  return file;
}

/**
 * The GGUF of the model folder `dir`, written once per version of its files
 * (benchGgufPathForFolder; writeGguf renames a finished file into place, so a run
 * stopped half-way leaves nothing to be reused).
 */
export function ggufOfFolder(dir: string, config: PhiConfig, type: MatrixType, log: (line: string) => void): string {
  const file = benchGgufPathForFolder(dir, type);
  if (fs.existsSync(file)) {
    log(`llama.cpp: reusing ${file} (${(fs.statSync(file).size / 1e9).toFixed(2)} GB, written earlier from ${dir})`);
    return file;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  log(`llama.cpp: writing the weights of ${dir} as ${type} GGUF to ${file}…`);
  const t0 = performance.now();
  const bytes = writePhi2GgufFromFolder(dir, config, file, type);
  log(`  ${(bytes / 1e9).toFixed(2)} GB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return file;
}

/**
 * `npm run bench -- phi2 --vs llama.cpp`: the same weights as GGUF (random, or from
 * the model folder with `folder`), llama.cpp
 * with the same prompt, threads and token count, both rows and the ratios printed
 * through `log`. Returns the JSON fields to add (ratios: ours ÷ llama.cpp as speeds,
 * i.e. tokens/s for decode and 1/seconds for prefill and load: ≥ 1 means ours is at
 * least as fast). Without node-llama-cpp it says so and returns only why.
 */
export async function compareWithLlamaCpp(o: {
  config: PhiConfig;
  type: MatrixType;
  threads: number;
  promptIds: readonly number[];
  newTokens: number;
  ours: OursRow;
  /** The model folder our row loaded (its GGUF is written from it); without it, PhiModel.random's weights. */
  folder?: string;
  log(line: string): void;
  /** How node-llama-cpp is found (tests pass one that finds nothing). */
  loader?: typeof loadNodeLlamaCpp;
}): Promise<Record<string, unknown>> {
  const { log } = o;
  const m = await (o.loader ?? loadNodeLlamaCpp)();
  if (!m.lib) {
    log(`\nllama.cpp: not run — ${m.why}. Our row above stands alone.`);
    return { llama_cpp: null, llama_cpp_missing: m.why };
  }
  const file = o.folder ? ggufOfFolder(o.folder, o.config, o.type, log) : ggufOfRandom(o.config, o.type, log);
  // llama.cpp's load is timed from the page cache: the GGUF is read once first, as bench-phi2
  // reads a folder's shards (random weights too: without this read, llama.cpp's load of a GGUF
  // reused from an earlier run took anywhere from 1.0 to 8.9 s here)
  const warm = readThrough([file]);
  log(warmLine(file, warm));
  log(`llama.cpp (node-llama-cpp ${m.version}): load average before the run ${loadAverage().toFixed(2)} (1 min) on ${os.availableParallelism()} cores`);
  const r = await runLlamaCpp(m.lib, file, o.promptIds, o.newTokens + 1, o.threads);
  let same = 0;
  while (same < Math.min(r.ids.length, o.ours.ids.length) && r.ids[same] === o.ours.ids[same]) same++;
  const ratio = {
    decode: o.ours.decode_tokens_per_s / r.decode_tokens_per_s,
    prefill: r.prefill_s / o.ours.prefill_s,
    load: r.load_s / o.ours.load_s,
  };
  const f = (v: number, d = 2) => v.toFixed(d);
  const row = (name: string, load: number, prefill: number, tps: number) => `  ${name.padEnd(26)} ${f(load, 2).padStart(8)} s ${f(prefill, 3).padStart(9)} s ${f(tps).padStart(10)}`;
  log("");
  const weights = o.folder ? `${o.config.numLayers} layers, the same weights from ${o.folder} (both loads from files in the page cache)` : `phi-2 shapes (${o.config.numLayers} layers), the same random weights`;
  log(`side by side: ${weights}, ${o.promptIds.length}-token prompt, ${o.newTokens + 1} greedy tokens, ${o.threads} threads`);
  log(`  ${"".padEnd(26)} ${"load".padStart(10)} ${"prefill".padStart(11)} ${"tokens/s".padStart(10)}`);
  log(row("this course", o.ours.load_s, o.ours.prefill_s, o.ours.decode_tokens_per_s));
  log(row(`llama.cpp ${o.type} (${r.threads} thr.)`, r.load_s, r.prefill_s, r.decode_tokens_per_s));
  log(`  ours ÷ llama.cpp, as speed: decode ${f(ratio.decode)} · prefill ${f(ratio.prefill)} · load ${f(ratio.load)}   (≥ 1: ours at least as fast)`);
  log(`  same greedy ids: the first ${same} of ${r.ids.length} (different weights would disagree at once; fp16/int8 rounding may split later near-ties)`);
  return {
    llama_cpp: `node-llama-cpp ${m.version}`,
    llama_cpp_gguf: file,
    llama_cpp_gguf_type: o.type,
    llama_cpp_gguf_read_bytes: warm.bytes,
    llama_cpp_gguf_read_s: warm.seconds,
    llama_cpp_threads: r.threads,
    llama_cpp_loadavg_1min_before: r.loadavg_1min_before,
    llama_cpp_load_s: r.load_s,
    llama_cpp_prefill_s: r.prefill_s,
    llama_cpp_decode_tokens_per_s: r.decode_tokens_per_s,
    ratio_decode: ratio.decode,
    ratio_prefill: ratio.prefill,
    ratio_load: ratio.load,
    ratio_note: "ours ÷ llama.cpp as speeds (tokens/s; 1/s for prefill and load): ≥ 1 means ours is at least as fast",
    same_greedy_ids: same,
  };
}
