// config.json against the safetensors headers, before any weight is read.
// A config that disagrees with its files must not load "what it can": every
// tensor the config implies must be there with the implied shape, and every
// tensor in the files must be used (a num_hidden_layers smaller than the files'
// layers would silently run a truncated model).

import type { PhiConfig } from "./config";
import type { SafetensorsModel } from "./safetensors";

/** Every tensor phi's PhiForCausalLM reads, with the shape `config` implies. */
export function expectedTensors(config: PhiConfig): Map<string, number[]> {
  const { hidden, intermediate, vocabSize, numKvHeads, headDim } = config;
  const kvWidth = numKvHeads * headDim;
  const m = new Map<string, number[]>();
  const linear = (prefix: string, rows: number, cols: number) => {
    m.set(`${prefix}.weight`, [rows, cols]); // [out, in]
    m.set(`${prefix}.bias`, [rows]);
  };
  const norm = (prefix: string) => {
    m.set(`${prefix}.weight`, [hidden]);
    m.set(`${prefix}.bias`, [hidden]);
  };
  m.set("model.embed_tokens.weight", [vocabSize, hidden]);
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}`;
    norm(`${p}.input_layernorm`);
    linear(`${p}.self_attn.q_proj`, hidden, hidden);
    linear(`${p}.self_attn.k_proj`, kvWidth, hidden);
    linear(`${p}.self_attn.v_proj`, kvWidth, hidden);
    linear(`${p}.self_attn.dense`, hidden, hidden);
    linear(`${p}.mlp.fc1`, intermediate, hidden);
    linear(`${p}.mlp.fc2`, hidden, intermediate);
  }
  norm("model.final_layernorm");
  linear("lm_head", vocabSize, hidden);
  return m;
}

/** Layer indices the tensor names mention (model.layers.{i}.…), sorted. */
export function layersInTensors(names: Iterable<string>): number[] {
  const s = new Set<number>();
  for (const n of names) {
    const m = /^model\.layers\.(\d+)\./.exec(n);
    if (m) s.add(Number(m[1]));
  }
  return [...s].sort((a, b) => a - b);
}

/** "a, b, c and 12 more" — names in a message, grouping whole layers as model.layers.{i}.* */
export function listNames(names: readonly string[], max = 8): string {
  const byLayer = new Map<string, number>();
  for (const n of names) {
    const m = /^(model\.layers\.\d+)\./.exec(n);
    if (m) byLayer.set(m[1], (byLayer.get(m[1]) ?? 0) + 1);
  }
  const items: string[] = [];
  const seenLayer = new Set<string>();
  for (const n of [...names].sort((a, b) => a.localeCompare(b, "en", { numeric: true }))) {
    const m = /^(model\.layers\.\d+)\./.exec(n);
    if (m && byLayer.get(m[1])! > 1) {
      if (!seenLayer.has(m[1])) items.push(`${m[1]}.* (${byLayer.get(m[1])} tensors)`);
      seenLayer.add(m[1]);
    } else items.push(`"${n}"`);
  }
  return items.length <= max ? items.join(", ") : `${items.slice(0, max).join(", ")} and ${items.length - max} more`;
}

function layerRange(layers: readonly number[]): string {
  if (layers.length === 0) return "no layers";
  const contiguous = layers.every((l, i) => l === i);
  return contiguous ? `${layers.length} layers (model.layers.0 … model.layers.${layers.length - 1})` : `layers ${layers.join(", ")}`;
}

const FLOAT = new Set(["F16", "BF16", "F32"]);

/**
 * Throws unless `st` holds exactly the tensors `config` implies, with its shapes
 * and float dtypes. `configFile` and `st.source` are named in the message.
 */
export function checkTensorsAgainstConfig(st: SafetensorsModel, config: PhiConfig, configFile: string): void {
  const expected = expectedTensors(config);
  const held = layersInTensors(st.tensors.keys());
  const cfg = `${configFile} (num_hidden_layers ${config.numLayers}, hidden_size ${config.hidden}, intermediate_size ${config.intermediate}, vocab_size ${config.vocabSize})`;
  const missing = [...expected.keys()].filter((n) => !st.has(n));
  if (missing.length > 0) {
    throw new Error(`${cfg} needs tensors that ${st.source} does not hold (it holds ${layerRange(held)}): ${listNames(missing)}`);
  }
  const unused = [...st.tensors.keys()].filter((n) => !expected.has(n));
  if (unused.length > 0) {
    const layersNote = held.length > config.numLayers ? `; the files hold ${layerRange(held)} but num_hidden_layers is ${config.numLayers}` : "";
    throw new Error(`${st.source} holds tensors ${cfg} does not use${layersNote}: ${listNames(unused)} — refusing to run a model that ignores part of its weights`);
  }
  for (const [name, shape] of expected) {
    const t = st.info(name);
    if (t.shape.join(",") !== shape.join(",")) throw new Error(`${t.file}: tensor "${name}" has shape [${t.shape}], ${cfg} implies [${shape}]`);
    if (!FLOAT.has(t.dtype)) throw new Error(`${t.file}: tensor "${name}" is ${t.dtype}; only F16, BF16 and F32 weights are supported`);
  }
}
