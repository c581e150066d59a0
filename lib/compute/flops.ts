// FLOPs of training and of generating, per token.
//
// Kaplan et al. 2020 ("Scaling Laws for Neural Language Models", arXiv:2001.08361, §2.1,
// Table 1): a forward pass costs 2 FLOPs per parameter per token (one multiply, one add
// for every weight) plus 2·n_layer·n_ctx·d_attn for attention's QKᵀ and A·V. The
// backward pass costs about twice the forward (a gradient for the activations and one
// for the weights), so training costs 3 × forward ≈ 6·N per token: C ≈ 6·N·D.
import { requireInteger, requirePositive } from "./errors";
import { countParameters, type TransformerConfig } from "./params";

/** The attention-score term of Kaplan's Table 1: depends on context length, not on N. */
export interface AttentionShape {
  nLayers: number;
  /** Tokens attended to (the training context, or the current length while generating). */
  nCtx: number;
  /** Width of the attention (n_heads · d_head; = d_model in these models). */
  dAttn: number;
}

/** The attention shape of a config at a context length (default: its training context). */
export function attentionShape(cfg: TransformerConfig, nCtx = cfg.nCtx): AttentionShape {
  return { nLayers: cfg.nLayers, nCtx, dAttn: cfg.hidden };
}

/** 2·n_layer·n_ctx·d_attn: forward FLOPs per token spent on attention scores. */
export function attentionFlopsPerToken(a: AttentionShape): number {
  requireInteger(a.nLayers, "nLayers");
  requirePositive(a.nCtx, "nCtx");
  requirePositive(a.dAttn, "dAttn");
  return 2 * a.nLayers * a.nCtx * a.dAttn;
}

/** Forward FLOPs per token: 2N (+ attention when its shape is given). */
export function forwardFlopsPerToken(params: number, attention?: AttentionShape): number {
  requirePositive(params, "parameters");
  return 2 * params + (attention ? attentionFlopsPerToken(attention) : 0);
}

/**
 * Training FLOPs: 3 × forward per token × tokens = 6·N·D (+ 6·n_layer·n_ctx·d_attn·D).
 * GPT-3: 6 × 175e9 × 300e9 = 3.15e23 (the paper's Table D.1 says 3.14e23 with N = 174.6B).
 */
export function trainingFlops(params: number, tokens: number, attention?: AttentionShape): number {
  requirePositive(tokens, "tokens");
  return 3 * forwardFlopsPerToken(params, attention) * tokens;
}

/**
 * FLOPs to generate one token: 2N + 2·n_layer·n_ctx·d_attn, where n_ctx is how many
 * tokens are already in context. No backward pass, so a third of a training token.
 */
export function inferenceFlopsPerToken(params: number, attention?: AttentionShape): number {
  return forwardFlopsPerToken(params, attention);
}

/**
 * The same, from a config, at a context length: the blocks' weights (Kaplan's N) + the
 * lm_head matmul (2·d·vocab) + attention. Looking up the token embedding costs no FLOPs.
 */
export function inferenceFlopsPerTokenOf(cfg: TransformerConfig, nCtx = cfg.nCtx): number {
  return inferenceFlopsPerToken(countParameters(cfg).nonEmbedding, attentionShape(cfg, nCtx)) + 2 * cfg.hidden * cfg.vocab;
}

/** 1 PF-day = 1e15 FLOP/s for a day = 8.64e19 FLOPs (the GPT-3 paper's unit). */
export const PF_DAY = 1e15 * 86400;
