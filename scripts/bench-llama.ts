// llama.cpp (through node-llama-cpp, an optional dependency) on a GGUF file: load,
// prefill of the given prompt ids, then greedy decode steps — timed the way
// bench-phi2.ts times our engine, so the two rows can be put side by side:
//   load_s      loadModel (the file is mmap'ed: fast when it is in the page cache)
//   prefill_s   from handing over the prompt to the first new token
//   decode      (new tokens − 1) / the time after the first token
//
// node-llama-cpp is ESM and optional: it is imported by name at run time, so this
// file compiles and the bench runs (printing our row alone) when it is absent.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

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
