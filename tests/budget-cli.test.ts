// The budget CLI: numbers through runBudget(argv), every bad-input path (message + exit
// code 2), and the real compiled process once.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runBudget } from "../scripts/budget";

const root = join(__dirname, "..");
const base = ["--params", "175e9", "--tokens", "300e9"];
const json = (argv: string[]) => {
  const r = runBudget([...argv, "--json"]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Record<string, number | string>;
};

describe("budget CLI numbers", () => {
  it("GPT-3 on H100 SXM, bf16, 50 % MFU, 30 days: 3.15e23 FLOPs, 246 GPUs", () => {
    const o = json([...base, "--gpu", "h100-sxm", "--precision", "bf16", "--mfu", "0.5", "--days", "30"]);
    expect(o.flops).toBeCloseTo(3.15e23, -20);
    expect(Math.round(o.gpus as number)).toBe(246);
    expect(o.gpu_hours).toBeCloseTo((o.gpus as number) * 30 * 24, 3);
    expect(o.gpus_for_weights).toBe(5);
  });

  it("--peak-tflops 63 reproduces the article's inputs: 3,858 GPUs", () => {
    const o = json([...base, "--precision", "fp32", "--mfu", "0.5", "--days", "30", "--peak-tflops", "63"]);
    expect(Math.round(o.gpus as number)).toBe(3858);
    expect(o.peak_tflops).toBe(63);
  });

  it("accepts suffixes and key=value", () => {
    const a = json(["--params=175B", "--tokens", "300B", "--mfu=0.5"]);
    const b = json([...base, "--mfu", "0.5"]);
    expect(a.gpus).toBe(b.gpus);
  });

  it("prints a readable report with FLOPs, GPUs, GPU-hours and memory", () => {
    const r = runBudget([...base, "--gpu", "h100-sxm", "--precision", "bf16", "--mfu", "0.5", "--days", "30"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/FLOPs C\s+3\.15e\+23/);
    expect(r.stdout).toMatch(/GPUs\s+245\.8\s+→\s+246 to finish within 30 days/);
    expect(r.stdout).toMatch(/GPU-hours\s+176,946/);
    expect(r.stdout).toMatch(/weights \(bf16\)\s+350\.0 GB\s+→\s+5 GPU/);
  });

  it("--help exits 0 and lists the GPUs", () => {
    const r = runBudget(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: npm run budget/);
    expect(r.stdout).toMatch(/h100-pcie/);
  });
});

describe("budget CLI bad input: exit code 2 and a clear message", () => {
  const cases: [string, string[], RegExp][] = [
    ["unknown GPU", [...base, "--gpu", "b200"], /--gpu must be one of a100-sxm, h100-sxm, h100-pcie, h200-sxm, v100-sxm, tpu-v4; got "b200"/],
    ["GPU prefix", [...base, "--gpu", "h100"], /--gpu must be one of .*; got "h100" \(did you mean h100-sxm or h100-pcie\?\)/],
    ["unknown precision for that GPU", [...base, "--gpu", "a100-sxm", "--precision", "fp8"], /A100 SXM 80GB has no "fp8" peak.*it has: fp64, fp32, tf32, bf16, fp16/],
    ["unknown precision", [...base, "--precision", "int4"], /--precision must be one of fp64, fp32, tf32, bf16, fp16, fp8; got "int4"/],
    ["zero params", ["--params", "0", "--tokens", "1e9"], /--params must be a number in \[1, 1e15\], got 0 \(the largest published models have ~2e12\)/],
    ["params beyond the limit", ["--params", "1e16", "--tokens", "1e9"], /--params must be a number in \[1, 1e15\], got 1e16/],
    ["tokens beyond the limit", ["--params", "1e9", "--tokens", "1e300"], /--tokens must be a number in \[1, 1e17\], got 1e300/],
    ["negative days", [...base, "--days", "-3"], /--days must be a number in \[0.01, 36500\], got -3/],
    ["negative days with =", [...base, "--days=-3"], /--days must be a number in \[0.01, 36500\], got -3/],
    ["zero peak", [...base, "--peak-tflops", "0"], /--peak-tflops must be a number in \[0.001, 100000\], got 0/],
    ["not a number", ["--params", "175e9", "--tokens", "lots"], /--tokens: "lots" is not a number \(write a decimal number such as 300e9.*allowed range \[1, 1e17\]\)/],
    ["MFU above 1", [...base, "--mfu", "50"], /--mfu must be a number in \[0.01, 1\], got 50 \(for 50 % write 0.5; below 1 % of peak is not a training plan\)/],
    ["MFU of 0", [...base, "--mfu", "0"], /--mfu must be a number in \[0.01, 1\], got 0/],
    ["MFU not a number", [...base, "--mfu", "high"], /--mfu: "high" is not a number/],
    ["unknown flag", [...base, "--gpus", "8"], /unknown flag --gpus; valid flags: --help, --params, --tokens, --gpu, --precision, --mfu, --days, --peak-tflops, --json/],
    ["missing value at the end", [...base, "--days"], /--days needs a value \(e.g. --days 30\)/],
    ["missing value before a flag", ["--params", "--tokens", "300e9"], /--params needs a value before --tokens \(e.g. --params 175e9\)/],
    ["missing --params", ["--tokens", "300e9"], /--params is required \(e.g. --params 175e9\)/],
    ["stray argument", [...base, "h100"], /unexpected argument "h100"/],
    ["value for --json", [...base, "--json=yes"], /--json takes no value, got "yes"/],
    // issue 11: each of these used to give a number
    ["comma in a number (read as 175 before)", ["--params", "1,75", "--tokens", "300e9"], /--params: "1,75" is not a number \(a comma is neither a thousands separator nor a decimal point here/],
    ["thousands separator", ["--params", "175,000,000,000", "--tokens", "300e9"], /--params: "175,000,000,000" is not a number/],
    ["MFU 1e-300 (a 300-digit GPU count and ∞ before)", [...base, "--mfu", "1e-300"], /--mfu must be a number in \[0.01, 1\], got 1e-300 \(below 1 % of peak is not a training plan\)/],
    ["hexadecimal MFU (accepted before)", [...base, "--mfu", "0x1"], /--mfu: "0x1" is not a number \(hexadecimal, octal and binary are not accepted; .*allowed range \[0.01, 1\]\)/],
    ["Infinity", [...base, "--days", "Infinity"], /--days: "Infinity" is not a number \(it must be a finite number/],
    ["repeated flag (the last one won before)", [...base, "--mfu", "0.4", "--mfu", "0.5"], /--mfu is given twice \("0.4" and "0.5"\): give it once/],
    ["repeated flag with =", [...base, "--gpu=h100-sxm", "--gpu", "a100-sxm"], /--gpu is given twice/],
  ];
  for (const [name, argv, message] of cases) {
    it(name, () => {
      const r = runBudget(argv);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/^budget: .*\n\(see npm run budget -- --help\)\n$/); // one line, then where help is
    });
  }
});

describe("budget CLI limits keep every result finite and readable", () => {
  it("the most extreme plan the limits allow prints no Infinity and no 20-digit counts", () => {
    const argv = ["--params", "1e15", "--tokens", "1e17", "--mfu", "0.01", "--days", "0.01", "--peak-tflops", "0.001"];
    const o = json(argv);
    for (const v of Object.values(o)) if (typeof v === "number") expect(Number.isFinite(v)).toBe(true);
    const r = runBudget(argv);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/Infinity|∞|NaN/);
    expect(r.stdout).not.toMatch(/\d{1,3}(,\d{3}){5,}/); // nothing as long as 1,000,000,000,000,000
    expect(r.stdout).toMatch(/GPUs\s+6\.94e\+22\s+→\s+6\.94e\+22 to finish within 0.01 days/);
  });

  it("upper-case GPU and precision ids are read", () => {
    expect(json([...base, "--gpu", "H100-SXM", "--precision", "BF16"]).gpu).toBe("h100-sxm");
  });

  it("--help states every limit", () => {
    const h = runBudget(["--help"]).stdout;
    for (const range of ["[1, 1e15]", "[1, 1e17]", "[0.01, 1]", "[0.01, 36500]", "[0.001, 100000]"]) expect(h).toContain(range);
  });
});

describe("the compiled CLI as a process", () => {
  const js = join(root, "dist", "scripts", "budget.js");
  // stale when any source is newer than its own compiled file (tsc -incremental only rewrites what changed)
  const sources = [join("scripts", "budget.ts"), join("scripts", "args.ts"), ...readdirSync(join(root, "lib", "compute")).filter((f) => f.endsWith(".ts")).map((f) => join("lib", "compute", f))];
  const outOf = (src: string) => join(root, "dist", src.replace(/\.ts$/, ".js"));

  beforeAll(() => {
    const stale = sources.some((src) => !existsSync(outOf(src)) || statSync(outOf(src)).mtimeMs < statSync(join(root, src)).mtimeMs);
    if (stale) {
      // tsc still emits when another file in the project has an error, so check the output exists
      try {
        execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", join(root, "tsconfig.json")], { cwd: root, stdio: "pipe" });
      } catch {
        /* errors elsewhere in the project; the file check below decides */
      }
    }
    expect(existsSync(js)).toBe(true);
  }, 120_000);

  it("prints JSON with flops, gpus, gpu_hours and exits 0", () => {
    const r = spawnSync(process.execPath, [js, ...base, "--gpu", "h100-sxm", "--precision", "bf16", "--mfu", "0.5", "--days", "30", "--json"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    const o = JSON.parse(r.stdout) as Record<string, number>;
    expect(o.flops).toBeCloseTo(3.15e23, -20);
    expect(Math.round(o.gpus!)).toBe(246);
    expect(o.gpu_hours).toBeGreaterThan(0);
  });

  it("exits 2 with the message on stderr for an unknown GPU", () => {
    const r = spawnSync(process.execPath, [js, ...base, "--gpu", "x100"], { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^budget: --gpu must be one of a100-sxm, .*; got "x100"\n/);
    expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/); // no stack trace
  });
});
