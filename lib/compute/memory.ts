// Bytes: weights in a number format, the training state, the KV cache — and how many
// GPUs it takes just to hold them.
import { BudgetInputError, requireInteger, requirePositive } from "./errors";
import { headDim, type TransformerConfig } from "./params";

/** Storage formats. tf32 is a compute mode: its values are stored as 4-byte fp32. */
export type Dtype = "fp64" | "fp32" | "tf32" | "bf16" | "fp16" | "fp8" | "int8" | "int4";

const BYTES: Record<Dtype, number> = { fp64: 8, fp32: 4, tf32: 4, bf16: 2, fp16: 2, fp8: 1, int8: 1, int4: 0.5 };

export function bytesPerValue(dtype: string): number {
  const b = (BYTES as Record<string, number | undefined>)[dtype.toLowerCase()];
  if (b === undefined) {
    throw new BudgetInputError(`unknown number format "${dtype}"; known: ${Object.keys(BYTES).join(", ")}`);
  }
  return b;
}

/** Bytes of the weights alone: params × bytes per value (GPT-3 in bf16: 350 GB). */
export function weightBytes(params: number, dtype: string): number {
  return requirePositive(params, "parameters") * bytesPerValue(dtype);
}

/**
 * Mixed-precision Adam keeps, per parameter: bf16/fp16 weights (2) + gradients (2) +
 * an fp32 master copy (4) + Adam's two moments (4 + 4) = 16 bytes (ZeRO, Rajbhandari et
 * al. 2019, arXiv:1910.02054 §3.1); implementations with fp32 gradients or extra buffers
 * reach 18–20 (Hugging Face Transformers docs, "Model training anatomy"). Activations
 * come on top and depend on batch, context and checkpointing.
 */
export const TRAINING_BYTES_PER_PARAM = {
  low: 16,
  high: 20,
  source: "16: ZeRO (arXiv:1910.02054) §3.1; 18–20: Hugging Face Transformers docs, model training anatomy",
} as const;

export interface ByteRange {
  low: number;
  high: number;
}

/** Training state (weights, gradients, optimizer), without activations: 16–20 bytes per parameter. */
export function trainingStateBytes(params: number): ByteRange {
  requirePositive(params, "parameters");
  return { low: TRAINING_BYTES_PER_PARAM.low * params, high: TRAINING_BYTES_PER_PARAM.high * params };
}

export interface KvShape {
  nLayers: number;
  nKvHeads: number;
  headDim: number;
}

/**
 * KV-cache bytes per token of context: 2 (K and V) · n_layers · n_kv_heads · d_head ·
 * bytes per value (Kipply, "Transformer Inference Arithmetic", 2022).
 */
export function kvCacheBytesPerToken(shape: KvShape, dtype: string): number {
  requireInteger(shape.nLayers, "nLayers");
  requireInteger(shape.nKvHeads, "nKvHeads");
  requireInteger(shape.headDim, "headDim");
  return 2 * shape.nLayers * shape.nKvHeads * shape.headDim * bytesPerValue(dtype);
}

/** Whole GPUs of `memoryGB` needed to hold `bytes` (memory only: no room left for anything else). */
export function gpusToHold(bytes: number, memoryGB: number): number {
  requirePositive(bytes, "bytes");
  requirePositive(memoryGB, "GPU memory (GB)");
  return Math.ceil(bytes / (memoryGB * 1e9));
}

/** The KV-cache shape of a config (d_head = hidden / n_heads). */
export function kvShape(cfg: TransformerConfig): KvShape {
  return { nLayers: cfg.nLayers, nKvHeads: cfg.nKvHeads ?? cfg.nHeads, headDim: headDim(cfg) };
}
