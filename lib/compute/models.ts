// Published architectures, each with the config file or paper table it comes from.
import type { TransformerConfig } from "./params";

export interface ModelSpec {
  id: string;
  name: string;
  config: TransformerConfig;
  source: string;
}

export const PHI2_CONFIG: TransformerConfig = {
  nLayers: 32,
  hidden: 2560,
  intermediate: 10240,
  vocab: 51200,
  nHeads: 32,
  mlp: "gelu",
  bias: true,
  norm: "layernorm",
  normsPerLayer: 1, // parallel attention + MLP off one LayerNorm
  finalNorm: true,
  tiedEmbeddings: false,
  lmHeadBias: true,
  learnedPositions: 0, // rotary
  nCtx: 2048,
};

export const GPT3_175B_CONFIG: TransformerConfig = {
  nLayers: 96,
  hidden: 12288,
  intermediate: 4 * 12288,
  vocab: 50257,
  nHeads: 96,
  mlp: "gelu",
  bias: true,
  norm: "layernorm",
  normsPerLayer: 2,
  finalNorm: true,
  tiedEmbeddings: true,
  lmHeadBias: false,
  learnedPositions: 2048,
  nCtx: 2048,
};

const llama = (nLayers: number, hidden: number, intermediate: number, vocab: number, nHeads: number, nKvHeads: number, nCtx: number): TransformerConfig => ({
  nLayers,
  hidden,
  intermediate,
  vocab,
  nHeads,
  nKvHeads,
  mlp: "gated",
  bias: false,
  norm: "rmsnorm",
  normsPerLayer: 2,
  finalNorm: true,
  tiedEmbeddings: false,
  lmHeadBias: false,
  learnedPositions: 0,
  nCtx,
});

export const MODELS: readonly ModelSpec[] = [
  {
    id: "gpt3-175b",
    name: "GPT-3 175B",
    config: GPT3_175B_CONFIG,
    source: "Brown et al. 2020 (arXiv:2005.14165) Table 2.1: 96 layers, d_model 12288, 96 heads, n_ctx 2048, d_ff = 4·d_model; GPT-2 BPE vocab 50257",
  },
  {
    id: "llama-65b",
    name: "LLaMA-65B",
    config: llama(80, 8192, 22016, 32000, 64, 64, 2048),
    source: "Touvron et al. 2023 (arXiv:2302.13971) Table 2 (dim 8192, 64 heads, 80 layers); HF huggyllama/llama-65b config.json (intermediate 22016, vocab 32000)",
  },
  {
    id: "llama2-70b",
    name: "Llama 2 70B",
    config: llama(80, 8192, 28672, 32000, 64, 8, 4096),
    source: "HF meta-llama/Llama-2-70b-hf config.json (80 layers, hidden 8192, intermediate 28672, 64 heads, 8 KV heads, vocab 32000, 4k context)",
  },
  {
    id: "llama3.1-405b",
    name: "Llama 3.1 405B",
    config: llama(126, 16384, 53248, 128256, 128, 8, 131072),
    source: "Llama 3 paper (arXiv:2407.21783) Table 3 (126 layers, dim 16384, FFN 53248, 128 heads, 8 KV heads, vocab 128K); HF meta-llama/Llama-3.1-405B config.json (vocab 128256, 128K context)",
  },
  {
    id: "phi-2",
    name: "phi-2",
    config: PHI2_CONFIG,
    source: "HF microsoft/phi-2 config.json (32 layers, hidden 2560, intermediate 10240, vocab 51200, 32 heads, 2048 positions)",
  },
];

export function modelSpec(id: string): ModelSpec {
  const m = MODELS.find((x) => x.id === id);
  if (!m) throw new Error(`no model "${id}" in MODELS; known: ${MODELS.map((x) => x.id).join(", ")}`);
  return m;
}
