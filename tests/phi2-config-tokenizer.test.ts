// config.json in both transformers forms, refusal of other architectures, and the
// tokenizer against the ids the Rust `tokenizers` library produced.
import { afterAll, describe, expect, test } from "vitest";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PHI2_CONFIG as COMPUTE_PHI2 } from "../lib/compute";
import { computeConfigOf } from "../lib/phi2/budget";
import { parsePhiConfig, PHI2_CONFIG, readPhiConfig } from "../lib/phi2/config";
import { TextStream } from "../lib/phi2/generate";
import { loadTokenizer } from "../lib/phi2/tokenizer";

const DIR = path.join(__dirname, "fixtures", "tiny-phi");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "phi2-cfg-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
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

  test("PHI2_CONFIG is phi-2's published config.json, and lib/compute's PHI2_CONFIG in the compute form", () => {
    const published = { ...tinyConfig(), hidden_size: 2560, intermediate_size: 10240, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 32 };
    expect(PHI2_CONFIG).toEqual(parsePhiConfig(published));
    expect(computeConfigOf(PHI2_CONFIG)).toMatchObject(COMPUTE_PHI2);
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

describe("config.json: nonsense values are refused, naming the key and the limit", () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ["partial_rotary_factor 5", { partial_rotary_factor: 5 }, /"partial_rotary_factor" is 5; it must be in \(0, 1\]/],
    ["partial_rotary_factor -1", { partial_rotary_factor: -1 }, /"partial_rotary_factor" is -1; it must be in \(0, 1\]/],
    ["partial_rotary_factor 0", { partial_rotary_factor: 0 }, /"partial_rotary_factor" is 0; it must be in \(0, 1\]/],
    ["partial_rotary_factor too small for one pair", { partial_rotary_factor: 0.1 }, /0\.1 × head dim 16 gives 1 rotary dims; it must be an even number ≥ 2/],
    ["rope_theta 0", { rope_theta: 0 }, /"rope_theta" is 0; it must be a finite number > 0/],
    ["rope_theta -5", { rope_theta: -5 }, /"rope_theta" is -5; it must be a finite number > 0/],
    ["num_hidden_layers 0", { num_hidden_layers: 0 }, /"num_hidden_layers" is 0; it must be an integer in 1…16777216/],
    ["num_hidden_layers -1", { num_hidden_layers: -1 }, /"num_hidden_layers" is -1; it must be an integer in 1…/],
    ["num_hidden_layers 1.5", { num_hidden_layers: 1.5 }, /"num_hidden_layers" is 1\.5; it must be an integer/],
    ["hidden_size 1e30", { hidden_size: 1e30 }, /"hidden_size" is 1e\+30; it must be an integer in 1…16777216/],
    ["vocab_size as a string", { vocab_size: "51200" }, /"vocab_size" is missing or not a number \(got "51200"\)/],
    ["layer_norm_eps 0", { layer_norm_eps: 0 }, /"layer_norm_eps" is 0; it must be in \(0, 1\)/],
    ["max_position_embeddings 0", { max_position_embeddings: 0 }, /"max_position_embeddings" is 0; it must be an integer in 1…/],
    ["eos_token_id outside the vocabulary", { eos_token_id: 51200 }, /"eos_token_id" is 51200; it must be an integer in 0…51199 \(vocab_size 51200\)/],
  ];
  test.each(cases)("%s", (_what, change, re) => {
    expect(() => parsePhiConfig({ ...tinyConfig(), ...change }, "x/config.json")).toThrow(re);
    expect(() => parsePhiConfig({ ...tinyConfig(), ...change }, "x/config.json")).toThrow(/^x\/config\.json: /);
  });

  test("the newer form's rope_parameters are checked too, named by their path", () => {
    const c = tinyConfig();
    delete c.rope_theta;
    delete c.partial_rotary_factor;
    c.rope_parameters = { rope_type: "default", rope_theta: 0, partial_rotary_factor: 0.4 };
    expect(() => parsePhiConfig(c)).toThrow(/"rope_parameters\.rope_theta" is 0/);
    c.rope_parameters = { rope_type: "default", rope_theta: 10000, partial_rotary_factor: 3 };
    expect(() => parsePhiConfig(c)).toThrow(/"rope_parameters\.partial_rotary_factor" is 3; it must be in \(0, 1\]/);
  });
});

describe("tokenizer files: broken ones are named", () => {
  function folderWith(files: Record<string, string | null>): string {
    const d = fs.mkdtempSync(path.join(tmp, "tok-"));
    for (const f of ["tokenizer.json", "tokenizer_config.json"]) fs.copyFileSync(path.join(DIR, f), path.join(d, f));
    for (const [f, text] of Object.entries(files)) {
      if (text === null) fs.rmSync(path.join(d, f));
      else fs.writeFileSync(path.join(d, f), text);
    }
    return d;
  }
  const full = fs.readFileSync(path.join(DIR, "tokenizer.json"), "utf8");

  test("truncated tokenizer.json", async () => {
    const d = folderWith({ "tokenizer.json": full.slice(0, 5000) });
    await expect(loadTokenizer(d)).rejects.toThrow(new RegExp(`^${path.join(d, "tokenizer.json").replace(/[.]/g, "\\.")}: not valid JSON .*5000 characters — truncated\\?`));
  });

  test("empty tokenizer.json", async () => {
    const d = folderWith({ "tokenizer.json": "" });
    await expect(loadTokenizer(d)).rejects.toThrow(`${path.join(d, "tokenizer.json")}: empty file`);
  });

  test("tokenizer.json that is JSON but not a tokenizer", async () => {
    const d = folderWith({ "tokenizer.json": "[1, 2]" });
    await expect(loadTokenizer(d)).rejects.toThrow(`${path.join(d, "tokenizer.json")}: not a JSON object`);
    const d2 = folderWith({ "tokenizer.json": '{"version": "1.0"}' });
    await expect(loadTokenizer(d2)).rejects.toThrow(`${path.join(d2, "tokenizer.json")}: no "model.vocab" object`);
  });

  test("a bad tokenizer_config.json", async () => {
    const cut = folderWith({ "tokenizer_config.json": '{"eos_token": ' });
    await expect(loadTokenizer(cut)).rejects.toThrow(`${path.join(cut, "tokenizer_config.json")}: not valid JSON`);
    const arr = folderWith({ "tokenizer_config.json": "[]" });
    await expect(loadTokenizer(arr)).rejects.toThrow(`${path.join(arr, "tokenizer_config.json")}: not a JSON object`);
    const eos = folderWith({ "tokenizer_config.json": '{"eos_token": 5}' });
    await expect(loadTokenizer(eos)).rejects.toThrow(`${path.join(eos, "tokenizer_config.json")}: "eos_token" is 5, not a token string`);
  });

  test("tokenizer_config.json is optional", async () => {
    const d = folderWith({ "tokenizer_config.json": null });
    expect((await loadTokenizer(d)).encode("Hello")).toEqual([15496]);
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
