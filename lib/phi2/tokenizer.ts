// phi-2's tokenizer (CodeGen = GPT-2 byte-level BPE + 38 whitespace-run tokens),
// loaded offline from tokenizer.json with @huggingface/tokenizers, a pure-JS port
// of the Rust `tokenizers` library that made the file.

import * as path from "node:path";
import { existsInFolder, readFolderText } from "./folder";

export interface PhiTokenizer {
  /** Number of ids the tokenizer knows (50295 for phi-2; the embedding has 51200 rows). */
  readonly size: number;
  encode(text: string): number[];
  /**
   * Text of `ids`. Ids with no token (≥ size: phi-2's 905 padding rows of the
   * embedding, which a model can still pick) decode to "" — the same as
   * transformers' tokenizer.decode — so streaming never crashes on them.
   */
  decode(ids: readonly number[]): string;
}

/** Parse a JSON object from `dir/name`; errors name the file. */
function readJsonObject(dir: string, name: string): Record<string, unknown> {
  const file = path.join(dir, name);
  const text = readFolderText(dir, name);
  if (text.trim() === "") throw new Error(`${file}: empty file (a download cut short?)`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message}; ${text.length} characters — truncated?)`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new Error(`${file}: not a JSON object`);
  return json as Record<string, unknown>;
}

/** Load `dir/tokenizer.json` (and tokenizer_config.json when present). Every error names the file. */
export async function loadTokenizer(dir: string): Promise<PhiTokenizer> {
  const file = path.join(dir, "tokenizer.json");
  const configFile = path.join(dir, "tokenizer_config.json");
  const json = readJsonObject(dir, "tokenizer.json");
  const model = json.model as Record<string, unknown> | undefined;
  if (typeof model !== "object" || model === null || typeof model.vocab !== "object" || model.vocab === null) {
    throw new Error(`${file}: no "model.vocab" object (not a tokenizers file?)`);
  }
  const config = existsInFolder(dir, "tokenizer_config.json") ? readJsonObject(dir, "tokenizer_config.json") : {};
  for (const key of ["bos_token", "eos_token", "unk_token", "pad_token"]) {
    const v = config[key];
    if (v !== undefined && v !== null && typeof v !== "string" && (typeof v !== "object" || typeof (v as { content?: unknown }).content !== "string")) {
      throw new Error(`${configFile}: "${key}" is ${JSON.stringify(v)}, not a token string`);
    }
  }
  // ESM-first package: a dynamic import works from our CommonJS output
  const { Tokenizer } = await import("@huggingface/tokenizers");
  let tok: InstanceType<typeof Tokenizer>;
  let size: number;
  try {
    tok = new Tokenizer(json, config);
    size = tok.get_vocab(true).size;
    tok.encode("a b"); // a tokenizer that cannot encode a word fails here, naming the files, not mid-run
  } catch (e) {
    throw new Error(`${file}${existsInFolder(dir, "tokenizer_config.json") ? ` with ${configFile}` : ""}: cannot build the tokenizer (${(e as Error).message})`);
  }
  return {
    size,
    encode: (text) => (text === "" ? [] : tok.encode(text).ids),
    decode: (ids) => {
      const known = ids.filter((id) => Number.isInteger(id) && id >= 0 && id < size);
      return known.length === 0 ? "" : tok.decode(known, { skip_special_tokens: false });
    },
  };
}
