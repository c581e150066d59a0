// config.json of a phi model, in either form transformers writes:
//   phi-2 (transformers 4.37):  top-level "rope_theta", "torch_dtype"
//   newer transformers (≥ 4.56 / 5): "rope_parameters": {"rope_theta", ...}, "dtype"
// Everything the model code needs, with the names used in the math.

import * as path from "node:path";
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

function fail(source: string, msg: string): never {
  throw new Error(`${source}: ${msg}`);
}

/** Check and convert a parsed config.json. `source` names the file in errors. */
export function parsePhiConfig(json: unknown, source = "config.json"): PhiConfig {
  if (typeof json !== "object" || json === null) fail(source, "not a JSON object");
  const c = json as Record<string, unknown>;
  if (c.model_type !== "phi") {
    fail(source, `model_type is ${JSON.stringify(c.model_type)}, but this code implements only "phi" (microsoft/phi-2's architecture)`);
  }
  const num = (key: string, fallback?: number): number => {
    const v = c[key] ?? fallback;
    if (typeof v !== "number" || !Number.isFinite(v)) fail(source, `"${key}" is missing or not a number`);
    return v;
  };
  const rope = c.rope_parameters as Record<string, unknown> | undefined | null;
  const ropeTheta = typeof c.rope_theta === "number" ? c.rope_theta : rope?.rope_theta;
  if (typeof ropeTheta !== "number") fail(source, 'neither "rope_theta" nor "rope_parameters.rope_theta" is a number');
  const ropeType = rope?.rope_type ?? (c.rope_scaling as Record<string, unknown> | null | undefined)?.type ?? "default";
  if (ropeType !== "default") fail(source, `rope type ${JSON.stringify(ropeType)} is not implemented (only the default rotary embedding)`);
  if (c.qk_layernorm === true) fail(source, "qk_layernorm: true is not implemented (phi-2 has false)");
  if (c.hidden_act !== undefined && c.hidden_act !== "gelu_new") fail(source, `hidden_act ${JSON.stringify(c.hidden_act)} is not implemented (phi-2 uses gelu_new)`);
  if (c.tie_word_embeddings === true) fail(source, "tie_word_embeddings: true is not implemented (phi-2's lm_head is separate)");

  const hidden = num("hidden_size");
  const numHeads = num("num_attention_heads");
  const numKvHeads = num("num_key_value_heads", numHeads);
  if (hidden % numHeads !== 0) fail(source, `hidden_size ${hidden} is not divisible by num_attention_heads ${numHeads}`);
  if (numHeads % numKvHeads !== 0) fail(source, `num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  const headDim = hidden / numHeads;
  const factor = num("partial_rotary_factor", 1);
  const rotaryDim = Math.floor(headDim * factor); // python's int(): truncation
  if (rotaryDim % 2 !== 0) fail(source, `rotary dims ${rotaryDim} must be even`);
  const dtype = c.dtype ?? c.torch_dtype ?? "float32";
  if (typeof dtype !== "string") fail(source, '"dtype"/"torch_dtype" is not a string');
  return {
    vocabSize: num("vocab_size"),
    hidden,
    intermediate: num("intermediate_size"),
    numLayers: num("num_hidden_layers"),
    numHeads,
    numKvHeads,
    headDim,
    rotaryDim,
    ropeTheta,
    layerNormEps: num("layer_norm_eps", 1e-5),
    maxPositions: num("max_position_embeddings", 2048),
    bosTokenId: num("bos_token_id", 50256),
    eosTokenId: num("eos_token_id", 50256),
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

/** phi-2's published config (microsoft/phi-2 config.json), for benchmarks with random weights. */
export const PHI2_CONFIG: PhiConfig = {
  vocabSize: 51200,
  hidden: 2560,
  intermediate: 10240,
  numLayers: 32,
  numHeads: 32,
  numKvHeads: 32,
  headDim: 80,
  rotaryDim: 32,
  ropeTheta: 10000,
  layerNormEps: 1e-5,
  maxPositions: 2048,
  bosTokenId: 50256,
  eosTokenId: 50256,
  dtype: "float16",
};
