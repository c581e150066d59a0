// Our phi decoder against Hugging Face transformers' PhiForCausalLM on the tiny-phi
// fixture (make_tiny_phi.py): same published-format files, reference outputs
// computed by transformers in float32.
import { beforeAll, describe, expect, test } from "vitest";
import * as fs from "node:fs";
import * as path from "node:path";
import { ARTICLE_PROMPT } from "../lib/phi2";
import { readPhiConfig } from "../lib/phi2/config";
import { argmax, generate, generateBatch, GreedySteps, TextStream } from "../lib/phi2/generate";
import { createBackend } from "../lib/phi2/load";
import { JsMatmul } from "../lib/phi2/matmul-js";
import { applyRotary, PhiModel } from "../lib/phi2/model";
import { SafetensorsModel } from "../lib/phi2/safetensors";
import { loadTokenizer } from "../lib/phi2/tokenizer";

const DIR = path.join(__dirname, "fixtures", "tiny-phi");
const reference = JSON.parse(fs.readFileSync(path.join(DIR, "reference.json"), "utf8"));

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

let model: PhiModel;
beforeAll(async () => {
  const st = SafetensorsModel.open(DIR);
  model = await PhiModel.load(st, readPhiConfig(DIR), new JsMatmul());
  st.close();
});

describe("tiny-phi forward pass vs transformers", () => {
  const ref = SafetensorsModel.open(path.join(DIR, "reference.safetensors"));
  const ids: number[] = Array.from(new BigInt64Array(ref.readBytes("input_ids").slice().buffer), Number);

  test("the reference's input ids are the article's prompt", () => {
    expect(ids).toEqual(reference.input_ids);
    expect(ids).toHaveLength(10);
    expect(reference.prompt).toBe(ARTICLE_PROMPT);
  });

  test("residual stream after each layer, final norm and logits at every position within 1e-4", async () => {
    const { hidden, numLayers, vocabSize } = model.config;
    const T = ids.length;
    const residuals: Float32Array[] = [];
    let finalNorm: Float32Array | undefined;
    const logits = await model.forward(ids, model.newCache(), {
      allLogits: true,
      hooks: { onResidual: (_i, x) => residuals.push(x.slice()), onFinalNorm: (x) => (finalNorm = x.slice()) },
    });
    const layerOutputs = ref.readF32("layer_outputs"); // [layers+1, T, hidden]
    expect(ref.info("layer_outputs").shape).toEqual([numLayers + 1, T, hidden]);
    expect(residuals).toHaveLength(numLayers + 1);
    for (let i = 0; i <= numLayers; i++) {
      expect(maxAbsDiff(residuals[i], layerOutputs.subarray(i * T * hidden, (i + 1) * T * hidden))).toBeLessThan(1e-4);
    }
    expect(maxAbsDiff(finalNorm!, ref.readF32("final_norm"))).toBeLessThan(1e-4);
    const refLogits = ref.readF32("logits"); // [T, vocab]
    expect(logits.length).toBe(T * vocabSize);
    for (let t = 0; t < T; t++) {
      const d = maxAbsDiff(logits.subarray(t * vocabSize, (t + 1) * vocabSize), refLogits.subarray(t * vocabSize, (t + 1) * vocabSize));
      expect(d, `position ${t}`).toBeLessThan(1e-4);
    }
  });

  test("one token at a time through the KV cache gives the same logits as the whole prompt", async () => {
    const { vocabSize } = model.config;
    const refLogits = ref.readF32("logits");
    const cache = model.newCache(2); // small on purpose: it has to grow
    for (let t = 0; t < ids.length; t++) {
      const row = await model.forward([ids[t]], cache);
      expect(maxAbsDiff(row, refLogits.subarray(t * vocabSize, (t + 1) * vocabSize)), `position ${t}`).toBeLessThan(1e-4);
    }
  });
});

describe("greedy generation vs transformers' generate(do_sample=False)", () => {
  for (const maxLength of [40, 12]) {
    test(`max_length ${maxLength}: identical ids`, async () => {
      const streamed: number[] = [];
      const r = await generate(model, reference.input_ids, { maxLength, onToken: (id) => streamed.push(id) });
      expect(r.ids).toEqual(reference[`greedy_max_length_${maxLength}`]);
      expect(streamed).toEqual(r.newIds);
      expect(r.ids).toHaveLength(maxLength); // max_length counts the prompt
      expect(r.prefillSeconds).toBeGreaterThan(0);
      expect(r.decodeTokensPerSecond).toBeGreaterThan(0);
    });
  }

  test("GreedySteps: a pass at a time (the bench's interleaving) gives transformers' ids; its calls out of order are refused", async () => {
    const wanted = reference.greedy_max_length_40.slice(reference.input_ids.length);
    const run = new GreedySteps(model, reference.input_ids, 4); // a cache for 4 new tokens: it grows past them
    await expect(run.step()).rejects.toThrow(/step\(\) before prefill\(\)/);
    expect(await run.prefill()).toBe(wanted[0]);
    await expect(run.prefill()).rejects.toThrow(/prefill\(\) runs once, first/);
    while (run.newIds.length < wanted.length) await run.step();
    expect(run.newIds).toEqual(wanted);
    expect(() => new GreedySteps(model, [], 4)).toThrow(/empty prompt/);
  });

  test("maxNewTokens counts only new tokens", async () => {
    const r = await generate(model, reference.input_ids, { maxNewTokens: 5 });
    expect(r.ids).toEqual(reference.greedy_max_length_40.slice(0, 15));
  });

  test("stops at eos", async () => {
    // make the 3rd generated token the eos: generation must stop right after it
    const third = reference.greedy_max_length_40[12];
    const r = await generate(model, reference.input_ids, { maxLength: 40, eosTokenId: third });
    expect(r.newIds).toEqual(reference.greedy_max_length_40.slice(10, 13));
  });

  test("the streamed text equals transformers' decode of the new tokens", async () => {
    const tok = await loadTokenizer(DIR);
    let text = "";
    const stream = new TextStream(tok.decode, (s) => (text += s));
    await generate(model, reference.input_ids, { maxLength: 40, onToken: (id) => stream.push(id) });
    stream.flush();
    expect(text).toBe(reference.greedy_text_40);
  });
});

test("the fast backend (kernels/, when built: what `auto` picks) gives the same logits and greedy ids", async () => {
  const backend = await createBackend("auto", { threads: 2 });
  const st = SafetensorsModel.open(DIR);
  const fast = await PhiModel.load(st, readPhiConfig(DIR), backend);
  st.close();
  try {
    const ref = SafetensorsModel.open(path.join(DIR, "reference.safetensors"));
    const logits = await fast.forward(reference.input_ids, fast.newCache(), { allLogits: true });
    expect(maxAbsDiff(logits, ref.readF32("logits")), backend.name).toBeLessThan(1e-4);
    ref.close();
    const r = await generate(fast, reference.input_ids, { maxLength: 40 });
    expect(r.ids).toEqual(reference.greedy_max_length_40);
  } finally {
    await fast.close();
  }
});

test("loading reports progress after each matrix, ending at the total of matrix weights", async () => {
  const seen: [number, number][] = [];
  const st = SafetensorsModel.open(DIR);
  const config = readPhiConfig(DIR);
  const m = await PhiModel.load(st, config, new JsMatmul(), { onProgress: (done, total) => seen.push([done, total]) });
  st.close();
  const { hidden: h, intermediate: im, vocabSize } = config;
  const total = config.numLayers * (4 * h * h + 2 * h * im) + vocabSize * h;
  expect(seen).toHaveLength(6 * config.numLayers + 1);
  expect(seen.every(([d, t], i) => t === total && d > (i ? seen[i - 1][0] : 0))).toBe(true);
  expect(seen[seen.length - 1][0]).toBe(total);
  await m.close();
});

describe("batch decoding: several sequences per pass over the weights", () => {
  const prompts = [reference.input_ids as number[], (reference.input_ids as number[]).slice(0, 4), [50256, 464, 3290]];
  test("forwardBatch's logits equal each sequence's own forward", async () => {
    const solo = prompts.map(() => model.newCache());
    const together = prompts.map(() => model.newCache());
    for (let b = 0; b < prompts.length; b++) {
      await model.forward(prompts[b], solo[b]);
      await model.forward(prompts[b], together[b]);
    }
    const next = [11, 262, 13];
    const batch = await model.forwardBatch(next, together);
    const V = model.config.vocabSize;
    for (let b = 0; b < prompts.length; b++) {
      expect(maxAbsDiff(batch.subarray(b * V, (b + 1) * V), await model.forward([next[b]], solo[b])), `sequence ${b}`).toBeLessThan(1e-5);
      expect(together[b].length).toBe(prompts[b].length + 1);
    }
    await expect(model.forwardBatch([1, 2], [together[0], together[0]])).rejects.toThrow(/own cache/);
  });

  for (const kind of ["js", "wasm"] as const) {
    test(`${kind}: generateBatch gives every sequence the ids generate() gives it alone`, async () => {
      const st = SafetensorsModel.open(DIR);
      const m = kind === "js" ? model : await PhiModel.load(st, readPhiConfig(DIR), await createBackend("wasm", { threads: 2 }));
      st.close();
      try {
        const r = await generateBatch(m, prompts, { maxNewTokens: 12, eosTokenId: null });
        expect(r.steps).toBe(11);
        for (let b = 0; b < prompts.length; b++) {
          expect(r.ids[b]).toEqual((await generate(m, prompts[b], { maxNewTokens: 12, eosTokenId: null })).ids);
        }
        expect(r.ids[0]).toEqual(reference.greedy_max_length_40.slice(0, 22));
      } finally {
        if (m !== model) await m.close();
      }
    });
  }
});

describe("int8 weights (Q8_0, quantized at load): error against the fp16 weights, measured", () => {
  // Measured on this fixture: max |Δlogit| 0.064 over all 10 positions × 51200 logits
  // top-1 the same at every position, on both backends.
  for (const kind of ["js", "wasm"] as const) {
    test(`${kind}: max |Δlogit| < 0.1 and the same top-1 token at every prompt position`, async () => {
      const backend = await createBackend(kind, { threads: 2 });
      const st = SafetensorsModel.open(DIR);
      const q8 = await PhiModel.load(st, readPhiConfig(DIR), backend, { hold: "Q8_0" });
      st.close();
      try {
        const { vocabSize } = q8.config;
        const base = await model.forward(reference.input_ids, model.newCache(), { allLogits: true });
        const logits = await q8.forward(reference.input_ids, q8.newCache(), { allLogits: true });
        const d = maxAbsDiff(logits, base);
        expect(d).toBeLessThan(0.1);
        expect(d).toBeGreaterThan(1e-4); // it really is the int8 path
        for (let t = 0; t < reference.input_ids.length; t++) {
          const row = (a: Float32Array) => a.subarray(t * vocabSize, (t + 1) * vocabSize);
          expect(argmax(row(logits)), `position ${t}`).toBe(argmax(row(base)));
        }
      } finally {
        await q8.close();
      }
    });
  }

  test("held as float32 (--dtype fp32) keeps the reference's logits within 1e-4", async () => {
    const backend = await createBackend("wasm", { threads: 2 });
    const st = SafetensorsModel.open(DIR);
    const f32 = await PhiModel.load(st, readPhiConfig(DIR), backend, { hold: "F32" });
    st.close();
    try {
      const ref = SafetensorsModel.open(path.join(DIR, "reference.safetensors"));
      expect(maxAbsDiff(await f32.forward(reference.input_ids, f32.newCache(), { allLogits: true }), ref.readF32("logits"))).toBeLessThan(1e-4);
      ref.close();
    } finally {
      await f32.close();
    }
  });
});

test("rotary embedding touches only the first rotaryDim dims and rotates pairs (j, j + rotaryDim/2)", () => {
  // one head, headDim 6, rotaryDim 4, position 1, theta 10000: f_0 = 1, f_1 = 1/100
  const x = new Float32Array([1, 2, 3, 4, 5, 6]);
  applyRotary(x, 1, 1, 6, 4, 1, 10000);
  const c0 = Math.cos(1), s0 = Math.sin(1), c1 = Math.cos(0.01), s1 = Math.sin(0.01);
  const expected = [1 * c0 - 3 * s0, 2 * c1 - 4 * s1, 3 * c0 + 1 * s0, 4 * c1 + 2 * s1, 5, 6];
  expected.forEach((e, i) => expect(x[i]).toBeCloseTo(e, 6));
});

test("a layer that fails while the embedding is still being read: the error comes after the read settles (the caller then closes the files)", async () => {
  const st = SafetensorsModel.open(DIR);
  const config = readPhiConfig(DIR);
  try {
    // the embedding's read, held open until released below
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let settled = false;
    const real = st.readBytesAsync.bind(st);
    st.readBytesAsync = async (name: string) => {
      const bytes = await real(name);
      await gate;
      settled = true;
      return bytes;
    };
    // a backend whose third weight fails
    const inner = new JsMatmul();
    let added = 0;
    const failing = Object.assign(Object.create(inner) as JsMatmul, {
      addWeight: (spec: Parameters<JsMatmul["addWeight"]>[0]) => (++added === 3 ? Promise.reject(new Error("third weight refused")) : inner.addWeight(spec)),
    });
    let rejectedBeforeRead = false;
    const load = PhiModel.load(st, config, failing).catch((e: Error) => {
      rejectedBeforeRead = !settled;
      return e;
    });
    await new Promise((r) => setTimeout(r, 50)); // the third weight has failed by now; the read is still held
    expect(added).toBe(3);
    release();
    const e = await load;
    expect((e as Error).message).toBe("third weight refused");
    expect(rejectedBeforeRead).toBe(false);
  } finally {
    st.close();
  }
});
