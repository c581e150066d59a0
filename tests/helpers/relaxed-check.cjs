// Run by tests/phi2-kernels.test.ts, possibly under another Node (PHI2_RELAXED_NODE):
// the Q8_0 products with relaxed SIMD's int8 dot against the int16 kernel, which must
// agree to the bit (the same integer sums), on shapes that exercise the tiled layout,
// column panels and several tokens, and on the tiny-phi fixture's logits. Then fp16:
// the prefill's GEMM with fused multiply-adds against the portable one (close, not the
// same bits), its decode products (not fused: the same bits), tiny-phi's fp16 logits,
// and one product whose last bit shows whether the multiply-add was fused.
// Also the name of a backend made with the defaults, and whether int8DotPays() here.
// Prints one JSON line: { node, relaxedName, portableName, defaultName, int8DotPays, values, differ, logits,
// f16: { values, maxRel, decodeValues, decodeDiffer, logitsMaxDiff, fusedProbe } }.
const path = require("node:path");
const L = require(path.join(__dirname, "../../dist/lib/phi2"));
const W = require(path.join(__dirname, "../../dist/lib/phi2/kernels/wasm"));

/** fp16 weights through both backends (see the header). */
async function checkF16(relaxed, portable, st, config) {
  const r = { values: 0, maxRel: 0, decodeValues: 0, decodeDiffer: 0, logitsMaxDiff: 0, fusedProbe: [] };
  for (const [rows, cols] of [[64, 256], [8, 8192], [12, 5120], [44, 1024]]) {
    const spec = { name: "w", dtype: "F16", rows, cols, source: { kind: "random", seed: rows * cols, scale: 0.05 } };
    const [hr, hp] = [await relaxed.addWeight(spec), await portable.addWeight(spec)];
    for (const T of [1, 3, 10]) {
      const x = Float32Array.from({ length: T * cols }, (_, i) => Math.cos(i * 0.29) * (i % 5));
      const [a, b] = [await relaxed.matmul(hr, x, T), await portable.matmul(hp, x, T)];
      const scale = b.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      for (let i = 0; i < a.length; i++) {
        if (T === 1) {
          r.decodeValues++;
          if (!Object.is(a[i], b[i])) r.decodeDiffer++;
        } else {
          r.values++;
          r.maxRel = Math.max(r.maxRel, Math.abs(a[i] - b[i]) / scale);
        }
      }
    }
  }
  const logits = [];
  for (const backend of [relaxed, portable]) {
    const model = await L.PhiModel.load(st, config, backend);
    logits.push(await model.forward([50256, 464, 2068, 7586, 21831], model.newCache(8), { allLogits: true }));
  }
  for (let i = 0; i < logits[0].length; i++) r.logitsMaxDiff = Math.max(r.logitsMaxDiff, Math.abs(logits[0][i] - logits[1][i]));
  // Row 0 = [−1, 1 + 2^-10, 0…], x = [1 + 2^-10 + 2^-14, 1 + 2^-14, 0…] (exact in fp16 and
  // float32), two tokens: the two products go through the same lane in turn, and
  // (1 + 2^-10)(1 + 2^-14) = 1 + 2^-10 + 2^-14 + 2^-24 is a tie in float32. Rounded first
  // (to even: 1 + 2^-10 + 2^-14), the sum is 0; fused, it is exactly 2^-24.
  const halves = new Uint16Array(4 * 8);
  halves[0] = 0xbc00; // −1
  halves[1] = 0x3c01; // 1 + 2^-10
  const probe = { name: "fma", dtype: "F16", rows: 4, cols: 8, source: { kind: "bytes", bytes: new Uint8Array(halves.buffer) } };
  const x = new Float32Array(16);
  x[0] = x[8] = 1 + 2 ** -10 + 2 ** -14;
  x[1] = x[9] = 1 + 2 ** -14;
  for (const backend of [relaxed, portable]) r.fusedProbe.push((await backend.matmul(await backend.addWeight(probe), x, 2))[0]);
  return r;
}

(async () => {
  const relaxed = await L.createWasmMatmul({ threads: 3, int8Dot: true }); // whether or not it pays on this CPU
  const byDefault = await L.createWasmMatmul({ threads: 1 });
  const defaultName = byDefault.name;
  await byDefault.close();
  const portable = await L.createWasmMatmul({ threads: 3, relaxed: false });
  let values = 0, differ = 0;
  const same = (a, b) => {
    values += a.length;
    for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) differ++;
  };
  try {
    for (const [rows, cols] of [[64, 256], [8, 8192], [12, 5120], [44, 1024], [37, 64]]) {
      const spec = { name: "w", dtype: "F16", rows, cols, source: { kind: "random", seed: rows + cols, scale: 0.05 }, hold: "Q8_0" };
      const [hr, hp] = [await relaxed.addWeight(spec), await portable.addWeight(spec)];
      for (const T of [1, 3, 10]) {
        const x = Float32Array.from({ length: T * cols }, (_, i) => Math.sin(i * 0.37) * (i % 7));
        same(await relaxed.matmul(hr, x, T), await portable.matmul(hp, x, T));
      }
    }
    const dir = path.join(__dirname, "../fixtures/tiny-phi");
    const st = L.SafetensorsModel.open(dir);
    const config = L.readPhiConfig(dir);
    const logits = [];
    for (const backend of [relaxed, portable]) {
      const model = await L.PhiModel.load(st, config, backend, { hold: "Q8_0" });
      logits.push(await model.forward([50256, 464, 2068, 7586, 21831], model.newCache(8), { allLogits: true }));
    }
    same(logits[0], logits[1]);
    const f16 = await checkF16(relaxed, portable, st, config);
    console.log(JSON.stringify({ node: process.version, relaxedName: relaxed.name, portableName: portable.name, defaultName, int8DotPays: W.int8DotPays(), values, differ, logits: logits[0].length, f16 }));
  } finally {
    await relaxed.close();
    await portable.close();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
