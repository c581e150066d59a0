// How many FLOPs a CPU core can do, on paper and as measured through a matmul backend.
//
// A core's arithmetic peak is SIMD lanes × FMA units × 2 FLOPs (a fused multiply-add is a
// multiply and an add) × clock. An x86 core with AVX2 has 8 fp32 lanes and two FMA units:
// 8 × 2 × 2 × 3 GHz = 96 GFLOP/s — tens of billions, not "a few billion" multiply-adds.
import * as fs from "node:fs";
import * as os from "node:os";
import { requireInteger, requirePositive } from "./errors";

export interface SimdCore {
  /** fp32 values per vector register: 4 (SSE, NEON, WebAssembly SIMD), 8 (AVX2), 16 (AVX-512). */
  lanes: number;
  /** Vector multiply-add instructions the core can start per cycle (2 on most x86 cores since 2013). */
  fmaUnits: number;
  clockGHz: number;
}

/** Peak fp32 GFLOP/s of one core: lanes × FMA units × 2 × clock (GHz). */
export function corePeakGflops(c: SimdCore): number {
  requireInteger(c.lanes, "SIMD lanes");
  requireInteger(c.fmaUnits, "FMA units");
  return c.lanes * c.fmaUnits * 2 * requirePositive(c.clockGHz, "clock (GHz)");
}

/**
 * This machine's clock in GHz as the OS reports it: os.cpus(), else (Linux, where some
 * virtual machines report 0 there) the first "cpu MHz" line of /proc/cpuinfo; null if neither.
 */
export function cpuClockGHz(): number | null {
  const mhz = os.cpus()[0]?.speed ?? 0;
  if (mhz > 0) return mhz / 1000;
  const m = /^cpu MHz\s*:\s*([\d.]+)/m.exec(readCpuinfo() ?? "");
  if (m && Number(m[1]) > 0) return Number(m[1]) / 1000;
  return null;
}

/** Linux's /proc/cpuinfo, or undefined where there is none. */
export function readCpuinfo(): string | undefined {
  try {
    return fs.readFileSync("/proc/cpuinfo", "utf8");
  } catch {
    return undefined; // not Linux
  }
}

/** The CPU's feature flags as /proc/cpuinfo lists them (its first "flags" line: x86), or undefined if it lists none. */
export function cpuFlags(cpuinfo: string | undefined = readCpuinfo()): Set<string> | undefined {
  const m = /^flags\s*:(.*)$/m.exec(cpuinfo ?? "");
  return m ? new Set(m[1].trim().split(/\s+/)) : undefined;
}

/** The part of a matmul backend (lib/phi2's MatmulBackend) a throughput measurement needs. */
export interface MatmulLike {
  addWeight(spec: { name: string; dtype: "F16" | "BF16" | "F32"; rows: number; cols: number; source: { kind: "random"; seed: number; scale: number } }): Promise<number>;
  matmul(handle: number, x: Float32Array, T: number): Promise<Float32Array>;
}

export interface MatmulThroughput {
  rows: number;
  cols: number;
  /** Tokens per call: with many, each weight read serves T multiply-adds, so arithmetic, not memory, is the limit. */
  T: number;
  seconds: number;
  gflops: number;
}

/**
 * FLOP/s of `backend` on a [rows, cols] fp16 weight times T tokens: 2·rows·cols·T FLOPs a
 * call, best of `repeats` timed calls after one warm-up. Adds one weight to the backend.
 */
export async function measureMatmulGflops(backend: MatmulLike, opts: { rows?: number; cols?: number; T?: number; repeats?: number } = {}): Promise<MatmulThroughput> {
  const rows = requireInteger(opts.rows ?? 1024, "rows");
  const cols = requireInteger(opts.cols ?? 1024, "cols");
  const T = requireInteger(opts.T ?? 32, "T");
  const repeats = requireInteger(opts.repeats ?? 5, "repeats");
  const h = await backend.addWeight({ name: "throughput-probe", dtype: "F16", rows, cols, source: { kind: "random", seed: 7, scale: 0.02 } });
  const x = new Float32Array(T * cols).map((_, i) => Math.sin(i)); // [T, cols]
  await backend.matmul(h, x, T);
  let best = Infinity;
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await backend.matmul(h, x, T);
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return { rows, cols, T, seconds: best, gflops: (2 * rows * cols * T) / best / 1e9 };
}
