// The GGUF writer: its byte layout read back field by field (as the spec lays it out),
// Q8_0 against llama.cpp's reference rule, and — when node-llama-cpp is installed —
// llama.cpp itself running the tiny fixture written as GGUF, against transformers' ids.
import { afterAll, describe, expect, test } from "vitest";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { floatToHalf, halfToFloat, mulberry32At, readPhiConfig, PHI2_CONFIG } from "../lib/phi2";
import { GGUF_ALIGNMENT, ggufHeader, quantizeQ8_0, tensorBytes, writeGguf } from "../scripts/gguf";
import { ggufName, tokenizerKeys, writePhi2GgufFromFolder, writePhi2GgufRandom } from "../scripts/gguf-phi2";
import { compareWithLlamaCpp, loadNodeLlamaCpp, openLlamaCpp, pairedVerdict, PASS_REST_MS, signTestP, verdictOf, type Steps } from "../scripts/bench-llama";
import { generate, JsMatmul, PhiModel } from "../lib/phi2";

const DIR = path.join(__dirname, "fixtures", "tiny-phi");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gguf-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A minimal GGUF reader, written from the spec independently of the writer. */
function readGguf(bytes: Buffer) {
  let p = 0;
  const u32 = () => ((p += 4), bytes.readUInt32LE(p - 4));
  const u64 = () => ((p += 8), Number(bytes.readBigUInt64LE(p - 8)));
  const str = () => {
    const n = u64();
    p += n;
    return bytes.subarray(p - n, p).toString("utf8");
  };
  const value = (type: number): unknown => {
    switch (type) {
      case 4: return u32();
      case 5: return ((p += 4), bytes.readInt32LE(p - 4));
      case 6: return ((p += 4), bytes.readFloatLE(p - 4));
      case 7: return bytes[p++] === 1;
      case 8: return str();
      case 9: {
        const t = u32();
        const n = u64();
        return Array.from({ length: n }, () => value(t));
      }
      default: throw new Error(`type ${type} not read here`);
    }
  };
  const magic = bytes.subarray(0, 4).toString("latin1");
  p = 4;
  const version = u32();
  const nTensors = u64();
  const nKv = u64();
  const kv: Record<string, unknown> = {};
  for (let i = 0; i < nKv; i++) {
    const k = str();
    kv[k] = value(u32());
  }
  const tensors = Array.from({ length: nTensors }, () => {
    const name = str();
    const nd = u32();
    const dims = Array.from({ length: nd }, u64);
    return { name, dims, type: u32(), offset: u64() };
  });
  const dataStart = Math.ceil(p / GGUF_ALIGNMENT) * GGUF_ALIGNMENT;
  return { magic, version, kv, tensors, dataStart, headerEnd: p };
}

describe("byte layout", () => {
  test("header, key-values, tensor infos, aligned data — read back field by field", () => {
    const a = new Float32Array([1, 2, 3]); // 12 bytes: the next tensor must start at 32
    const b = new Uint16Array([floatToHalf(0.5), floatToHalf(-2)]);
    const file = path.join(tmp, "small.gguf");
    const size = writeGguf(file, [
      ["general.architecture", { type: "string", value: "phi2" }],
      ["x.count", { type: "u32", value: 7 }],
      ["x.eps", { type: "f32", value: 0.25 }],
      ["x.flag", { type: "bool", value: true }],
      ["x.words", { type: "string[]", value: ["a", "bé"] }],
      ["x.ints", { type: "i32[]", value: [-1, 5] }],
    ], [
      { name: "a", dims: [3], type: "F32", write: (put) => put(new Uint8Array(a.buffer)) },
      { name: "b", dims: [2, 1], type: "F16", write: (put) => put(new Uint8Array(b.buffer)) },
    ]);
    const bytes = fs.readFileSync(file);
    expect(bytes.length).toBe(size);
    const g = readGguf(bytes);
    expect(g.magic).toBe("GGUF");
    expect(g.version).toBe(3);
    expect(g.kv).toEqual({ "general.architecture": "phi2", "x.count": 7, "x.eps": 0.25, "x.flag": true, "x.words": ["a", "bé"], "x.ints": [-1, 5] });
    expect(g.tensors).toEqual([
      { name: "a", dims: [3], type: 0, offset: 0 },
      { name: "b", dims: [2, 1], type: 1, offset: 32 },
    ]);
    expect(g.dataStart % 32).toBe(0);
    expect(bytes.subarray(g.headerEnd, g.dataStart).every((x) => x === 0)).toBe(true); // padding is zeros
    expect(Array.from(new Float32Array(bytes.buffer.slice(bytes.byteOffset + g.dataStart, bytes.byteOffset + g.dataStart + 12)))).toEqual([1, 2, 3]);
    const bAt = g.dataStart + 32;
    expect([halfToFloat(bytes.readUInt16LE(bAt)), halfToFloat(bytes.readUInt16LE(bAt + 2))]).toEqual([0.5, -2]);
    expect(size).toBe(bAt + 4);
  });

  test("a tensor writing the wrong number of bytes is refused and no file is left", () => {
    const file = path.join(tmp, "bad.gguf");
    expect(() => writeGguf(file, [], [{ name: "a", dims: [4], type: "F32", write: (put) => put(new Uint8Array(12)) }])).toThrow(/tensor a wrote 12 bytes, its F32 \[4\] needs 16/);
    expect(fs.readdirSync(tmp).filter((f) => f.startsWith("bad.gguf"))).toEqual([]);
  });

  test("tensor sizes: F32, F16, Q8_0 (34 bytes per 32 values), Q8_0 rows must be multiples of 32", () => {
    expect(tensorBytes([64, 3], "F32")).toBe(768);
    expect(tensorBytes([64, 3], "F16")).toBe(384);
    expect(tensorBytes([64, 3], "Q8_0")).toBe(6 * 34);
    expect(() => tensorBytes([48, 3], "Q8_0")).toThrow(/multiple of 32/);
  });

  test("Q8_0 as llama.cpp: d = max|x|/127 in fp16, q = round(x/d) half away from zero", () => {
    const x = new Float32Array(32).map((_, i) => (i - 10) * 0.1); // max |x| = 2.1 at i = 31
    const out = new Uint8Array(34);
    quantizeQ8_0(x, out, floatToHalf);
    const d = 2.1 / 127;
    expect(halfToFloat(out[0] | (out[1] << 8))).toBe(halfToFloat(floatToHalf(d)));
    const q = Array.from(new Int8Array(out.buffer, 2, 32));
    expect(q[31]).toBe(127);
    expect(q[10]).toBe(0);
    for (let i = 0; i < 32; i++) expect(q[i]).toBe(Math.sign(x[i] / d) * Math.round(Math.abs(x[i] / d)));
    expect(Math.max(...q.map((v, i) => Math.abs(v * d - x[i])))).toBeLessThanOrEqual(d / 2 + 1e-7);
  });

  test("the header alone for phi-2's shapes (no data written): tensor count and every offset aligned", () => {
    const names = ["model.embed_tokens.weight", "model.layers.3.mlp.fc2.bias", "lm_head.weight", "model.final_layernorm.weight"];
    expect(names.map(ggufName)).toEqual(["token_embd.weight", "blk.3.ffn_down.bias", "output.weight", "output_norm.weight"]);
    const dims = [[2560, 51200], [2560]];
    const { offsets } = ggufHeader([], dims.map((d, i) => ({ name: `t${i}`, dims: d, type: d.length === 2 ? "F16" : "F32", write: () => undefined })));
    expect(offsets).toEqual([0, 2560 * 51200 * 2]);
    expect(PHI2_CONFIG.hidden % 32).toBe(0); // Q8_0 needs it
  });
});

describe("phi2 GGUF", () => {
  test("tokenizer: 51200 tokens for the 51200-row embedding, pads UNUSED, <|endoftext|> CONTROL, merges as 'a b'", () => {
    const tok = JSON.parse(fs.readFileSync(path.join(DIR, "tokenizer.json"), "utf8"));
    const kv = Object.fromEntries(tokenizerKeys(tok, 51200, readPhiConfig(DIR)));
    const tokens = kv["tokenizer.ggml.tokens"].value as string[];
    const types = kv["tokenizer.ggml.token_type"].value as Int32Array;
    expect(tokens.length).toBe(51200);
    expect(tokens[16594]).toBe("Write");
    expect([tokens[50256], types[50256]]).toEqual(["<|endoftext|>", 3]);
    expect(types[50257]).toBe(4); // a whitespace run: added, not special
    expect([tokens[50295], types[50295]]).toEqual(["[PAD50295]", 5]);
    expect((kv["tokenizer.ggml.merges"].value as string[])[0]).toBe("Ġ t");
  });

  test("random weights: the file holds PhiModel.random's values (fp16 of (2u − 1)/√in), biases 0, norms 1", () => {
    const config = { ...PHI2_CONFIG, numLayers: 1, hidden: 64, intermediate: 256, numHeads: 4, numKvHeads: 4, headDim: 16, rotaryDim: 6, vocabSize: 51200 };
    const tok = JSON.parse(fs.readFileSync(path.join(DIR, "tokenizer.json"), "utf8"));
    const file = path.join(tmp, "random.gguf");
    writePhi2GgufRandom(config, tok, file, "F16");
    const bytes = fs.readFileSync(file);
    const g = readGguf(bytes);
    expect(g.kv["phi2.block_count"]).toBe(1);
    expect(g.kv["phi2.rope.dimension_count"]).toBe(6);
    const at = (name: string) => g.dataStart + g.tensors.find((t) => t.name === name)!.offset;
    // q_proj of layer 0 has seed 2 (the embedding takes seed 1): element 0 is (2·u₁ − 1)/√64
    const q0 = halfToFloat(bytes.readUInt16LE(at("blk.0.attn_q.weight")));
    expect(q0).toBe(halfToFloat(floatToHalf(Math.fround((2 * mulberry32At(2, 0) - 1) / 8))));
    expect(bytes.readFloatLE(at("blk.0.attn_norm.weight"))).toBe(1);
    expect(bytes.readFloatLE(at("output.bias"))).toBe(0);
    expect(bytes.readFloatLE(at("token_embd.weight") + 4 * 64)).toBe(Math.fround(2 * mulberry32At(1, 64) - 1)); // row 1, column 0: F32
  });
});

describe("llama.cpp runs what the writer wrote (node-llama-cpp, when installed)", async () => {
  const m = await loadNodeLlamaCpp();
  const reference = JSON.parse(fs.readFileSync(path.join(DIR, "reference.json"), "utf8"));
  const wanted = reference.greedy_max_length_40.slice(reference.input_ids.length);
  /** One load of `file`, one run of `newTokens` greedy tokens after `prompt` on one thread. */
  const runOnce = async (file: string, prompt: number[], newTokens: number) => {
    const session = await openLlamaCpp(m.lib!, file, 1);
    try {
      return await session.run(prompt, newTokens);
    } finally {
      await session.close();
    }
  };
  // the optional dependency may be absent: then this block is skipped and says why
  test.skipIf(!m.lib).each(["F16", "Q8_0"] as const)(`tiny fixture as %s GGUF: llama.cpp's greedy ids equal transformers' (${m.lib ? `node-llama-cpp ${m.version}` : m.lib === null ? (m as { why: string }).why : ""})`, async (type) => {
    const file = path.join(tmp, `tiny-${type}.gguf`);
    writePhi2GgufFromFolder(DIR, readPhiConfig(DIR), file, type);
    const r = await runOnce(file, reference.input_ids, wanted.length);
    expect(r.ids).toEqual(wanted);
  }, 120_000);

  test.skipIf(!m.lib)("one load read into memory (the bench's default), two runs (its rounds): each run in a fresh context gives transformers' ids again", async () => {
    const file = path.join(tmp, "tiny-rounds.gguf");
    writePhi2GgufFromFolder(DIR, readPhiConfig(DIR), file, "F16");
    const session = await openLlamaCpp(m.lib!, file, 1, false);
    expect(session.mmap).toBe(false);
    try {
      for (let round = 0; round < 2; round++) expect((await session.run(reference.input_ids, wanted.length)).ids).toEqual(wanted);
    } finally {
      await session.close();
    }
  }, 120_000);

  test.skipIf(!m.lib)("past an end-of-text token: the bench's llama.cpp runs on, as ours does (eosTokenId: null), so both make as many tokens", async () => {
    const file = path.join(tmp, "tiny-eos.gguf");
    const third = wanted[2];
    writePhi2GgufFromFolder(DIR, { ...readPhiConfig(DIR), eosTokenId: third }, file, "F16"); // the 3rd greedy token is now the end of text
    const r = await runOnce(file, reference.input_ids, wanted.length);
    expect(r.ids).toEqual(wanted); // node-llama-cpp's default would stop before the 3rd token
  }, 120_000);

  test.skipIf(!m.lib)("random weights (the bench's, small shapes): llama.cpp's greedy ids equal our engine's", async () => {
    const config = { ...PHI2_CONFIG, numLayers: 2, hidden: 64, intermediate: 256, numHeads: 4, numKvHeads: 4, headDim: 16, rotaryDim: 6 };
    const tok = JSON.parse(fs.readFileSync(path.join(DIR, "tokenizer.json"), "utf8"));
    const file = path.join(tmp, "random-small.gguf");
    writePhi2GgufRandom(config, tok, file, "F16");
    const ours = await PhiModel.random(config, new JsMatmul(), "F16");
    const mine = await generate(ours, reference.input_ids, { maxNewTokens: 12, eosTokenId: null });
    await ours.close();
    const r = await runOnce(file, reference.input_ids, 12);
    expect(r.ids).toEqual(mine.newIds);
  }, 120_000);
});

test("bench --vs llama.cpp without node-llama-cpp: says so, adds only why, runs nothing", async () => {
  const lines: string[] = [];
  const why = "node-llama-cpp is not installed (it is an optional dependency: npm install --include=optional)";
  const out = await compareWithLlamaCpp({
    config: PHI2_CONFIG, type: "F16", threads: 2, promptIds: [1, 2], newTokens: 3,
    ours: { load_s: 1, prefill_s: 1, decode_tokens_per_s: 1, ids: [] },
    log: (l) => lines.push(l),
    loader: async () => ({ lib: null, why }),
  });
  expect(out).toEqual({ llama_cpp: null, llama_cpp_missing: why });
  expect(lines.join("\n")).toContain(`llama.cpp: not run — ${why}. Our row above stands alone.`);
});

describe("bench --vs llama.cpp --rounds: ours and llama.cpp interleaved pass by pass (a stand-in llama.cpp records the order)", () => {
  /** A stand-in for node-llama-cpp: each call is recorded in `events`; a run yields ids 7, 8, 9, … a millisecond apart. */
  function standIn(events: string[]) {
    const lib = {
      getLlama: async () => ({
        loadModel: async (opts: { useMmap?: boolean }) => {
          events.push(opts.useMmap ? "llama.cpp maps" : "llama.cpp loads");
          return {
            createContext: async () => ({
              getSequence: () => ({
                evaluate: async function* () {
                  events.push("llama.cpp runs");
                  passTimes.push(performance.now());
                  for (let id = 7; ; id++) {
                    await new Promise((r) => setTimeout(r, 1));
                    if (id > 7) {
                      events.push("llama.cpp step");
                      passTimes.push(performance.now());
                    }
                    yield id as never;
                  }
                },
              }),
              dispose: async () => {},
            }),
            tokenize: () => [],
            detokenize: () => "",
            dispose: async () => void events.push("llama.cpp freed"),
          };
        },
        dispose: async () => {},
      }),
    };
    return async () => ({ lib, version: "stand-in" });
  }
  /** When each pass of either side started (ours) or ended (the stand-in's steps), in order. */
  const passTimes: number[] = [];
  /** Our side: ids 7, 8, 9, …, each pass taking `passMs` (0: no wait at all), recorded in `events`. */
  const oursSteps = (events: string[], passMs: number) => async (): Promise<Steps> => {
    const ids: number[] = [];
    const pass = async (what: string) => {
      events.push(what);
      passTimes.push(performance.now());
      if (passMs > 0) await new Promise((r) => setTimeout(r, passMs));
      ids.push(7 + ids.length);
    };
    return { prefill: () => pass("ours runs"), step: () => pass("ours step"), ids, close: async () => void events.push("ours done") };
  };
  const base = (events: string[], oursTps: number, passMs = 0) => ({
    config: readPhiConfig(DIR), type: "F16" as const, threads: 1, promptIds: [1, 2, 3], newTokens: 4, folder: DIR,
    ours: { load_s: 1, prefill_s: 0.5, decode_tokens_per_s: oursTps, ids: [7, 8, 9, 10, 11] },
    log: () => {},
    loader: standIn(events),
    oursSteps: oursSteps(events, passMs),
    closeOurs: async () => void events.push("ours freed"),
    oursBytes: 1000,
  });

  test("3 rounds, both models held: llama.cpp's warm-up and an untimed prefill of ours, then each round both generations a pass each in turn, the order flipping every pass; per-round ratios, their median and who won", async () => {
    const events: string[] = [];
    passTimes.length = 0;
    const out = await compareWithLlamaCpp({ ...base(events, 1e9), rounds: 3 });
    // llama.cpp's warm-up (5 passes, as many as a round's) and our untimed prefill, then 3 rounds of 10: within a round, PASS_REST_MS of rest before each pass
    expect(passTimes).toHaveLength(6 + 30);
    for (let r = 0; r < 3; r++) {
      const t = passTimes.slice(6 + 10 * r, 16 + 10 * r);
      for (let i = 1; i < t.length; i++) expect(t[i] - t[i - 1]).toBeGreaterThanOrEqual(PASS_REST_MS - 1);
    }
    const ours = ["ours runs", "ours step", "ours step", "ours step", "ours step"];
    const theirs = ["llama.cpp runs", "llama.cpp step", "llama.cpp step", "llama.cpp step", "llama.cpp step"];
    const round = (oursFirst: boolean) => [...ours.flatMap((o, i) => ((i % 2 === 0) === oursFirst ? [o, theirs[i]] : [theirs[i], o])), "ours done"];
    expect(events).toEqual(["llama.cpp loads", ...theirs, "ours runs", "ours done", ...round(true), ...round(false), ...round(true), "llama.cpp freed"]);
    expect(out.llama_cpp_first_prefill_s).toBeGreaterThan(0);
    expect(out.llama_cpp_first_decode_tokens_per_s).toBeGreaterThan(0); // the warm-up's own decode steps, alone
    const rounds = out.round_results as { ours_decode_tokens_per_s: number; llama_cpp_decode_tokens_per_s: number; ours_prefill_s: number; llama_cpp_prefill_s: number }[];
    expect(out.rounds).toBe(3);
    expect(rounds).toHaveLength(3);
    const ratios = rounds.map((r) => r.ours_decode_tokens_per_s / r.llama_cpp_decode_tokens_per_s).sort((a, b) => a - b);
    expect(out.ratio_decode).toBe(ratios[1]);
    expect([out.ratio_decode_min, out.ratio_decode_max]).toEqual([ratios[0], ratios[2]]);
    expect(out.decode_verdict).toBe("ours at least as fast in all 3 rounds"); // no wait against the stand-in's 1 ms a pass
    expect(out.paired_steps).toBe(12); // 4 decode steps a round
    expect(out.paired_steps_ours_faster).toBe(12);
    expect(out.paired_sign_test_p).toBeCloseTo(2 / 2 ** 12, 15);
    expect(out.decode_paired_verdict).toBe("ours faster in 12 of 12 paired steps (sign test p = 0.0005)");
    expect(out.same_greedy_ids).toBe(5);
  });

  test("llama.cpp faster in every round and every step is said so", async () => {
    const out = await compareWithLlamaCpp({ ...base([], 1, 25), rounds: 2 }); // 25 ms a pass against the stand-in's 1
    expect(out.decode_verdict).toBe("llama.cpp faster in all 2 rounds");
    expect(out.llama_cpp_mmap).toBe(false); // read into memory unless asked: as our weights are by default
    expect(out.decode_paired_verdict).toBe("llama.cpp faster in 8 of 8 paired steps (sign test p = 0.0078)");
  });

  test("llamaMmap: llama.cpp maps its GGUF, as our side maps its image with --image-map", async () => {
    const events: string[] = [];
    const out = await compareWithLlamaCpp({ ...base(events, 1), rounds: 2, llamaMmap: true });
    expect(events[0]).toBe("llama.cpp maps");
    expect(out.llama_cpp_mmap).toBe(true);
  });

  test("both models would not fit in memory: one round, ours freed before llama.cpp loads, and the log says why", async () => {
    const events: string[] = [];
    const lines: string[] = [];
    const out = await compareWithLlamaCpp({ ...base(events, 1), rounds: 3, totalMemory: 1000, log: (l) => lines.push(l) });
    const steps = (n: number) => Array<string>(n).fill("llama.cpp step");
    expect(events).toEqual(["ours freed", "llama.cpp loads", "llama.cpp runs", ...steps(4), "llama.cpp runs", ...steps(4), "llama.cpp freed"]); // warm-up, then the one round, alone
    expect(out.rounds).toBe(1);
    expect(lines.join("\n")).toMatch(/--rounds 3: our model and llama.cpp's GGUF need \d+\.\d GB together, more than 75 % of this machine's 0\.0 GB: one round/);
    expect(out.decode_verdict).toBe("one round: no round-to-round spread measured (--rounds N for more)");
    expect(out.paired_steps).toBeUndefined(); // nothing ran beside llama.cpp
  });

  test("signTestP: the two-sided binomial tail, exact for small n, finite where 2^-n underflows", () => {
    expect(signTestP(0, 10)).toBe(2 / 1024);
    expect(signTestP(2, 10)).toBeCloseTo((2 * (1 + 10 + 45)) / 1024, 14);
    expect(signTestP(8, 10)).toBeCloseTo(signTestP(2, 10), 14); // symmetric
    expect(signTestP(5, 10)).toBe(1); // capped: the middle counts on both sides
    expect(signTestP(0, 0)).toBe(1);
    expect(signTestP(1000, 2000)).toBe(1);
    const p = signTestP(900, 2000); // 2^-2000 underflows; the sum in logarithms does not
    expect(p).toBeGreaterThan(0);
    expect(p).toBeLessThan(1e-5);
    expect(() => signTestP(3, 2)).toThrow(/k = 3, n = 2/);
  });

  test("pairedVerdict: a winner only below p = 0.01; exact ties left out", () => {
    expect(pairedVerdict([1.1, 1.2, 0.9, 1, 1.05]).verdict).toBe("ours faster in 3 of 4 paired steps: no winner beyond the step-to-step spread (sign test p = 0.6250, not below 0.01)");
    expect(pairedVerdict(Array(10).fill(0.9)).verdict).toBe("llama.cpp faster in 10 of 10 paired steps (sign test p = 0.0020)");
    expect(pairedVerdict(Array(20).fill(1.1)).verdict).toBe("ours faster in 20 of 20 paired steps (sign test p = 1.9e-6)");
    expect(pairedVerdict([]).verdict).toBe("no paired steps");
  });

  test("verdictOf: a side wins only if it wins every round", () => {
    expect(verdictOf([1, 1.2, 1.05])).toBe("ours at least as fast in all 3 rounds");
    expect(verdictOf([0.9, 0.99])).toBe("llama.cpp faster in all 2 rounds");
    expect(verdictOf([0.9, 1.1, 1.2])).toBe("ours ahead in 2 of 3 rounds: no winner beyond the round-to-round spread");
    expect(verdictOf([1.5])).toBe("one round: no round-to-round spread measured (--rounds N for more)");
  });
});
