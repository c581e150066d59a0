// The compute budget of a phi run, from the safetensors headers alone (no weights
// loaded) and lib/compute's formulas: parameters per tensor group, FLOPs and bytes
// per generated token, and the time the bandwidth bound predicts.

import { bandwidthBoundTokensPerSecond } from "../compute/inference";
import type { TransformerConfig } from "../compute/params";
import type { PhiConfig } from "./config";
import { numel, type SafetensorsModel } from "./safetensors";

export interface ParamGroup {
  group: string;
  tensors: number;
  params: number;
}

const GROUPS: [string, RegExp][] = [
  ["token embedding", /^model\.embed_tokens\./],
  ["attention: q, k, v, dense (+ biases)", /\.self_attn\./],
  ["MLP: fc1, fc2 (+ biases)", /\.mlp\./],
  ["LayerNorms in the layers", /\.input_layernorm\./],
  ["final LayerNorm", /^model\.final_layernorm\./],
  ["lm_head (+ bias)", /^lm_head\./],
];

/** Parameters per tensor group, counted from the shapes in the headers. Unknown names go to "other". */
export function paramsByGroup(st: SafetensorsModel): ParamGroup[] {
  const out = GROUPS.map(([group]) => ({ group, tensors: 0, params: 0 }));
  const other = { group: "other", tensors: 0, params: 0 };
  for (const t of st.tensors.values()) {
    const i = GROUPS.findIndex(([, re]) => re.test(t.name));
    const g = i >= 0 ? out[i] : other;
    g.tensors++;
    g.params += numel(t.shape);
  }
  return other.tensors ? [...out, other] : out;
}

/** The config in lib/compute's terms (phi: parallel block, one LayerNorm, biases, untied lm_head with bias). */
export function computeConfigOf(c: PhiConfig): TransformerConfig {
  return {
    nLayers: c.numLayers,
    hidden: c.hidden,
    intermediate: c.intermediate,
    vocab: c.vocabSize,
    nHeads: c.numHeads,
    nKvHeads: c.numKvHeads,
    mlp: "gelu",
    bias: true,
    norm: "layernorm",
    normsPerLayer: 1,
    finalNorm: true,
    tiedEmbeddings: false,
    lmHeadBias: true,
    learnedPositions: 0,
    nCtx: c.maxPositions,
  };
}

export interface Prediction {
  maxLength: number;
  newTokens: number;
  /** Bandwidth bound on decoding speed. */
  tokensPerSecond: number;
  /** newTokens ÷ tokensPerSecond: the prompt's pass reads the weights once too, and yields the first new token. */
  seconds: number;
}

/**
 * Time to generate up to `maxLength` tokens (prompt included) if every new token
 * costs one read of `bytesPerToken` bytes at `bandwidthGBs` — and nothing else.
 */
export function predictGeneration(promptTokens: number, maxLength: number, bytesPerToken: number, bandwidthGBs: number): Prediction {
  const newTokens = Math.max(0, maxLength - promptTokens);
  const tokensPerSecond = bandwidthBoundTokensPerSecond(bytesPerToken, bandwidthGBs);
  return { maxLength, newTokens, tokensPerSecond, seconds: newTokens / tokensPerSecond };
}
