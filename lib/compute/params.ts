// Parameters of a decoder-only transformer, counted from its config.
//
// A linear layer from a to b has a·b weights plus b biases; a transformer block is
// attention (q, k, v, output projections) + an MLP + normalisation. Counting them from
// the config replaces "parameters = neurons × layers", which forgets that each weight
// connects two neurons.
import { BudgetInputError, requireInteger } from "./errors";

export interface TransformerConfig {
  nLayers: number;
  /** d_model: width of the residual stream. */
  hidden: number;
  /** Inner width of the MLP (d_ff). */
  intermediate: number;
  vocab: number;
  nHeads: number;
  /** Key/value heads; fewer than nHeads for grouped-query attention (Llama 2 70B: 8 of 64). Default nHeads. */
  nKvHeads?: number;
  /** "gelu": up + down matrices (GPT, phi-2); "gated": gate + up + down (SwiGLU, Llama). */
  mlp: "gelu" | "gated";
  /** Biases on every linear layer inside the blocks. */
  bias: boolean;
  /** LayerNorm has a weight and a bias per channel; RMSNorm only a weight. */
  norm: "layernorm" | "rmsnorm";
  /** 1 when attention and MLP run in parallel off one norm (phi-2), 2 otherwise. */
  normsPerLayer: 1 | 2;
  finalNorm: boolean;
  /** lm_head shares the token-embedding matrix (GPT-3) or has its own (phi-2, Llama). */
  tiedEmbeddings: boolean;
  lmHeadBias: boolean;
  /** Context length when positions are a learned table (GPT-3); 0 for rotary embeddings. */
  learnedPositions: number;
  /** Context length the model was trained with (for the attention FLOPs and KV-cache sizes). */
  nCtx: number;
}

export interface ParameterCount {
  tokenEmbedding: number;
  positionEmbedding: number;
  /** Per layer. */
  attention: number;
  mlp: number;
  norms: number;
  perLayer: number;
  finalNorm: number;
  /** 0 when tied to the token embedding. */
  lmHead: number;
  total: number;
  /** Kaplan et al. 2020's N: everything except vocabulary and position embeddings. */
  nonEmbedding: number;
}

/** Weights (+ biases) of a linear layer from `inputs` to `outputs`. */
export function linearParams(inputs: number, outputs: number, bias: boolean): number {
  return inputs * outputs + (bias ? outputs : 0);
}

/** Width of one attention head. */
export function headDim(cfg: TransformerConfig): number {
  if (cfg.hidden % cfg.nHeads !== 0) {
    throw new BudgetInputError(`hidden (${cfg.hidden}) must be divisible by nHeads (${cfg.nHeads})`);
  }
  return cfg.hidden / cfg.nHeads;
}

export function validateConfig(cfg: TransformerConfig): void {
  requireInteger(cfg.nLayers, "nLayers");
  requireInteger(cfg.hidden, "hidden");
  requireInteger(cfg.intermediate, "intermediate");
  requireInteger(cfg.vocab, "vocab");
  requireInteger(cfg.nHeads, "nHeads");
  requireInteger(cfg.nKvHeads ?? cfg.nHeads, "nKvHeads");
  requireInteger(cfg.learnedPositions, "learnedPositions", 0);
  requireInteger(cfg.nCtx, "nCtx");
  if (cfg.nHeads % (cfg.nKvHeads ?? cfg.nHeads) !== 0) {
    throw new BudgetInputError(`nHeads (${cfg.nHeads}) must be a multiple of nKvHeads (${String(cfg.nKvHeads)})`);
  }
  headDim(cfg);
}

export function countParameters(cfg: TransformerConfig): ParameterCount {
  validateConfig(cfg);
  const d = cfg.hidden;
  const dKv = (cfg.nKvHeads ?? cfg.nHeads) * headDim(cfg); // k and v project to this width
  const attention =
    linearParams(d, d, cfg.bias) + // q
    2 * linearParams(d, dKv, cfg.bias) + // k, v
    linearParams(d, d, cfg.bias); // output projection
  const up = linearParams(d, cfg.intermediate, cfg.bias);
  const down = linearParams(cfg.intermediate, d, cfg.bias);
  const mlp = (cfg.mlp === "gated" ? 2 * up : up) + down;
  const normParams = cfg.norm === "layernorm" ? 2 * d : d;
  const norms = cfg.normsPerLayer * normParams;
  const perLayer = attention + mlp + norms;
  const tokenEmbedding = cfg.vocab * d;
  const positionEmbedding = cfg.learnedPositions * d;
  const finalNorm = cfg.finalNorm ? normParams : 0;
  const lmHead = cfg.tiedEmbeddings ? 0 : linearParams(d, cfg.vocab, cfg.lmHeadBias);
  const total = tokenEmbedding + positionEmbedding + cfg.nLayers * perLayer + finalNorm + lmHead;
  return {
    tokenEmbedding,
    positionEmbedding,
    attention,
    mlp,
    norms,
    perLayer,
    finalNorm,
    lmHead,
    total,
    nonEmbedding: total - tokenEmbedding - positionEmbedding - lmHead,
  };
}

/** Total parameters of a config. */
export function parameterCount(cfg: TransformerConfig): number {
  return countParameters(cfg).total;
}
