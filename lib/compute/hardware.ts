// Accelerator peaks, memory and bandwidth, each row with the datasheet it comes from.
//
// TFLOPS are DENSE unless a field says `sparse`: NVIDIA's headline tensor-core figures
// assume 2:4 structured sparsity (half the weights zero), which LLM training never
// uses, so every calculation here takes `dense`. NVIDIA publishes no 63-TFLOPS figure
// for the H100; the closest is FP32 on the SXM part (67).
import { BudgetInputError } from "./errors";

/** Number formats a GPU computes in. bf16 and fp16 have the same tensor-core peak on these parts. */
export type Precision = "fp64" | "fp32" | "tf32" | "bf16" | "fp16" | "fp8";
export const PRECISIONS: readonly Precision[] = ["fp64", "fp32", "tf32", "bf16", "fp16", "fp8"];

export interface Peak {
  /** Dense peak, TFLOPS (1e12 FLOP/s). */
  dense: number;
  /** The 2:4-sparsity figure the datasheet also prints (never reached by dense training). */
  sparse?: number;
  /** True for tensor-core (matrix unit) figures; false for the plain vector ALUs. */
  tensorCore: boolean;
}

export interface Accelerator {
  id: string;
  name: string;
  kind: "gpu" | "tpu";
  peaks: Partial<Record<Precision, Peak>>;
  /** Memory, decimal GB (1e9 bytes) as the datasheet prints it. */
  memoryGB: number;
  /** Memory bandwidth, GB/s (1e9 bytes per second). */
  bandwidthGBs: number;
  source: string;
}

const tc = (dense: number, sparse?: number): Peak => (sparse === undefined ? { dense, tensorCore: true } : { dense, sparse, tensorCore: true });
const alu = (dense: number): Peak => ({ dense, tensorCore: false });

export const ACCELERATORS: readonly Accelerator[] = [
  {
    id: "a100-sxm",
    name: "NVIDIA A100 SXM 80GB",
    kind: "gpu",
    peaks: { fp64: alu(9.7), fp32: alu(19.5), tf32: tc(156, 312), bf16: tc(312, 624), fp16: tc(312, 624) },
    memoryGB: 80,
    bandwidthGBs: 2039,
    source: "NVIDIA A100 Tensor Core GPU datasheet (A100 80GB SXM column)",
  },
  {
    id: "h100-sxm",
    name: "NVIDIA H100 SXM",
    kind: "gpu",
    peaks: { fp64: alu(34), fp32: alu(67), tf32: tc(494.7, 989), bf16: tc(989, 1979), fp16: tc(989, 1979), fp8: tc(1979, 3958) },
    memoryGB: 80,
    bandwidthGBs: 3350,
    source: "NVIDIA H100 Tensor Core GPU datasheet (H100 SXM column)",
  },
  {
    id: "h100-pcie",
    name: "NVIDIA H100 PCIe",
    kind: "gpu",
    peaks: { fp64: alu(26), fp32: alu(51), tf32: tc(378, 756), bf16: tc(756, 1513), fp16: tc(756, 1513), fp8: tc(1513, 3026) },
    memoryGB: 80,
    bandwidthGBs: 2000,
    source: "NVIDIA H100 Tensor Core GPU datasheet (H100 PCIe column)",
  },
  {
    id: "h200-sxm",
    name: "NVIDIA H200 SXM",
    kind: "gpu",
    // Same compute as the H100 SXM; more and faster memory. The datasheet prints only the
    // sparse tensor-core figures; the dense ones are half of them.
    peaks: { fp64: alu(34), fp32: alu(67), tf32: tc(494.7, 989), bf16: tc(989, 1979), fp16: tc(989, 1979), fp8: tc(1979, 3958) },
    memoryGB: 141,
    bandwidthGBs: 4800,
    source: "NVIDIA H200 Tensor Core GPU datasheet (H200 SXM column; dense = sparse ÷ 2)",
  },
  {
    id: "v100-sxm",
    name: "NVIDIA V100 SXM2 32GB",
    kind: "gpu",
    // Volta tensor cores do fp16 only (no bf16, tf32 or fp8). GPT-3 was trained on V100s.
    peaks: { fp64: alu(7.8), fp32: alu(15.7), fp16: tc(125) },
    memoryGB: 32,
    bandwidthGBs: 900,
    source: "NVIDIA Tesla V100 datasheet (SXM2 column); 125 TF is also the peak Patterson et al. 2021 (arXiv:2104.10350) use",
  },
  {
    id: "tpu-v4",
    name: "Google TPU v4 (one chip)",
    kind: "tpu",
    peaks: { bf16: tc(275) },
    memoryGB: 34.4, // 32 GiB
    bandwidthGBs: 1200,
    source: "Google Cloud TPU v4 documentation (275 bf16 TFLOPS, 32 GiB HBM, 1,200 GB/s per chip); PaLM (arXiv:2204.02311) App. B uses 275 TFLOPS",
  },
];

export function acceleratorIds(): string[] {
  return ACCELERATORS.map((a) => a.id);
}

/** The accelerator with this id; a BudgetInputError listing the known ids otherwise. */
export function accelerator(id: string): Accelerator {
  const a = ACCELERATORS.find((x) => x.id === id.toLowerCase());
  if (!a) {
    const close = acceleratorIds().filter((k) => id.length > 0 && k.startsWith(id.toLowerCase()));
    const hint = close.length > 0 ? ` (did you mean ${close.join(" or ")}?)` : "";
    throw new BudgetInputError(`unknown GPU "${id}"; known GPUs: ${acceleratorIds().join(", ")}${hint}`);
  }
  return a;
}

/** Precisions this accelerator has a peak for, in table order. */
export function precisionsOf(a: Accelerator): Precision[] {
  return PRECISIONS.filter((p) => a.peaks[p] !== undefined);
}

/** Dense peak TFLOPS of `gpuId` at `precision`; a BudgetInputError naming the precisions it has otherwise. */
export function peakTflops(gpuId: string, precision: string): number {
  const a = accelerator(gpuId);
  const peak = (a.peaks as Record<string, Peak | undefined>)[precision.toLowerCase()];
  if (!peak) {
    throw new BudgetInputError(
      `${a.name} has no "${precision}" peak in the table; it has: ${precisionsOf(a).join(", ")}`,
    );
  }
  return peak.dense;
}
