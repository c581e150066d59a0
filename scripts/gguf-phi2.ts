// phi models as GGUF for llama.cpp ("phi2" architecture), from either
//   - a model folder (config.json + safetensors + tokenizer.json), e.g. the tiny fixture, or
//   - phi's shapes with the deterministic random weights of PhiModel.random (the bench's),
// so llama.cpp runs exactly the weights our engine runs. Names and keys as llama.cpp's
// convert_hf_to_gguf.py writes them for PhiForCausalLM (Phi2Model):
//   model.embed_tokens → token_embd          input_layernorm → blk.N.attn_norm
//   self_attn.{q,k,v}_proj → blk.N.attn_{q,k,v}   self_attn.dense → blk.N.attn_output
//   mlp.fc1 → blk.N.ffn_up   mlp.fc2 → blk.N.ffn_down   final_layernorm → output_norm   lm_head → output
// 1-D tensors (biases, norms) are F32; matrices F16 or Q8_0.

import * as path from "node:path";
import { decodeToF32, floatToHalf, fillRandomF16, fillRandomF32, readFolderText, SafetensorsModel, type PhiConfig } from "../lib/phi2";
import { GGML_BLOCK, quantizeQ8_0, writeGguf, type GgmlType, type GgufTensor, type GgufValue } from "./gguf";

export type MatrixType = "F16" | "Q8_0";

/** One tensor in torch terms: name, shape [out, in] or [n], and a source of float values row by row. */
interface Source {
  name: string;
  shape: number[];
  /** Float values of rows [r0, r1) (row-major, cols per row). */
  rows(r0: number, r1: number): Float32Array;
  /** The stored fp16 bits of rows [r0, r1), when the source is fp16 (written as is, no rounding twice). */
  f16Rows?(r0: number, r1: number): Uint16Array;
}

const GGUF_NAMES: [RegExp, string][] = [
  [/^model\.embed_tokens\.weight$/, "token_embd.weight"],
  [/^model\.layers\.(\d+)\.input_layernorm\.(weight|bias)$/, "blk.$1.attn_norm.$2"],
  [/^model\.layers\.(\d+)\.self_attn\.q_proj\.(weight|bias)$/, "blk.$1.attn_q.$2"],
  [/^model\.layers\.(\d+)\.self_attn\.k_proj\.(weight|bias)$/, "blk.$1.attn_k.$2"],
  [/^model\.layers\.(\d+)\.self_attn\.v_proj\.(weight|bias)$/, "blk.$1.attn_v.$2"],
  [/^model\.layers\.(\d+)\.self_attn\.dense\.(weight|bias)$/, "blk.$1.attn_output.$2"],
  [/^model\.layers\.(\d+)\.mlp\.fc1\.(weight|bias)$/, "blk.$1.ffn_up.$2"],
  [/^model\.layers\.(\d+)\.mlp\.fc2\.(weight|bias)$/, "blk.$1.ffn_down.$2"],
  [/^model\.final_layernorm\.(weight|bias)$/, "output_norm.$1"],
  [/^lm_head\.(weight|bias)$/, "output.$1"],
];

/** llama.cpp's name for a transformers PhiForCausalLM tensor. */
export function ggufName(name: string): string {
  for (const [re, to] of GGUF_NAMES) if (re.test(name)) return name.replace(re, to);
  throw new Error(`no GGUF name for tensor "${name}"`);
}

/** The phi2 architecture's key-values (llama.cpp reads these to build the graph). */
export function phi2Keys(config: PhiConfig, type: MatrixType, name: string): [string, GgufValue][] {
  return [
    ["general.architecture", { type: "string", value: "phi2" }],
    ["general.name", { type: "string", value: name }],
    ["general.file_type", { type: "u32", value: type === "F16" ? 1 : 7 }], // LLAMA_FTYPE_MOSTLY_F16 / _Q8_0
    ["general.alignment", { type: "u32", value: 32 }],
    ["phi2.context_length", { type: "u32", value: config.maxPositions }],
    ["phi2.embedding_length", { type: "u32", value: config.hidden }],
    ["phi2.feed_forward_length", { type: "u32", value: config.intermediate }],
    ["phi2.block_count", { type: "u32", value: config.numLayers }],
    ["phi2.attention.head_count", { type: "u32", value: config.numHeads }],
    ["phi2.attention.head_count_kv", { type: "u32", value: config.numKvHeads }],
    ["phi2.attention.layer_norm_epsilon", { type: "f32", value: config.layerNormEps }],
    ["phi2.rope.dimension_count", { type: "u32", value: config.rotaryDim }],
    ["phi2.rope.freq_base", { type: "f32", value: config.ropeTheta }],
  ];
}

/**
 * The tokenizer as llama.cpp's "gpt2" (byte-level BPE) vocabulary, from tokenizer.json:
 * every id below `vocabSize` gets a token (ids with none, like phi-2's 905 padding rows,
 * get "[PAD<id>]" of type UNUSED), special added tokens are CONTROL, others USER_DEFINED.
 */
export function tokenizerKeys(tokenizerJson: unknown, vocabSize: number, config: PhiConfig): [string, GgufValue][] {
  const t = tokenizerJson as { model?: { vocab?: Record<string, number>; merges?: (string | [string, string])[] }; added_tokens?: { id: number; content: string; special: boolean }[] };
  if (!t.model?.vocab || !t.model.merges) throw new Error("tokenizer.json: no model.vocab / model.merges (not a BPE tokenizer)");
  const NORMAL = 1, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5;
  const tokens: string[] = Array.from({ length: vocabSize }, (_, i) => `[PAD${i}]`);
  const types = new Int32Array(vocabSize).fill(UNUSED);
  for (const [tok, id] of Object.entries(t.model.vocab)) {
    if (id < vocabSize) {
      tokens[id] = tok;
      types[id] = NORMAL;
    }
  }
  for (const a of t.added_tokens ?? []) {
    if (a.id < vocabSize) {
      tokens[a.id] = a.content;
      types[a.id] = a.special ? CONTROL : USER_DEFINED;
    }
  }
  const merges = t.model.merges.map((m) => (typeof m === "string" ? m : m.join(" ")));
  return [
    ["tokenizer.ggml.model", { type: "string", value: "gpt2" }],
    ["tokenizer.ggml.pre", { type: "string", value: "phi-2" }],
    ["tokenizer.ggml.tokens", { type: "string[]", value: tokens }],
    ["tokenizer.ggml.token_type", { type: "i32[]", value: types }],
    ["tokenizer.ggml.merges", { type: "string[]", value: merges }],
    ["tokenizer.ggml.bos_token_id", { type: "u32", value: config.bosTokenId }],
    ["tokenizer.ggml.eos_token_id", { type: "u32", value: config.eosTokenId }],
    ["tokenizer.ggml.unknown_token_id", { type: "u32", value: config.eosTokenId }],
    ["tokenizer.ggml.add_bos_token", { type: "bool", value: false }],
  ];
}

/** A GGUF tensor from a source: rows streamed in chunks of ~4 MB, converted to `type`. */
function tensorOf(s: Source, type: GgmlType): GgufTensor {
  const rows = s.shape.length === 2 ? s.shape[0] : 1;
  const cols = s.shape.length === 2 ? s.shape[1] : s.shape[0];
  const dims = s.shape.length === 2 ? [cols, rows] : [cols]; // ggml: ne[0] = columns
  const chunkRows = Math.max(1, Math.floor((1 << 20) / cols));
  return {
    name: ggufName(s.name),
    dims,
    type,
    write(put) {
      for (let r0 = 0; r0 < rows; r0 += chunkRows) {
        const r1 = Math.min(rows, r0 + chunkRows);
        if (type === "F16") {
          const h = s.f16Rows ? s.f16Rows(r0, r1) : Uint16Array.from(s.rows(r0, r1), floatToHalf);
          put(new Uint8Array(h.buffer, h.byteOffset, h.byteLength));
        } else if (type === "F32") {
          const f = s.rows(r0, r1);
          put(new Uint8Array(f.buffer, f.byteOffset, f.byteLength));
        } else {
          const f = s.rows(r0, r1);
          const out = new Uint8Array((f.length / GGML_BLOCK.Q8_0.values) * GGML_BLOCK.Q8_0.bytes);
          quantizeQ8_0(f, out, floatToHalf);
          put(out);
        }
      }
    },
  };
}

function typeFor(s: Source, matrices: MatrixType): GgmlType {
  return s.shape.length === 2 ? matrices : "F32";
}

/** Write the model folder `dir` (config.json, safetensors, tokenizer.json) as GGUF. Returns the file size. */
export function writePhi2GgufFromFolder(dir: string, config: PhiConfig, out: string, matrices: MatrixType): number {
  const st = SafetensorsModel.open(dir);
  try {
    const sources: Source[] = [...st.tensors.values()].map((t) => {
      const cols = t.shape.length === 2 ? t.shape[1] : t.shape[0];
      const rowBytes = (t.byteLength / (t.shape.length === 2 ? t.shape[0] : 1));
      const raw = (r0: number, r1: number) => st.readBytes(t.name, r0 * rowBytes, (r1 - r0) * rowBytes);
      return {
        name: t.name,
        shape: t.shape,
        rows: (r0, r1) => {
          if (t.dtype === "F32") return new Float32Array(raw(r0, r1).slice().buffer);
          if (t.dtype === "F16") return decodeToF32(raw(r0, r1), "F16"); // by table: Float32Array.from(…, halfToFloat) is 15× slower
          // BF16: the top 16 bits of a float32
          return new Float32Array(Uint32Array.from(new Uint16Array(raw(r0, r1).slice().buffer), (u) => u << 16).buffer);
        },
        f16Rows: t.dtype === "F16" ? (r0, r1) => new Uint16Array(raw(r0, r1).slice().buffer) : undefined,
      };
    });
    const tok = JSON.parse(readFolderText(dir, "tokenizer.json"));
    const kv = [...phi2Keys(config, matrices, path.basename(dir)), ...tokenizerKeys(tok, config.vocabSize, config)];
    return writeGguf(out, kv, sources.map((s) => tensorOf(s, typeFor(s, matrices))));
  } finally {
    st.close();
  }
}

/** fp16 bits as float32 values, decoded by table (lib/phi2 decodeToF32). */
function f16ToF32(h: Uint16Array): Float32Array {
  return decodeToF32(new Uint8Array(h.buffer, h.byteOffset, h.byteLength), "F16");
}

/**
 * phi's shapes with PhiModel.random's weights (same seeds, same order, same values):
 * the embedding is float32 with scale 1 (written F32), each matrix (2u − 1)/√in,
 * rounded to fp16 for F16 (fillRandomF16, as the bench's F16 weights) and quantized
 * from those fp16 values for Q8_0; LayerNorm weight 1, every bias 0.
 */
export function writePhi2GgufRandom(config: PhiConfig, tokenizerJson: unknown, out: string, matrices: MatrixType, seed = 1): number {
  const { hidden, intermediate, vocabSize, numKvHeads, headDim } = config;
  let next = seed;
  const sources: Source[] = [];
  const matrix = (name: string, rows: number, cols: number): void => {
    const s = next++;
    const scale = 1 / Math.sqrt(cols);
    const f16Rows = (r0: number, r1: number) => fillRandomF16(new Uint16Array((r1 - r0) * cols), s, scale, r0 * cols);
    sources.push({ name: `${name}.weight`, shape: [rows, cols], f16Rows, rows: (r0, r1) => f16ToF32(f16Rows(r0, r1)) });
    sources.push({ name: `${name}.bias`, shape: [rows], rows: () => new Float32Array(rows) });
  };
  const norm = (name: string): void => {
    sources.push({ name: `${name}.weight`, shape: [hidden], rows: () => new Float32Array(hidden).fill(1) });
    sources.push({ name: `${name}.bias`, shape: [hidden], rows: () => new Float32Array(hidden) });
  };
  const embedSeed = next++; // PhiModel.random takes the embedding's seed before the first matrix's
  const embedding: Source = { name: "model.embed_tokens.weight", shape: [vocabSize, hidden], rows: (r0, r1) => fillRandomF32(new Float32Array((r1 - r0) * hidden), embedSeed, 1, r0 * hidden) };
  sources.push(embedding);
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}`;
    norm(`${p}.input_layernorm`);
    matrix(`${p}.self_attn.q_proj`, hidden, hidden);
    matrix(`${p}.self_attn.k_proj`, numKvHeads * headDim, hidden);
    matrix(`${p}.self_attn.v_proj`, numKvHeads * headDim, hidden);
    matrix(`${p}.self_attn.dense`, hidden, hidden);
    matrix(`${p}.mlp.fc1`, intermediate, hidden);
    matrix(`${p}.mlp.fc2`, hidden, intermediate);
  }
  norm("model.final_layernorm");
  matrix("lm_head", vocabSize, hidden);
  const kv = [...phi2Keys(config, matrices, `phi2-random-seed${seed}`), ...tokenizerKeys(tokenizerJson, vocabSize, config)];
  return writeGguf(out, kv, sources.map((s) => tensorOf(s, s === embedding ? "F32" : typeFor(s, matrices))));
}
