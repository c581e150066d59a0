// Parameter counts from safetensors headers against lib/compute's count from the
// config (two independent routes), including phi-2's published 2,779,683,840
// from a header with phi-2's exact tensor names and shapes (a sparse file: no weights).
import { afterAll, expect, test } from "vitest";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { countParameters } from "../lib/compute/params";
import { PHI2_CONFIG as PHI2_COMPUTE } from "../lib/compute/models";
import { computeConfigOf, paramsByGroup, predictGeneration } from "../lib/phi2/budget";
import { PHI2_CONFIG, readPhiConfig } from "../lib/phi2/config";
import { estimateMemory } from "../lib/phi2/load";
import { SafetensorsModel } from "../lib/phi2/safetensors";

const DIR = path.join(__dirname, "fixtures", "tiny-phi");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "phi2-budget-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const total = (st: SafetensorsModel) => paramsByGroup(st).reduce((s, g) => s + g.params, 0);

test("tiny-phi: headers and lib/compute's formula agree, group by group", () => {
  const st = SafetensorsModel.open(DIR);
  const c = countParameters(computeConfigOf(readPhiConfig(DIR)));
  const g = Object.fromEntries(paramsByGroup(st).map((x) => [x.group, x.params]));
  expect(g["token embedding"]).toBe(c.tokenEmbedding);
  expect(g["attention: q, k, v, dense (+ biases)"]).toBe(2 * c.attention);
  expect(g["MLP: fc1, fc2 (+ biases)"]).toBe(2 * c.mlp);
  expect(g["lm_head (+ bias)"]).toBe(c.lmHead);
  expect(total(st)).toBe(c.total);
  st.close();
});

/** A safetensors file with phi-2's tensor names and fp16 shapes; the data section is a hole. */
function phi2ShapedFile(): string {
  const { hidden: d, intermediate: f, vocabSize: v, numLayers } = PHI2_CONFIG;
  const shapes: [string, number[]][] = [["model.embed_tokens.weight", [v, d]]];
  for (let i = 0; i < numLayers; i++) {
    const p = `model.layers.${i}`;
    shapes.push([`${p}.input_layernorm.weight`, [d]], [`${p}.input_layernorm.bias`, [d]]);
    for (const n of ["q_proj", "k_proj", "v_proj", "dense"]) shapes.push([`${p}.self_attn.${n}.weight`, [d, d]], [`${p}.self_attn.${n}.bias`, [d]]);
    shapes.push([`${p}.mlp.fc1.weight`, [f, d]], [`${p}.mlp.fc1.bias`, [f]], [`${p}.mlp.fc2.weight`, [d, f]], [`${p}.mlp.fc2.bias`, [d]]);
  }
  shapes.push(["model.final_layernorm.weight", [d]], ["model.final_layernorm.bias", [d]], ["lm_head.weight", [v, d]], ["lm_head.bias", [v]]);
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let off = 0;
  for (const [name, shape] of shapes) {
    const bytes = shape.reduce((a, b) => a * b, 1) * 2;
    header[name] = { dtype: "F16", shape, data_offsets: [off, off + bytes] };
    off += bytes;
  }
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  const file = path.join(tmp, "phi2-shaped.safetensors");
  fs.writeFileSync(file, Buffer.concat([len, h]));
  fs.truncateSync(file, 8 + h.length + off); // sparse: no disk blocks for the weights
  return file;
}

test("phi-2's shapes: 2,779,683,840 parameters from the header alone, as lib/compute counts from the config", () => {
  const st = SafetensorsModel.open(phi2ShapedFile());
  expect(st.tensors.size).toBe(453); // 1 + 32 × 14 + 4
  expect(total(st)).toBe(2_779_683_840);
  expect(countParameters(PHI2_COMPUTE).total).toBe(2_779_683_840);
  expect(countParameters(computeConfigOf(PHI2_CONFIG)).total).toBe(2_779_683_840);
  // fp16 matrices (everything 2-D but the embedding) = what one decoded token reads
  const e = estimateMemory(st, PHI2_CONFIG, "stored", 200);
  const embedding = 51200 * 2560;
  const vectors = 32 * (2 * 2560 + 3 * 2560 + 2560 + 10240 + 2560) + 2 * 2560 + 51200;
  expect(e.matrices).toBe(2 * (2_779_683_840 - embedding - vectors));
  st.close();
});

test("predictGeneration: the bandwidth bound, for the article's prompt of 10 tokens", () => {
  // 5.3 GB per token at 19.5 GB/s: 3.68 tokens/s; max_length 200 → 190 new tokens
  const p = predictGeneration(10, 200, 5.3e9, 19.5);
  expect(p.newTokens).toBe(190);
  expect(p.tokensPerSecond).toBeCloseTo(19.5 / 5.3, 10);
  expect(p.seconds).toBeCloseTo((190 * 5.3) / 19.5, 10);
});
