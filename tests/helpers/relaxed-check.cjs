// Run by tests/phi2-kernels.test.ts, possibly under another Node (PHI2_RELAXED_NODE):
// the Q8_0 products with relaxed SIMD's int8 dot against the int16 kernel, which must
// agree to the bit (the same integer sums), on shapes that exercise the tiled layout,
// column panels and several tokens, and on the tiny-phi fixture's logits.
// Prints one JSON line: { node, relaxedName, portableName, values, differ, logits }.
const path = require("node:path");
const L = require(path.join(__dirname, "../../dist/lib/phi2"));

(async () => {
  const relaxed = await L.createWasmMatmul({ threads: 3 });
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
    console.log(JSON.stringify({ node: process.version, relaxedName: relaxed.name, portableName: portable.name, values, differ, logits: logits[0].length }));
  } finally {
    await relaxed.close();
    await portable.close();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
