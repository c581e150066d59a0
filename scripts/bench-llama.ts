// llama.cpp (through node-llama-cpp, an optional dependency) on a GGUF file: load,
// prefill of the given prompt ids, then greedy decode steps — timed the way
// bench-phi2.ts times our engine, so the two rows can be put side by side:
//   load_s      loadModel: the file mapped (fast when it is in the page cache), or read
//               into memory as our engine's default load does (see openLlamaCpp)
//   prefill_s   from handing over the prompt to the first new token
//   decode      (new tokens − 1) / the time after the first token
//
// node-llama-cpp is ESM and optional: it is imported by name at run time, so this
// file compiles and the bench runs (printing our row alone) when it is absent.

import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { existsInFolder, fileInFolder, openRegular, SafetensorsModel, spread, type PhiConfig, type Spread } from "../lib/phi2";
import { writePhi2GgufFromFolder, writePhi2GgufRandom, type MatrixType } from "./gguf-phi2";
import { ROOT } from "./root";

/** The part of node-llama-cpp's API used here (3.x). */
interface Token {
  readonly __token?: never;
}
interface LlamaSequence {
  evaluate(tokens: Token[], options?: { temperature?: number; yieldEogToken?: boolean }): AsyncGenerator<Token, void, void | Token | Token[]>;
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

/** The version of a package installed in the checkout (node_modules/<name>/package.json; "?" if not found). */
function packageVersion(name: string): string {
  const file = path.join(ROOT, "node_modules", name, "package.json");
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as { version: string }).version : "?";
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

/** One timed generation: the prompt's prefill, then greedy decode steps. */
export interface GenerationTimes {
  prefill_s: number;
  decode_tokens_per_s: number;
  /** The greedy ids (the prompt's excluded). */
  ids: readonly number[];
}

/** The 1-minute load average, to print before each run (other programs slow every number). */
export function loadAverage(): number {
  return os.loadavg()[0];
}

/**
 * One greedy generation taken a forward pass at a time, either side's: the prompt's
 * prefill(), then step() for each further token; `ids` are the new tokens so far.
 */
export interface Steps {
  prefill(): Promise<unknown>;
  step(): Promise<unknown>;
  readonly ids: readonly number[];
  close(): Promise<void>;
}

/** Seconds `f` takes. */
async function timed(f: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await f();
  return (performance.now() - t0) / 1000;
}

/** `s` run alone to `newTokens` new tokens, each pass timed. */
async function runSteps(s: Steps, newTokens: number): Promise<GenerationTimes> {
  try {
    const prefill = await timed(() => s.prefill());
    let decode = 0;
    while (s.ids.length < newTokens) decode += await timed(() => s.step());
    return { prefill_s: prefill, decode_tokens_per_s: s.ids.length > 1 ? (s.ids.length - 1) / decode : NaN, ids: [...s.ids] };
  } finally {
    await s.close();
  }
}

/** llama.cpp with one GGUF loaded on the CPU (its load timed), ready for timed runs. */
export interface LlamaSession {
  load_s: number;
  threads: number;
  /** Whether the GGUF is mapped (else read into memory). */
  mmap: boolean;
  /** A generation after `promptIds` in a fresh context, for up to `newTokens` new tokens (never stops early at an end-of-text token). */
  start(promptIds: readonly number[], newTokens: number): Promise<Steps>;
  /** start(), run alone and timed. */
  run(promptIds: readonly number[], newTokens: number): Promise<GenerationTimes>;
  close(): Promise<void>;
}

/**
 * Load `file` with llama.cpp on the CPU with `threads` threads (close() frees it):
 * mapped (`mmap`, llama.cpp's default), or read into memory as our engine reads its
 * weights unless asked to map an image. On this project's virtual machine, whose kernel
 * pages out idle mapped memory (README: weight images), the two differed: in rounds
 * interleaved with ours (fp16 phi-2 shapes), llama.cpp decoded at 2.37–3.37 tokens/s
 * mapped (10 rounds; ours ÷ llama.cpp 1.18, 1.11–1.32) and at 3.30–5.33 read half an
 * hour later (6 rounds; 0.77, 0.73–0.80).
 */
export async function openLlamaCpp(lib: NodeLlamaCpp, file: string, threads: number, mmap = true): Promise<LlamaSession> {
  const llama = await lib.getLlama({ gpu: false, build: "never", maxThreads: threads, logLevel: "error", progressLogs: false });
  let model: LlamaModel;
  const t0 = performance.now();
  try {
    model = await llama.loadModel({ modelPath: file, gpuLayers: 0, useMmap: mmap });
  } catch (e) {
    await llama.dispose();
    throw e;
  }
  const loadS = (performance.now() - t0) / 1000;
  const session: LlamaSession = {
    load_s: loadS,
    threads,
    mmap,
    async start(promptIds, newTokens) {
      const context = await model.createContext({ contextSize: Math.max(64, promptIds.length + newTokens + 8), threads, batchSize: 512, sequences: 1 });
      // the generator evaluates the prompt at its first next() and one more token at each next();
      // past an end-of-text token too, as ours is run (eosTokenId: null), so both make as many
      const tokens = context.getSequence().evaluate(promptIds as unknown as Token[], { temperature: 0, yieldEogToken: true });
      const ids: number[] = [];
      const next = async () => {
        const r = await tokens.next();
        if (r.done) throw new Error(`llama.cpp: the generation ended after ${ids.length} new tokens`);
        ids.push(r.value as unknown as number);
      };
      return {
        prefill: next,
        step: next,
        ids,
        async close() {
          try {
            await tokens.return();
          } finally {
            await context.dispose();
          }
        },
      };
    },
    async run(promptIds, newTokens) {
      return runSteps(await session.start(promptIds, newTokens), newTokens);
    },
    async close() {
      try {
        await model.dispose();
      } finally {
        await llama.dispose();
      }
    },
  };
  return session;
}

/** Our row: the load, and the first timed generation (its greedy ids show that both ran the same weights). */
export interface OursRow extends GenerationTimes {
  load_s: number;
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
 * Two-sided sign test: the chance that a fair coin tossed n times gives k or fewer heads,
 * or as few tails, i.e. P(X ≤ min(k, n − k)) · 2 (at most 1) for X ~ Binomial(n, 1/2).
 * Summed in logarithms: 2^-n underflows past n = 1074.
 */
export function signTestP(k: number, n: number): number {
  if (!Number.isInteger(k) || !Number.isInteger(n) || n < 0 || k < 0 || k > n) throw new Error(`signTestP: need whole 0 ≤ k ≤ n, got k = ${k}, n = ${n}`);
  const m = Math.min(k, n - k);
  let logC = 0; // log C(n, i)
  let tail = 0;
  for (let i = 0; i <= m; i++) {
    if (i > 0) logC += Math.log((n - i + 1) / i);
    tail += Math.exp(logC - n * Math.LN2);
  }
  return Math.min(1, 2 * tail);
}

/** Below this sign-test p a side is named the winner of the paired steps. */
export const PAIRED_P = 0.01;

/** What the paired decode steps say: ratios are ours ÷ llama.cpp as speeds, one per pair (exact ties left out of the test). */
export function pairedVerdict(ratios: readonly number[]): { n: number; oursFaster: number; p: number; verdict: string } {
  const oursFaster = ratios.filter((r) => r > 1).length;
  const n = oursFaster + ratios.filter((r) => r < 1).length;
  const p = signTestP(oursFaster, n);
  const test = `sign test p = ${p < 1e-4 ? p.toExponential(1) : p.toFixed(4)}`;
  let verdict: string;
  if (n === 0) verdict = "no paired steps";
  else if (p < PAIRED_P) verdict = oursFaster > n - oursFaster ? `ours faster in ${oursFaster} of ${n} paired steps (${test})` : `llama.cpp faster in ${n - oursFaster} of ${n} paired steps (${test})`;
  else verdict = `ours faster in ${oursFaster} of ${n} paired steps: no winner beyond the step-to-step spread (${test}, not below ${PAIRED_P})`;
  return { n, oursFaster, p, verdict };
}

/** The value below which a fraction q of `sorted` lies (linear between neighbours). */
function quantile(sorted: readonly number[], q: number): number {
  const i = q * (sorted.length - 1);
  const lo = Math.floor(i);
  return lo + 1 < sorted.length ? sorted[lo] + (i - lo) * (sorted[lo + 1] - sorted[lo]) : sorted[lo];
}

/**
 * Milliseconds of rest before each pass of an interleaved round, so that a pass never
 * starts while the other side's threads still run (ours spin 1 ms after each matmul call
 * before they sleep). Measured on this machine, 5 rounds a run, one run each, ours and
 * llama.cpp's tokens/s in the rounds (ours alone before them): q8 with no rest 5.5–8.3
 * and 4.9–8.1 (10.2), with 30 ms 7.6–9.7 and 7.2–8.4 (9.7), with 100 ms 7.1–8.3 and
 * 6.8–8.0 (9.3); fp16 with no rest 4.5–5.2 and 4.2–4.9 (5.5), with 30 ms 3.7–3.9 and
 * 3.0–3.3 (4.9). The machine moved more than the rest did: it is kept for the reason
 * above, not for a measured gain.
 */
export const PASS_REST_MS = 30;

/**
 * One round of both sides' generations interleaved pass by pass: the two prefills back
 * to back, then a decode step of each in turn, for `newTokens` new tokens each, each
 * pass after PASS_REST_MS of rest. The order flips every pass (`oursFirst` for the
 * prefill), so that neither side always runs right after the other. A machine whose
 * speed changes within seconds then slows both sides of a pair alike. Returns each
 * side's times and each decode step's pair of seconds.
 */
export async function pairedRound(ours: Steps, theirs: Steps, newTokens: number, oursFirst: boolean): Promise<{ ours: GenerationTimes; theirs: GenerationTimes; steps: [number, number][] }> {
  const rested = async (f: () => Promise<unknown>) => {
    await new Promise((r) => setTimeout(r, PASS_REST_MS));
    return timed(f);
  };
  try {
    // pass i of both sides, in this pass's order; returns [ours, theirs] seconds
    const pass = async (i: number, f: (s: Steps) => Promise<unknown>): Promise<[number, number]> => {
      const oursNow = (i % 2 === 0) === oursFirst;
      const a = await rested(() => f(oursNow ? ours : theirs));
      const b = await rested(() => f(oursNow ? theirs : ours));
      return oursNow ? [a, b] : [b, a];
    };
    const [prefillOurs, prefillTheirs] = await pass(0, (s) => s.prefill());
    const steps: [number, number][] = [];
    for (let i = 1; i < newTokens; i++) steps.push(await pass(i, (s) => s.step()));
    const side = (prefill: number, ids: readonly number[], seconds: number): GenerationTimes => ({ prefill_s: prefill, decode_tokens_per_s: steps.length > 0 ? steps.length / seconds : NaN, ids: [...ids] });
    return {
      ours: side(prefillOurs, ours.ids, steps.reduce((a, p) => a + p[0], 0)),
      theirs: side(prefillTheirs, theirs.ids, steps.reduce((a, p) => a + p[1], 0)),
      steps,
    };
  } finally {
    try {
      await ours.close();
    } finally {
      await theirs.close();
    }
  }
}

/** How a speed ratio (ours ÷ llama.cpp) came out over the rounds: only a side that wins every round wins. */
export function verdictOf(ratios: readonly number[]): string {
  const n = ratios.length;
  if (n === 1) return "one round: no round-to-round spread measured (--rounds N for more)";
  if (ratios.every((r) => r >= 1)) return `ours at least as fast in all ${n} rounds`;
  if (ratios.every((r) => r < 1)) return `llama.cpp faster in all ${n} rounds`;
  const ahead = ratios.filter((r) => r >= 1).length;
  return `ours ahead in ${ahead} of ${n} rounds: no winner beyond the round-to-round spread`;
}

/** Share of this machine's memory that our model (its process's resident memory) and llama.cpp's GGUF may take together for --rounds > 1. */
export const BOTH_MODELS_MEMORY_SHARE = 0.75;

/**
 * `npm run bench -- phi2 --vs llama.cpp`: the same weights as GGUF (random, or from
 * the model folder with `folder`), llama.cpp
 * with the same prompt, threads and token count, both rows and the ratios printed
 * through `log`. Returns the JSON fields to add (ratios: ours ÷ llama.cpp as speeds,
 * i.e. tokens/s for decode and 1/seconds for prefill and load: ≥ 1 means ours is at
 * least as fast). Without node-llama-cpp it says so and returns only why.
 *
 * With `rounds` > 1 both models stay loaded and each round interleaves the two
 * generations pass by pass (pairedRound: the prefills back to back, then one decode step
 * of each in turn), so that a machine whose speed drifts (a shared virtual machine
 * does, by tens of per cent within seconds) slows both sides alike. The ratios are per
 * round, printed with their median and range and which side won every round, if one
 * did; the decode steps are also compared pair by pair (pairedVerdict's sign test).
 */
export async function compareWithLlamaCpp(o: LlamaCompareOptions): Promise<Record<string, unknown>> {
  return reportAgainstLlamaCpp(await measureAgainstLlamaCpp(o), o.log);
}

/** What compareWithLlamaCpp is given. */
export interface LlamaCompareOptions {
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
  /** llama.cpp maps its GGUF (true) or reads it into memory (false, the default): as our side holds its weights. */
  llamaMmap?: boolean;
  /** Rounds (default 1); more than one interleave our generation (from `oursSteps`) with llama.cpp's. */
  rounds?: number;
  /** Our generation from its start, a pass at a time, with our model still loaded (needed for rounds > 1). */
  oursSteps?: () => Promise<Steps>;
  /** Bytes our side holds with its model loaded: with llama.cpp's GGUF they must fit in BOTH_MODELS_MEMORY_SHARE of `totalMemory`, or one round is run. */
  oursBytes?: number;
  /** Frees our model: called before llama.cpp loads when only one round is run. */
  closeOurs?: () => Promise<void>;
  /** This machine's memory in bytes (default os.totalmem(); tests pass less). */
  totalMemory?: number;
}

/** llama.cpp's side measured (nothing printed but progress), for reportAgainstLlamaCpp. */
export interface LlamaMeasured {
  o: LlamaCompareOptions;
  version: string;
  file: string;
  warm: { bytes: number; seconds: number };
  loadavgBefore: number;
  load_s: number;
  /** Whether llama.cpp mapped its GGUF (else read it into memory). */
  mmap: boolean;
  /** llama.cpp's first run after its load (the warm-up, not in the rounds), alone: its prefill and its decode tokens/s. */
  firstPrefill_s: number;
  firstDecode_tps: number;
  threads: number;
  rounds: number;
  /** Per round; `steps`: each decode step's seconds [ours, llama.cpp] (none in a lone round). */
  pairs: { ours: GenerationTimes; theirs: GenerationTimes; loadavg: number; steps: [number, number][] }[];
}

/**
 * The measuring half of compareWithLlamaCpp: the GGUF written or reused, llama.cpp loaded,
 * the rounds run. Prints progress only, so that a caller can print its own report first.
 * Without node-llama-cpp: why not, and nothing is run.
 */
export async function measureAgainstLlamaCpp(o: LlamaCompareOptions): Promise<LlamaMeasured | { missing: string }> {
  const { log } = o;
  const m = await (o.loader ?? loadNodeLlamaCpp)();
  if (!m.lib) return { missing: m.why };
  const file = o.folder ? ggufOfFolder(o.folder, o.config, o.type, log) : ggufOfRandom(o.config, o.type, log);
  let rounds = o.rounds ?? 1;
  if (rounds > 1 && !o.oursSteps) throw new Error("measureAgainstLlamaCpp: rounds > 1 needs `oursSteps`");
  if (rounds > 1) {
    const need = (o.oursBytes ?? 0) + fs.statSync(file).size;
    const total = o.totalMemory ?? os.totalmem();
    if (need > BOTH_MODELS_MEMORY_SHARE * total) {
      log(`--rounds ${rounds}: our model and llama.cpp's GGUF need ${(need / 1e9).toFixed(1)} GB together, more than ${100 * BOTH_MODELS_MEMORY_SHARE} % of this machine's ${(total / 1e9).toFixed(1)} GB: one round, with our model freed first`);
      rounds = 1;
    }
  }
  if (rounds === 1) await o.closeOurs?.(); // free our copy of the weights before llama.cpp loads its own
  // llama.cpp's load is timed from the page cache: the GGUF is read once first, as bench-phi2
  // reads a folder's shards (random weights too: without this read, llama.cpp's load of a GGUF
  // reused from an earlier run took anywhere from 1.0 to 8.9 s here)
  const warm = readThrough([file]);
  log(warmLine(file, warm));
  const loadavgBefore = loadAverage();
  log(`llama.cpp (node-llama-cpp ${m.version}), its GGUF ${o.llamaMmap ? "mapped" : "read into memory (useMmap: false)"} as our weights are: load average before its load ${loadavgBefore.toFixed(2)} (1 min) on ${os.availableParallelism()} cores`);
  const session = await openLlamaCpp(m.lib, file, o.threads, o.llamaMmap ?? false);
  const pairs: LlamaMeasured["pairs"] = [];
  let warmUp: GenerationTimes;
  const newTokens = o.newTokens + 1; // the prefill's token and o.newTokens decoded
  try {
    // warm-up, untimed in the rounds as ours is (bench-phi2.ts): mapped, llama.cpp's first run
    // touches the file's pages (a 2-layer run's first prefill took 3× the next one's here); read
    // into memory, its first prefill of phi-2 shapes still took 16 s (fp16) and 21 s (q8) against
    // 0.4–1.0 s later. That first prefill is reported on its own. The warm-up runs as many
    // tokens as a round, so that its decode steps give llama.cpp's speed alone, as our row
    // was measured alone: beside the rounds, it shows whether the machine slowed during them
    warmUp = await session.run(o.promptIds, newTokens);
    if (rounds > 1) {
      // and ours runs an untimed prefill here too, so that both sides start round 1 with their
      // weights just read: ours sat unread through llama.cpp's load and warm-up (half a minute
      // to over a minute for phi-2 shapes here), and without this pass our round-1 prefill was
      // the slowest of the six in each of five runs (1.2–3.3 s; the other rounds' slowest 0.8–1.5)
      await runSteps(await o.oursSteps!(), 1); // the prefill alone; its time is dropped
    }
    if (rounds === 1) {
      const loadavg = loadAverage();
      pairs.push({ ours: o.ours, theirs: await session.run(o.promptIds, newTokens), loadavg, steps: [] }); // ours: its row, measured alone before
    } else {
      for (let i = 0; i < rounds; i++) {
        const loadavg = loadAverage();
        log(`round ${i + 1} of ${rounds}: ours and llama.cpp, a pass each in turn (load average ${loadavg.toFixed(2)})…`);
        const ours = await o.oursSteps!();
        let theirs: Steps;
        try {
          theirs = await session.start(o.promptIds, newTokens);
        } catch (e) {
          await ours.close();
          throw e;
        }
        pairs.push({ ...(await pairedRound(ours, theirs, newTokens, i % 2 === 0)), loadavg });
      }
    }
  } finally {
    await session.close();
  }
  return { o, version: m.version, file, warm, loadavgBefore, load_s: session.load_s, mmap: session.mmap, firstPrefill_s: warmUp.prefill_s, firstDecode_tps: warmUp.decode_tokens_per_s, threads: session.threads, rounds, pairs };
}

/** The printing half of compareWithLlamaCpp: both rows, the rounds, the ratios and who won (or why llama.cpp did not run); returns the JSON fields. */
export function reportAgainstLlamaCpp(measured: LlamaMeasured | { missing: string }, log: (line: string) => void): Record<string, unknown> {
  if ("missing" in measured) {
    log(`\nllama.cpp: not run — ${measured.missing}. Our row above stands alone.`);
    return { llama_cpp: null, llama_cpp_missing: measured.missing };
  }
  const { o, pairs, rounds, file, warm, threads } = measured;
  const first = pairs[0].theirs;
  let same = 0;
  while (same < Math.min(first.ids.length, o.ours.ids.length) && first.ids[same] === o.ours.ids[same]) same++;
  const decode = spread(pairs.map((p) => p.ours.decode_tokens_per_s / p.theirs.decode_tokens_per_s));
  const prefill = spread(pairs.map((p) => p.theirs.prefill_s / p.ours.prefill_s));
  const median = (f: (p: (typeof pairs)[number]) => number) => spread(pairs.map(f)).median;
  const med = {
    ours: { prefill_s: median((p) => p.ours.prefill_s), tps: median((p) => p.ours.decode_tokens_per_s) },
    theirs: { prefill_s: median((p) => p.theirs.prefill_s), tps: median((p) => p.theirs.decode_tokens_per_s) },
  };
  const ratioLoad = measured.load_s / o.ours.load_s;
  const verdict = { decode: verdictOf(decode.samples), prefill: verdictOf(prefill.samples) };
  const stepRatios = pairs.flatMap((p) => p.steps.map(([oursS, theirsS]) => theirsS / oursS)); // ours ÷ llama.cpp as speeds
  const sortedRatios = [...stepRatios].sort((a, b) => a - b);
  const paired = stepRatios.length > 0 ? { ...pairedVerdict(stepRatios), q1: quantile(sortedRatios, 0.25), median: quantile(sortedRatios, 0.5), q3: quantile(sortedRatios, 0.75) } : undefined;
  const f = (v: number, d = 2) => v.toFixed(d);
  const row = (name: string, load: number, prefill: number, tps: number) => `  ${name.padEnd(30)} ${f(load, 2).padStart(8)} s ${f(prefill, 3).padStart(9)} s ${f(tps).padStart(10)}`;
  const range = (sp: Spread) => (rounds > 1 ? ` (median of ${rounds} rounds, ${f(sp.min)}–${f(sp.max)})` : "");
  log("");
  const weights = o.folder ? `${o.config.numLayers} layers, the same weights from ${o.folder} (both loads from files in the page cache)` : `phi-2 shapes (${o.config.numLayers} layers), the same random weights`;
  log(`side by side: ${weights}, ${o.promptIds.length}-token prompt, ${o.newTokens + 1} greedy tokens, ${o.threads} threads${rounds > 1 ? `, ${rounds} rounds, each interleaving the two generations pass by pass` : ""}`);
  log(`  ${"".padEnd(30)} ${"load".padStart(10)} ${"prefill".padStart(11)} ${"tokens/s".padStart(10)}${rounds > 1 ? "   (prefill and tokens/s: medians)" : ""}`);
  log(row("this course", o.ours.load_s, med.ours.prefill_s, med.ours.tps));
  log(row(`llama.cpp ${o.type} (${threads} thr., ${measured.mmap ? "mapped" : "read"})`, measured.load_s, med.theirs.prefill_s, med.theirs.tps));
  if (rounds > 1) {
    pairs.forEach((p, i) =>
      log(`  round ${i + 1}: ours ${f(p.ours.decode_tokens_per_s)} tokens/s, prefill ${f(p.ours.prefill_s, 3)} s · llama.cpp ${f(p.theirs.decode_tokens_per_s)} tokens/s, prefill ${f(p.theirs.prefill_s, 3)} s · load average ${f(p.loadavg)}`),
    );
  }
  log(
    `  llama.cpp's first run after its load (a warm-up, as ours has one; alone, as our row's run was): prefill ${f(measured.firstPrefill_s, 3)} s${measured.mmap ? " (its load maps the file; this first run touches the pages)" : ""}, then ${f(measured.firstDecode_tps)} tokens/s`,
  );
  log(`  ours ÷ llama.cpp, as speed: decode ${f(decode.median)}${range(decode)} · prefill ${f(prefill.median)}${range(prefill)} · load ${f(ratioLoad)}   (≥ 1: ours at least as fast)`);
  log(`  decode: ${verdict.decode}; prefill: ${verdict.prefill}`);
  if (paired) {
    log(`  decode steps side by side: ${stepRatios.length} pairs (one step of each, order alternating), ours ÷ llama.cpp as speed ${f(paired.median)} median, ${f(paired.q1)}–${f(paired.q3)} middle half`);
    log(`  decode, paired: ${paired.verdict}`);
  }
  log(`  same greedy ids: the first ${same} of ${first.ids.length} (different weights would disagree at once; fp16/int8 rounding may split later near-ties)`);
  return {
    llama_cpp: `node-llama-cpp ${measured.version}`,
    llama_cpp_gguf: file,
    llama_cpp_gguf_type: o.type,
    llama_cpp_gguf_read_bytes: warm.bytes,
    llama_cpp_gguf_read_s: warm.seconds,
    llama_cpp_threads: threads,
    llama_cpp_mmap: measured.mmap,
    llama_cpp_loadavg_1min_before: measured.loadavgBefore,
    llama_cpp_load_s: measured.load_s,
    llama_cpp_first_prefill_s: measured.firstPrefill_s,
    llama_cpp_first_decode_tokens_per_s: measured.firstDecode_tps,
    llama_cpp_prefill_s: med.theirs.prefill_s,
    llama_cpp_decode_tokens_per_s: med.theirs.tps,
    rounds,
    rounds_note:
      rounds > 1
        ? "prefill and tokens/s are medians over the rounds, ratios the median of each round's ratio; each round interleaves the two generations pass by pass; each side had one untimed warm-up run before (llama.cpp's, alone: llama_cpp_first_prefill_s, llama_cpp_first_decode_tokens_per_s), and ours an untimed prefill after llama.cpp's, right before round 1"
        : "one round: ours is the row measured first, alone; llama.cpp had one untimed warm-up run before (llama_cpp_first_prefill_s, llama_cpp_first_decode_tokens_per_s)",
    round_results: pairs.map((p) => ({
      ours_prefill_s: p.ours.prefill_s,
      ours_decode_tokens_per_s: p.ours.decode_tokens_per_s,
      llama_cpp_prefill_s: p.theirs.prefill_s,
      llama_cpp_decode_tokens_per_s: p.theirs.decode_tokens_per_s,
      loadavg_1min_before: p.loadavg,
    })),
    ours_prefill_s_median: med.ours.prefill_s,
    ours_decode_tokens_per_s_median: med.ours.tps,
    ratio_decode: decode.median,
    ratio_decode_min: decode.min,
    ratio_decode_max: decode.max,
    ratio_prefill: prefill.median,
    ratio_prefill_min: prefill.min,
    ratio_prefill_max: prefill.max,
    ratio_load: ratioLoad,
    ratio_note: "ours ÷ llama.cpp as speeds (tokens/s; 1/s for prefill and load): ≥ 1 means ours is at least as fast",
    decode_verdict: verdict.decode,
    ...(paired
      ? {
          paired_steps: stepRatios.length,
          paired_steps_ours_faster: paired.oursFaster,
          paired_ratio_median: paired.median,
          paired_ratio_q1: paired.q1,
          paired_ratio_q3: paired.q3,
          paired_sign_test_p: paired.p,
          decode_paired_verdict: paired.verdict,
        }
      : {}),
    prefill_verdict: verdict.prefill,
    same_greedy_ids: same,
  };
}
