// Which engine runs the TensorFlow.js models.
//
// 1. @tensorflow/tfjs-node (libtensorflow, native) when it can be required: an optional
//    accelerator, not installed by default (its install downloads libtensorflow).
// 2. @tensorflow/tfjs-backend-wasm (XNNPACK kernels compiled to WebAssembly, SIMD): the default.
// 3. The pure-JavaScript cpu backend, when nothing else loads.
//
// COURSE_BACKEND=tensorflow|wasm|cpu forces one; COURSE_WASM_THREADS=1 loads the
// multi-threaded wasm build (experimental, see enableNodeWasmThreads: it loads, but
// XNNPACK still reports 1 thread, so it is off by default); COURSE_WASM_MATMUL_PATCH=0
// turns off the transposed-matmul fix below (only to measure what it gives).
import * as tf from "@tensorflow/tfjs";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

export type BackendName = "tensorflow" | "wasm" | "cpu";

export interface BackendInfo {
  name: BackendName;
  /** One line for the notebook: "wasm (WebAssembly + SIMD, 1 thread)". */
  description: string;
  simd: boolean;
  threads: number;
  /** Backends that were tried first and did not load, with the reason. */
  skipped: string[];
}

export interface BackendOptions {
  /** Force one backend (default: env COURSE_BACKEND, else the first that loads). */
  prefer?: BackendName;
  /** Multi-threaded wasm (default: env COURSE_WASM_THREADS === "1"). */
  wasmThreads?: boolean;
}

let pending: Promise<BackendInfo> | undefined;
let current: BackendInfo | undefined;

/** The backend chosen by initBackend, once it has finished; undefined before. */
export const backendInfo = (): BackendInfo | undefined => current;
export const backendReady = (): boolean => current !== undefined;

/**
 * Pick and initialise the backend once per process; later calls return the same
 * answer (whatever options they pass), so every cell and helper can call it.
 */
export function initBackend(opts: BackendOptions = {}): Promise<BackendInfo> {
  pending ??= choose(opts).then((info) => (current = info));
  return pending;
}

async function choose(opts: BackendOptions): Promise<BackendInfo> {
  const forced = opts.prefer ?? (process.env.COURSE_BACKEND as BackendName | undefined);
  if (forced !== undefined && !["tensorflow", "wasm", "cpu"].includes(forced))
    throw new Error(`COURSE_BACKEND must be tensorflow, wasm or cpu, got "${forced}"`);
  const order: BackendName[] = forced ? [forced] : ["tensorflow", "wasm", "cpu"];
  const skipped: string[] = [];
  for (const name of order) {
    try {
      if (name === "tensorflow") return await useTfjsNode(skipped);
      if (name === "wasm") return await useWasm(opts.wasmThreads ?? process.env.COURSE_WASM_THREADS === "1", skipped);
      return await useCpu(skipped);
    } catch (e) {
      skipped.push(`${name}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
    }
  }
  throw new Error(`no TensorFlow.js backend could be initialised: ${skipped.join("; ")}`);
}

async function useTfjsNode(skipped: string[]): Promise<BackendInfo> {
  // Registers the "tensorflow" backend with the tfjs-core instance it shares with us.
  require("@tensorflow/tfjs-node");
  if (!(await tf.setBackend("tensorflow"))) throw new Error("setBackend('tensorflow') failed");
  await tf.ready();
  return { name: "tensorflow", description: "tensorflow (tfjs-node, native libtensorflow)", simd: true, threads: 0, skipped };
}

async function useWasm(threads: boolean, skipped: string[]): Promise<BackendInfo> {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const wasm = require("@tensorflow/tfjs-backend-wasm") as typeof import("@tensorflow/tfjs-backend-wasm");
  // The .wasm binaries sit next to the package's main file; in Node there is no page URL to resolve them from.
  wasm.setWasmPaths(dirname(require.resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm")) + "/");
  if (threads) {
    enableNodeWasmThreads();
    wasm.setThreadsCount(Math.max(1, require("node:os").cpus().length));
  }
  if (!(await tf.setBackend("wasm"))) throw new Error("setBackend('wasm') failed");
  await tf.ready();
  if (process.env.COURSE_WASM_MATMUL_PATCH !== "0") patchTransposedMatMul("wasm"); // "0": measure without it
  const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
  const mt = Boolean(await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT"));
  const n = mt ? wasm.getThreadsCount() : 1;
  return {
    name: "wasm",
    description: `wasm (WebAssembly${simd ? " + SIMD" : ""}, ${n} thread${n === 1 ? "" : "s"})`,
    simd: Boolean(simd),
    threads: n,
    skipped,
  };
}

async function useCpu(skipped: string[]): Promise<BackendInfo> {
  if (!(await tf.setBackend("cpu"))) throw new Error("setBackend('cpu') failed");
  await tf.ready();
  return { name: "cpu", description: "cpu (pure JavaScript)", simd: false, threads: 1, skipped };
}

/**
 * The wasm backend multiplies A·B fast, but Aᵀ·B and A·Bᵀ (the products every
 * backward pass of a dense layer makes) about 10× slower: measured here, 56×1461 by
 * 1461×100 takes 22 ms with transposeA and 2 ms after an explicit transpose. So we
 * re-register its BatchMatMul kernel to transpose first, then multiply plainly: the
 * same numbers (a test checks them against plain JS), and (npm run bench -- train) the
 * 56 → 100 → 1 MLP trains at 153 instead of 41 full-batch epochs/s, 4 layers at 23.5
 * instead of 4.9.
 */
export function patchTransposedMatMul(backendName: string): void {
  const original = tf.getKernel("BatchMatMul", backendName);
  const transpose = tf.getKernel("Transpose", backendName);
  if (!original || !transpose || (original as { patched?: boolean }).patched) return;
  type Info = tf.TensorInfo;
  const kernelFunc: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    if (!transposeA && !transposeB) return original.kernelFunc({ inputs, backend, attrs });
    const temporaries: Info[] = [];
    const swapLast = (x: Info): Info => {
      const r = x.shape.length;
      const perm = Array.from({ length: r }, (_, i) => i);
      [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
      const y = transpose.kernelFunc({ inputs: { x }, backend, attrs: { perm } }) as Info;
      temporaries.push(y);
      return y;
    };
    const a = transposeA ? swapLast(inputs.a as Info) : (inputs.a as Info);
    const b = transposeB ? swapLast(inputs.b as Info) : (inputs.b as Info);
    const out = original.kernelFunc({ inputs: { a, b }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
    for (const t of temporaries) (backend as tf.KernelBackend).disposeData(t.dataId);
    return out;
  };
  tf.unregisterKernel("BatchMatMul", backendName);
  tf.registerKernel({ kernelName: "BatchMatMul", backendName, kernelFunc, setupFunc: original.setupFunc, disposeFunc: original.disposeFunc });
  (tf.getKernel("BatchMatMul", backendName) as { patched?: boolean }).patched = true;
}

/**
 * tfjs-backend-wasm disables its threaded build in Node (tfjs issue #3830): emscripten
 * would start its pthread workers from blob: URLs, which Node's worker_threads cannot
 * load. This writes those blobs to temporary files instead, so the threaded + SIMD
 * binary loads and starts its worker pool in Node. Experimental and not yet useful:
 * XNNPACK's thread pool is created before the workers have loaded and reports 1
 * thread (initBackend prints the real count), so training is no faster. Call it
 * before the backend initialises.
 */
export function enableNodeWasmThreads(): void {
  const g = globalThis as unknown as { Blob: typeof Blob; __courseThreads?: boolean };
  if (g.__courseThreads) return;
  g.__courseThreads = true;
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", true);
  const dir = mkdtempSync(join(tmpdir(), "course-wasm-"));
  const NativeBlob = g.Blob;
  const texts = new WeakMap<Blob, string>();
  let mainScript = "";
  let count = 0;
  // Remember each Blob's text (Node's Blob can only be read asynchronously).
  g.Blob = class extends NativeBlob {
    constructor(parts: ConstructorParameters<typeof Blob>[0] = [], options?: ConstructorParameters<typeof Blob>[1]) {
      super(parts, options);
      const text = parts.map(String).join("");
      texts.set(this, text);
      if (text.startsWith("var WasmBackendModuleThreadedSimd")) {
        // The worker evaluates the backend's factory on its own: give it the bundle's
        // module-level names the factory's source refers to.
        mainScript = join(dir, "backend-main.js");
        const prelude =
          'var require$$0 = require("fs"), require$$1 = require("path"), require$$3 = require("perf_hooks"), require$$4 = require("os"), commonjsGlobal = globalThis;\n';
        writeFileSync(mainScript, prelude + text);
      }
    }
  };
  const nativeCreate = URL.createObjectURL.bind(URL);
  URL.createObjectURL = (obj: Blob): string => {
    let text = texts.get(obj);
    if (text === undefined) return nativeCreate(obj);
    // The pthread worker script: inside it, "the main script's blob URL" is our file.
    if (text.includes("nodeWorkerThreads"))
      text = `URL.createObjectURL = function () { return ${JSON.stringify(mainScript)}; }; URL.revokeObjectURL = function () {};\n` + text;
    const file = join(dir, `blob-${count++}.js`);
    writeFileSync(file, text);
    return file;
  };
}

export { tf };
