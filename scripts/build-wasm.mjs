// Compile the AssemblyScript SIMD kernels into two modules beside their sources, and
// copy them beside the tsc output (dist/lib/phi2/kernels/) so the compiled worker
// finds them either way:
//   assembly/matvec.ts  → matvec.wasm   every kernel, SIMD as every Node ≥ 20 runs it
//   assembly/relaxed.ts → relaxed.wasm  the Q8_0 product with relaxed SIMD's int8 dot, the fp16
//                                       prefill's GEMM with its fused multiply-add
//                                       (used only where it validates and probes right)
// Runs before tsc in `npm run build`: node scripts/build-wasm.mjs && tsc -p tsconfig.json
import { mkdirSync, copyFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const assembly = join(root, "lib/phi2/kernels/assembly");
const modules = [
  { entry: "matvec.ts", wasm: "matvec.wasm", features: [] },
  { entry: "relaxed.ts", wasm: "relaxed.wasm", features: ["--enable", "relaxed-simd"] },
];

// Skip a module when its .wasm is newer than every source (the build runs on every npm script).
const newest = Math.max(...readdirSync(assembly).filter((f) => f.endsWith(".ts")).map((f) => statSync(join(assembly, f)).mtimeMs), statSync(fileURLToPath(import.meta.url)).mtimeMs);
const fresh = (file) => {
  try {
    return statSync(file).mtimeMs >= newest;
  } catch {
    return false;
  }
};

for (const m of modules) {
  const wasm = join(root, "lib/phi2/kernels", m.wasm);
  if (!fresh(wasm)) {
    const { default: asc } = await import("assemblyscript/asc"); // (slow to load: only when needed)
    const { error, stderr } = await asc.main([
      join(assembly, m.entry),
      "--outFile", wasm,
      "-O3", "--noAssert",
      "--enable", "simd", ...m.features,
      "--runtime", "stub", // no allocations: the JS side owns the memory layout
      "--importMemory", // the JS side creates (and grows) the memories…
      "--sharedMemory", "--maximumMemory", "65535", "--enable", "threads", // …shared by all worker threads
      "--use", "abort=", // no env.abort import
    ]);
    if (error) {
      console.error(stderr.toString());
      console.error(`build-wasm: ${m.entry}: ${error.message}`);
      process.exit(1);
    }
  }
  const distCopy = join(root, "dist/lib/phi2/kernels", m.wasm);
  mkdirSync(dirname(distCopy), { recursive: true });
  copyFileSync(wasm, distCopy);
}
