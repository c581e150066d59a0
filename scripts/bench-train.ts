// `npm run bench -- train [--json] [--epochs N] [--repeats R] [--threads] [--torch-threads T] [--no-torch]`: training throughput of
// the course's MLPs (56 → 100 × k → 1 on the course's 56-day training set, Adam, MAE),
// full batch and mini-batch, through the same loop the notebooks use (lib/train.ts).
// When a python3 with torch is found, the identical model and loop run in PyTorch in the
// same invocation (scripts/bench_train_torch.py), and the ratio PyTorch ÷ ours is printed.
// Each number is the best of R runs (default 3), on both sides; PyTorch uses T threads
// (default 2, the reference measurement's setting). --threads: experimental threaded wasm.
// --no-torch: ours only. COURSE_DENSE_FORWARD=0 COURSE_ADAM=tfjs COURSE_BACKPROP=autodiff: the
// training loop as it was before the fused forward, host Adam and hand-written backward pass.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "../lib/backend";
import { MAX_LAG, courseData, trainTest } from "../lib/data";
import { MlpSpec, mlpName } from "../lib/nets";
import { XY, scaleOf, trainSpec } from "../lib/train";
import { defineCli, runCli } from "./args";
import { ROOT } from "./root";

interface Case {
  depth: number;
  batch: number; // 0 = full batch
}

const CASES: Case[] = [
  { depth: 1, batch: 0 }, // the headline: 56 → 100 → 1, full batch
  { depth: 2, batch: 0 },
  { depth: 4, batch: 0 },
  { depth: 1, batch: 128 }, // the notebooks' setting: mini-batches of 128 days
  { depth: 4, batch: 128 },
];

interface Measured {
  model: string;
  batch: number | "full";
  epochs: number;
  seconds: number;
  epochs_per_s: number;
}

export const CLI = defineCli({
  program: "bench train",
  usage: "usage: npm run bench -- train [--json] [--epochs N] [--repeats R] [--threads] [--torch-threads T] [--no-torch]",
  flags: {
    json: { type: "boolean", help: "print one JSON object" },
    epochs: { type: "integer", min: 1, max: 100_000, default: 100, metavar: "N", help: "epochs per timed run" },
    repeats: { type: "integer", min: 1, max: 100, default: 3, metavar: "R", help: "runs per case; the best is reported" },
    threads: { type: "boolean", help: "experimental threaded wasm" },
    "torch-threads": { type: "integer", min: 1, max: 256, default: 2, metavar: "T", help: "PyTorch threads (2: the reference measurement's setting)" },
    "no-torch": { type: "boolean", help: "ours only, even when a python3 with torch is found" },
  },
});

/** The first interpreter that can import torch: python3 on PATH, then Debian's. */
function findTorchPython(): string | null {
  for (const py of [process.env.TORCH_PYTHON, "python3", "/usr/bin/python3"]) {
    if (!py) continue;
    const r = spawnSync(py, ["-c", "import torch"], { stdio: "ignore" });
    if (r.status === 0) return py;
  }
  return null;
}

export function main(argv: string[]): Promise<number> {
  return runCli(CLI, argv, (p) => bench(p.values), undefined, "npm run bench -- train --help");
}

async function bench(flags: { json: boolean; epochs: number; repeats: number; threads: boolean; "torch-threads": number; "no-torch": boolean }): Promise<number> {
  const { json, epochs, repeats } = flags;
  const info = await initBackend({ wasmThreads: flags.threads ? true : undefined });
  const log = (s: string): void => {
    if (!json) console.log(s);
  };
  log(`backend: ${info.description}`);

  const { series, split } = courseData(); // the notebooks' series and split
  const { train } = trainTest(series, MAX_LAG, split);
  log(`data: ${train.y.length} training rows × 56 days (${train.dates[0]} … ${train.dates[train.dates.length - 1]})`);

  const ours: Measured[] = [];
  for (const c of CASES) {
    const spec: MlpSpec = { inputs: MAX_LAG, width: 100, depth: c.depth, activation: "relu", seed: 1 };
    // Mini-batch epochs take ~n/batch steps: run fewer of them.
    const e = c.batch ? Math.max(3, Math.round(epochs / 10)) : epochs;
    await trainSpec(spec, train, { numEpochs: 3, batchSize: c.batch, recordEvery: 3, progress: false }); // warm-up: kernels, packing
    // Best of `repeats` runs: the machine may be shared, and noise only ever slows a run down.
    // (trainNet's clock starts after the model is built and the data is on the device.)
    let seconds = Infinity;
    for (let k = 0; k < repeats; k++)
      seconds = Math.min(seconds, (await trainSpec(spec, train, { numEpochs: e, batchSize: c.batch, recordEvery: e, progress: false, seed: k })).seconds);
    const m: Measured = { model: mlpName(spec), batch: c.batch || "full", epochs: e, seconds, epochs_per_s: e / seconds };
    ours.push(m);
    log(`tfjs ${info.name.padEnd(5)} ${m.model.padEnd(26)} batch ${String(m.batch).padEnd(4)} ${m.epochs_per_s.toFixed(1).padStart(7)} epochs/s  (${e} epochs, ${m.seconds.toFixed(2)} s)`);
  }

  // What one device read-back per step costs: the headline model, loss read every epoch.
  const syncSpec: MlpSpec = { inputs: MAX_LAG, width: 100, depth: 1, activation: "relu", seed: 1 };
  let synced = await trainSpec(syncSpec, train, { numEpochs: epochs, recordEvery: 1, progress: false });
  for (let k = 1; k < repeats; k++) {
    const again = await trainSpec(syncSpec, train, { numEpochs: epochs, recordEvery: 1, progress: false });
    if (again.seconds < synced.seconds) synced = again;
  }
  log(`tfjs ${info.name.padEnd(5)} ${ours[0].model.padEnd(26)} batch full ${synced.epochsPerSecond.toFixed(1).padStart(7)} epochs/s  with the loss read back every step`);

  const torch = flags["no-torch"] ? null : runTorch(train, epochs, repeats, flags["torch-threads"], log);
  const headline = ours[0].epochs_per_s;
  const torchHeadline = torch ? torch.results[0].epochs_per_s : null;
  const ratio = torchHeadline !== null ? torchHeadline / headline : null;
  if (torch) {
    torch.results.forEach((t, i) =>
      log(
        `torch ${torch.torch_version} (${torch.threads} threads) ${ours[i].model.padEnd(26)} batch ${String(t.batch).padEnd(4)} ${t.epochs_per_s.toFixed(1).padStart(7)} epochs/s` +
          `  → PyTorch ÷ ours = ${(t.epochs_per_s / ours[i].epochs_per_s).toFixed(2)}`,
      ),
    );
    log(`ratio (PyTorch epochs/s ÷ ours, ${ours[0].model}, full batch): ${ratio!.toFixed(2)}`);
  }
  if (json)
    console.log(
      JSON.stringify({
        backend: info.description,
        rows: train.y.length,
        tfjs_epochs_per_s: headline,
        torch_epochs_per_s: torchHeadline,
        ratio,
        torch_version: torch?.torch_version ?? null,
        tfjs: ours,
        tfjs_epochs_per_s_read_every_step: synced.epochsPerSecond,
        torch: torch?.results ?? null,
      }),
    );
  return 0;
}

interface TorchOut {
  torch_version: string;
  threads: number;
  results: { depth: number; batch: number | "full"; epochs: number; seconds: number; epochs_per_s: number }[];
}

function runTorch(train: XY, epochs: number, repeats: number, threads: number, log: (s: string) => void): TorchOut | null {
  const py = findTorchPython();
  if (!py) {
    log("torch: no python3 with torch found (Debian: apt-get install python3-torch); PyTorch side skipped");
    return null;
  }
  // Hand PyTorch the same rows, already in the loop's units.
  const { mu, sigma } = scaleOf(train.y);
  const dir = mkdtempSync(join(tmpdir(), "bench-train-"));
  const file = join(dir, "data.json");
  writeFileSync(file, JSON.stringify({ X: train.X.map((r) => r.map((v) => (v - mu) / sigma)), y: train.y.map((v) => (v - mu) / sigma) }));
  try {
    const script = join(ROOT, "scripts", "bench_train_torch.py");
    const cases = JSON.stringify(CASES.map((c) => [c.depth, c.batch]));
    const r = spawnSync(py, [script, file, "--epochs", String(epochs), "--repeats", String(repeats), "--threads", String(threads), "--cases", cases], { encoding: "utf8" });
    if (r.status !== 0) {
      log(`torch: ${py} failed: ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`);
      return null;
    }
    return JSON.parse(r.stdout.trim().split("\n").pop() as string) as TorchOut;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
