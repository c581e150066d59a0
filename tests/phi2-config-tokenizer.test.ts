// config.json in both transformers forms, refusal of other architectures, and the
// tokenizer against the ids the Rust `tokenizers` library produced.
import { describe, expect, test } from "vitest";
import * as fs from "node:fs";
import * as path from "node:path";
import { parsePhiConfig, readPhiConfig } from "../lib/phi2/config";
import { TextStream } from "../lib/phi2/generate";
import { loadTokenizer } from "../lib/phi2/tokenizer";

const DIR = path.join(__dirname, "fixtures", "tiny-phi");
const tinyConfig = () => JSON.parse(fs.readFileSync(path.join(DIR, "config.json"), "utf8"));

describe("config.json", () => {
  test("phi-2's form (top-level rope_theta, torch_dtype)", () => {
    const c = readPhiConfig(DIR);
    expect(c).toMatchObject({ hidden: 64, numLayers: 2, numHeads: 4, numKvHeads: 4, headDim: 16, rotaryDim: 6, ropeTheta: 10000, vocabSize: 51200, intermediate: 256, dtype: "float16", eosTokenId: 50256 });
  });

  test("phi-2's own numbers: rotary on int(80 × 0.4) = 32 of 80 head dims", () => {
    const phi2 = { ...tinyConfig(), hidden_size: 2560, num_attention_heads: 32, num_key_value_heads: 32 };
    expect(parsePhiConfig(phi2)).toMatchObject({ headDim: 80, rotaryDim: 32 });
  });

  test("the newer form (rope_parameters.rope_theta, dtype)", () => {
    const c = tinyConfig();
    delete c.rope_theta;
    delete c.torch_dtype;
    delete c.rope_scaling;
    c.rope_parameters = { rope_type: "default", rope_theta: 500000, partial_rotary_factor: 0.4 };
    c.dtype = "bfloat16";
    expect(parsePhiConfig(c)).toMatchObject({ ropeTheta: 500000, dtype: "bfloat16", rotaryDim: 6 });
  });

  test("a model that is not phi is refused, naming what it is", () => {
    const c = { ...tinyConfig(), model_type: "llama" };
    expect(() => parsePhiConfig(c, "x/config.json")).toThrow(/x\/config\.json: model_type is "llama", but this code implements only "phi"/);
  });

  test("missing rope_theta in both places is refused", () => {
    const c = tinyConfig();
    delete c.rope_theta;
    expect(() => parsePhiConfig(c)).toThrow(/rope_theta/);
  });
});

describe("tokenizer", async () => {
  const tok = await loadTokenizer(DIR);
  const cases: { text: string; ids: number[]; decoded: string }[] = JSON.parse(fs.readFileSync(path.join(DIR, "tokenizer_cases.json"), "utf8"));

  test.each(cases.map((c, i) => [i, c] as const))("case %i: ids and decoding identical to tokenizers (Rust)", (_i, c) => {
    expect(tok.encode(c.text)).toEqual(c.ids);
    expect(tok.decode(c.ids)).toBe(c.decoded);
  });

  test("phi-2's tokenizer size: 50257 GPT-2 tokens + 38 whitespace runs", () => {
    expect(tok.size).toBe(50295);
  });

  test("ids the embedding has but the tokenizer does not (50295 … 51199) decode to nothing, without crashing", () => {
    expect(tok.decode([50295])).toBe("");
    expect(tok.decode([51199, 16594, 50300])).toBe("Write");
    expect(tok.decode([])).toBe("");
  });

  test("streaming holds back half a UTF-8 character until it is complete", () => {
    const ids = tok.encode("🚀 ok"); // the rocket is several byte-level tokens
    expect(ids.length).toBeGreaterThan(2);
    const pieces: string[] = [];
    const stream = new TextStream(tok.decode, (s) => pieces.push(s));
    for (const id of ids) stream.push(id);
    stream.flush();
    expect(pieces.join("")).toBe("🚀 ok");
    expect(pieces.some((p) => p.includes("\uFFFD"))).toBe(false);
  });
});
