// config.json of a phi model, in either form transformers writes:
//   phi-2 (transformers 4.37):  top-level "rope_theta", "torch_dtype"
//   newer transformers (≥ 4.56 / 5): "rope_parameters": {"rope_theta", ...}, "dtype"
// Everything the model code needs, with the names used in the math.

import * as path from "node:path";
import { PHI2_CONFIG as PHI2_SHAPE } from "../compute/models";
import { readFolderText } from "./folder";

export interface PhiConfig {
  vocabSize: number; // 51200 for phi-2 (embedding rows; the tokenizer has 50295 tokens)
  hidden: number; // 2560
  intermediate: number; // 10240 (MLP width)
  numLayers: number; // 32
  numHeads: number; // 32
  numKvHeads: number; // 32 (phi-2 has no grouped-query attention)
  headDim: number; // hidden / numHeads = 80
  rotaryDim: number; // int(headDim × partial_rotary_factor) = 32: dims that get rotary
  ropeTheta: number; // 10000
  layerNormEps: number; // 1e-5
  maxPositions: number; // 2048
  bosTokenId: number; // 50256
  eosTokenId: number; // 50256
  /** The dtype the weights were saved in ("float16" for phi-2). */
  dtype: string;
}

/** A config.json value refused; `key` is the JSON key (dotted for nested ones). */
export class ConfigError extends Error {
  constructor(readonly source: string, readonly key: string | null, message: string) {
    super(`${source}: ${message}`);
    this.name = "ConfigError";
  }
}

function fail(source: string, msg: string, key: string | null = null): never {
  throw new ConfigError(source, key, msg);
}

/** Largest size we accept for any dimension (phi-2's largest is vocab_size 51200). */
export const MAX_CONFIG_DIM = 2 ** 24;

/** Check and convert a parsed config.json. `source` names the file in errors, each error names the key and its limit. */
export function parsePhiConfig(json: unknown, source = "config.json"): PhiConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) fail(source, "not a JSON object");
  const c = json as Record<string, unknown>;
  if (c.model_type !== "phi") {
    fail(source, `model_type is ${JSON.stringify(c.model_type)}, but this code implements only "phi" (microsoft/phi-2's architecture)`, "model_type");
  }
  const num = (key: string, fallback?: number): number => {
    const v = c[key] ?? fallback;
    if (typeof v !== "number" || !Number.isFinite(v)) fail(source, `"${key}" is missing or not a number (got ${JSON.stringify(c[key])})`, key);
    return v;
  };
  /** A size: an integer in 1…MAX_CONFIG_DIM. */
  const size = (key: string, fallback?: number): number => {
    const v = num(key, fallback);
    if (!Number.isInteger(v) || v < 1 || v > MAX_CONFIG_DIM) fail(source, `"${key}" is ${v}; it must be an integer in 1…${MAX_CONFIG_DIM}`, key);
    return v;
  };
  const rope = c.rope_parameters as Record<string, unknown> | undefined | null;
  const ropeTheta = typeof c.rope_theta === "number" ? c.rope_theta : rope?.rope_theta;
  const thetaKey = typeof c.rope_theta === "number" ? "rope_theta" : "rope_parameters.rope_theta";
  if (typeof ropeTheta !== "number") fail(source, 'neither "rope_theta" nor "rope_parameters.rope_theta" is a number', "rope_theta");
  // theta^(-2i/d) sets each rotary frequency: theta ≤ 0 gives NaN or infinite angles
  if (!(Number.isFinite(ropeTheta) && ropeTheta > 0)) fail(source, `"${thetaKey}" is ${ropeTheta}; it must be a finite number > 0 (phi-2: 10000)`, thetaKey);
  const ropeType = rope?.rope_type ?? (c.rope_scaling as Record<string, unknown> | null | undefined)?.type ?? "default";
  if (ropeType !== "default") fail(source, `rope type ${JSON.stringify(ropeType)} is not implemented (only the default rotary embedding)`, "rope_scaling");
  if (c.qk_layernorm === true) fail(source, "qk_layernorm: true is not implemented (phi-2 has false)", "qk_layernorm");
  if (c.hidden_act !== undefined && c.hidden_act !== "gelu_new") fail(source, `hidden_act ${JSON.stringify(c.hidden_act)} is not implemented (phi-2 uses gelu_new)`, "hidden_act");
  if (c.tie_word_embeddings === true) fail(source, "tie_word_embeddings: true is not implemented (phi-2's lm_head is separate)", "tie_word_embeddings");

  const vocabSize = size("vocab_size");
  const hidden = size("hidden_size");
  const numLayers = size("num_hidden_layers");
  const numHeads = size("num_attention_heads");
  const numKvHeads = size("num_key_value_heads", numHeads);
  if (hidden % numHeads !== 0) fail(source, `hidden_size ${hidden} is not divisible by num_attention_heads ${numHeads}`, "num_attention_heads");
  if (numHeads % numKvHeads !== 0) fail(source, `num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`, "num_key_value_heads");
  const headDim = hidden / numHeads;
  const factorKey = c.partial_rotary_factor === undefined && rope?.partial_rotary_factor !== undefined ? "rope_parameters.partial_rotary_factor" : "partial_rotary_factor";
  const factor = c.partial_rotary_factor ?? rope?.partial_rotary_factor ?? 1;
  if (typeof factor !== "number" || !(factor > 0 && factor <= 1)) fail(source, `"${factorKey}" is ${JSON.stringify(factor)}; it must be in (0, 1] (the fraction of each head's ${headDim} dims that rotate; phi-2: 0.4)`, factorKey);
  const rotaryDim = Math.floor(headDim * factor); // python's int(): truncation
  if (rotaryDim < 2 || rotaryDim % 2 !== 0) {
    fail(source, `"${factorKey}" ${factor} × head dim ${headDim} gives ${rotaryDim} rotary dims; it must be an even number ≥ 2 (dims rotate in pairs)`, factorKey);
  }
  const eps = num("layer_norm_eps", 1e-5);
  if (!(eps > 0 && eps < 1)) fail(source, `"layer_norm_eps" is ${eps}; it must be in (0, 1) (phi-2: 1e-5)`, "layer_norm_eps");
  const tokenId = (key: string, fallback: number): number => {
    const v = num(key, fallback);
    if (!Number.isInteger(v) || v < 0 || v >= vocabSize) fail(source, `"${key}" is ${v}; it must be an integer in 0…${vocabSize - 1} (vocab_size ${vocabSize})`, key);
    return v;
  };
  const dtype = c.dtype ?? c.torch_dtype ?? "float32";
  if (typeof dtype !== "string") fail(source, '"dtype"/"torch_dtype" is not a string', "dtype");
  return {
    vocabSize,
    hidden,
    intermediate: size("intermediate_size"),
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    rotaryDim,
    ropeTheta,
    layerNormEps: eps,
    maxPositions: size("max_position_embeddings", 2048),
    bosTokenId: tokenId("bos_token_id", 50256),
    eosTokenId: tokenId("eos_token_id", 50256),
    dtype,
  };
}

/** Read `dir/config.json` (a regular file inside `dir`: see folder.ts). */
export function readPhiConfig(dir: string): PhiConfig {
  const file = path.join(dir, "config.json");
  const text = readFolderText(dir, "config.json");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  return parsePhiConfig(json, file);
}

/**
 * phi-2's published config (microsoft/phi-2 config.json), for benchmarks with random
 * weights. Its shape is lib/compute's PHI2_CONFIG (one place for the numbers); the
 * rest is what only the forward pass needs: rotary on int(80 × 0.4) = 32 of each
 * head's 80 dims, theta 10000, LayerNorm eps 1e-5, <|endoftext|> = 50256.
 */
export const PHI2_CONFIG: PhiConfig = (() => {
  const s = PHI2_SHAPE;
  const headDim = s.hidden / s.nHeads;
  return {
    vocabSize: s.vocab,
    hidden: s.hidden,
    intermediate: s.intermediate,
    numLayers: s.nLayers,
    numHeads: s.nHeads,
    numKvHeads: s.nKvHeads ?? s.nHeads,
    headDim,
    rotaryDim: Math.floor(headDim * 0.4), // partial_rotary_factor 0.4
    ropeTheta: 10000,
    layerNormEps: 1e-5,
    maxPositions: s.nCtx,
    bosTokenId: 50256,
    eosTokenId: 50256,
    dtype: "float16",
  };
})();

/** Weights in the matrices one token multiplies by (every layer's six + lm_head), from the config's shapes. */
export function matrixWeightsOf(config: PhiConfig): number {
  const { hidden: h, intermediate: im, vocabSize, numLayers } = config;
  const kv = config.numKvHeads * config.headDim;
  const q = config.numHeads * config.headDim;
  // q, k, v, dense, fc1, fc2 per layer; lm_head once
  return numLayers * (h * q + 2 * h * kv + q * h + 2 * h * im) + vocabSize * h;
}
