// Compile the AssemblyScript SIMD kernels (lib/phi2/kernels/assembly/matvec.ts)
// into lib/phi2/kernels/matvec.wasm, and copy it beside the tsc output
// (dist/lib/phi2/kernels/) so the compiled worker finds it either way.
// Runs before tsc in `npm run build`: node scripts/build-wasm.mjs && tsc -p tsconfig.json
import { mkdirSync, copyFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "lib/phi2/kernels/assembly/matvec.ts");
const wasm = join(root, "lib/phi2/kernels/matvec.wasm");
const distCopy = join(root, "dist/lib/phi2/kernels/matvec.wasm");

// Skip when the .wasm is newer than its sources (the build runs on every npm script).
const sources = readdirSync(dirname(source)).filter((f) => f.endsWith(".ts")).map((f) => join(dirname(source), f));
const fresh = (() => {
  try {
    return statSync(wasm).mtimeMs >= Math.max(...sources.map((f) => statSync(f).mtimeMs), statSync(fileURLToPath(import.meta.url)).mtimeMs);
  } catch {
    return false;
  }
})();

if (!fresh) {
  const { default: asc } = await import("assemblyscript/asc"); // (slow to load: only when needed)
  const { error, stderr } = await asc.main([
    source,
    "--outFile", wasm,
    "-O3", "--noAssert",
    "--enable", "simd",
    "--runtime", "stub", // no allocations: the JS side owns the memory layout
    "--importMemory", // the JS side creates (and grows) the memories…
    "--sharedMemory", "--maximumMemory", "65535", "--enable", "threads", // …shared by all worker threads
    "--use", "abort=", // no env.abort import
  ]);
  if (error) {
    console.error(stderr.toString());
    console.error(`build-wasm: ${error.message}`);
    process.exit(1);
  }
}
mkdirSync(dirname(distCopy), { recursive: true });
copyFileSync(wasm, distCopy);
