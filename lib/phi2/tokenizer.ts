// phi-2's tokenizer (CodeGen = GPT-2 byte-level BPE + 38 whitespace-run tokens),
// loaded offline from tokenizer.json with @huggingface/tokenizers, a pure-JS port
// of the Rust `tokenizers` library that made the file.

import * as fs from "node:fs";
import * as path from "node:path";

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

/** Load `dir/tokenizer.json` (and tokenizer_config.json when present). */
export async function loadTokenizer(dir: string): Promise<PhiTokenizer> {
  const file = path.join(dir, "tokenizer.json");
  if (!fs.existsSync(file)) throw new Error(`${file}: not found`);
  const configFile = path.join(dir, "tokenizer_config.json");
  const json = JSON.parse(fs.readFileSync(file, "utf8"));
  const config = fs.existsSync(configFile) ? JSON.parse(fs.readFileSync(configFile, "utf8")) : {};
  // ESM-first package: a dynamic import works from our CommonJS output
  const { Tokenizer } = await import("@huggingface/tokenizers");
  const tok = new Tokenizer(json, config);
  const size = tok.get_vocab(true).size;
  return {
    size,
    encode: (text) => (text === "" ? [] : tok.encode(text).ids),
    decode: (ids) => {
      const known = ids.filter((id) => Number.isInteger(id) && id >= 0 && id < size);
      return known.length === 0 ? "" : tok.decode(known, { skip_special_tokens: false });
    },
  };
}
