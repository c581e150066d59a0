// Published training runs: parameters, tokens, hardware and the GPU-hours their authors
// reported, each with its source. The notebook checks 6·N·D against every one of them.
import { peakTflops, type Precision } from "./hardware";
import { trainingFlops } from "./flops";
import { gpuHours, impliedMfu } from "./gpus";

export interface TrainingRun {
  id: string;
  name: string;
  /** N, as the authors count it. */
  params: number;
  /** D, training tokens. */
  tokens: number;
  /** Id in ACCELERATORS. */
  accelerator: string;
  /** The precision whose peak the run's matmuls ran at. */
  precision: Precision;
  /** Accelerators used at once, when reported. */
  count?: number;
  /** Wall-clock days, when reported. */
  days?: number;
  /** Reported GPU-hours (TPU chip-hours for PaLM). */
  reportedHours: number;
  /** How reportedHours was obtained, when not printed as one number. */
  hoursNote?: string;
  /** Training FLOPs printed by the authors, when they print them. */
  reportedFlops?: number;
  /** MFU printed by the authors, when they print it (text: some give a range). */
  reportedMfu?: string;
  /** Measured throughput, tokens per second per GPU, when reported. */
  tokensPerSecondPerGpu?: number;
  /** Id in MODELS when the architecture is there. */
  model?: string;
  source: string;
}

export const RUNS: readonly TrainingRun[] = [
  {
    id: "gpt3-175b",
    name: "GPT-3 175B",
    params: 174.6e9,
    tokens: 300e9,
    accelerator: "v100-sxm",
    precision: "fp16",
    count: 10000,
    days: 14.8,
    reportedHours: 10000 * 14.8 * 24,
    hoursNote: "≈10,000 V100 × 14.8 days",
    reportedFlops: 3.14e23,
    model: "gpt3-175b",
    source: "Brown et al. 2020 (arXiv:2005.14165) App. D, Table D.1 (174.6B params, 300B tokens, 3.14e23 FLOPs); Patterson et al. 2021 (arXiv:2104.10350) Table 4 (10,000 V100, 14.8 days)",
  },
  {
    id: "llama-65b",
    name: "LLaMA-65B",
    params: 65.2e9,
    tokens: 1.4e12,
    accelerator: "a100-sxm",
    precision: "bf16",
    count: 2048,
    days: 21,
    reportedHours: 1022362,
    tokensPerSecondPerGpu: 380,
    model: "llama-65b",
    source: "Touvron et al. 2023 (arXiv:2302.13971) §2.4 (380 tokens/s/GPU on 2048 A100-80GB, ≈21 days for 1.4T tokens), Table 15 (1,022,362 GPU-hours)",
  },
  {
    id: "llama2-70b",
    name: "Llama 2 70B",
    params: 70e9,
    tokens: 2.0e12,
    accelerator: "a100-sxm",
    precision: "bf16",
    reportedHours: 1720320,
    model: "llama2-70b",
    source: "Touvron et al. 2023 (arXiv:2307.09288) Table 2 (2.0T tokens; 1,720,320 A100-80GB GPU-hours)",
  },
  {
    id: "llama3.1-405b",
    name: "Llama 3.1 405B",
    params: 405e9,
    tokens: 15.6e12,
    accelerator: "h100-sxm",
    precision: "bf16",
    count: 16384,
    reportedHours: 30.84e6,
    reportedMfu: "38–43 % (steady state)",
    model: "llama3.1-405b",
    source: "Llama 3 paper (arXiv:2407.21783) Table 4 (38–43 % BF16 MFU on 8K–16K H100), 15.6T tokens; Llama 3.1 model card (30.84M H100-80GB GPU-hours)",
  },
  {
    id: "palm-540b",
    name: "PaLM 540B",
    params: 540.35e9,
    tokens: 780e9,
    accelerator: "tpu-v4",
    precision: "bf16",
    count: 6144,
    reportedHours: 8.4e6,
    hoursNote: "TPU v4 chip-hours",
    reportedMfu: "46.2 %",
    source: "Chowdhery et al. 2022 (arXiv:2204.02311) App. B (540.35B params, 780B tokens, 6144 TPU v4 chips, 8.40M chip-hours, 46.2 % MFU)",
  },
  {
    id: "phi-2",
    name: "phi-2",
    params: 2779683840,
    tokens: 1.4e12,
    accelerator: "a100-sxm",
    precision: "bf16",
    count: 96,
    days: 14,
    reportedHours: 96 * 14 * 24,
    hoursNote: "96 A100-80G × 14 days",
    model: "phi-2",
    source: "Microsoft Research blog \"Phi-2: The surprising power of small language models\" (2023); HF microsoft/phi-2 model card (1.4T tokens, 96 A100-80G, 14 days)",
  },
];

export function run(id: string): TrainingRun {
  const r = RUNS.find((x) => x.id === id);
  if (!r) throw new Error(`no run "${id}" in RUNS; known: ${RUNS.map((x) => x.id).join(", ")}`);
  return r;
}

/** What the formula says about a run, beside what its authors reported. */
export interface RunCheck {
  run: TrainingRun;
  /** 6·N·D. */
  flops: number;
  peakTflops: number;
  /** MFU the reported hours imply for 6·N·D. */
  impliedMfu: number;
  /** GPU-hours 6·N·D predicts at `assumedMfu`. */
  predictedHours: number;
  assumedMfu: number;
}

/** Check a run against 6·N·D: its implied MFU, and the GPU-hours predicted at `assumedMfu`. */
export function checkRun(r: TrainingRun, assumedMfu: number): RunCheck {
  const peak = peakTflops(r.accelerator, r.precision); // throws for an accelerator or precision not in the table
  const flops = trainingFlops(r.params, r.tokens);
  return {
    run: r,
    flops,
    peakTflops: peak,
    impliedMfu: impliedMfu(flops, r.reportedHours, peak),
    predictedHours: gpuHours(flops, peak, assumedMfu),
    assumedMfu,
  };
}

/** How well one fixed MFU predicts a set of runs: predicted ÷ reported GPU-hours, per run and overall. */
export interface FixedMfuSpread {
  mfu: number;
  /** predicted ÷ reported, per run, in the order given. */
  ratios: number[];
  min: number;
  max: number;
  /** max ÷ min: how far apart the best- and worst-predicted runs are. 1 would be a perfect method. */
  spread: number;
}

/**
 * Predict every run at the SAME planning MFU (no run's reported hours used to set it),
 * and compare with what was reported. Backing an MFU out of each run's own hours and then
 * "reproducing" those hours would be circular; this is not.
 */
export function fixedMfuSpread(runs: readonly TrainingRun[], mfu: number): FixedMfuSpread {
  if (runs.length === 0) throw new Error("fixedMfuSpread needs at least one run");
  const ratios = runs.map((r) => checkRun(r, mfu).predictedHours / r.reportedHours);
  const min = Math.min(...ratios);
  const max = Math.max(...ratios);
  return { mfu, ratios, min, max, spread: max / min };
}

/** Median of a non-empty list. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Leave-one-out: predict each run at the median implied MFU of the OTHER runs — an
 * out-of-sample check of "6·N·D at a typical MFU" that never sees the run it predicts.
 */
export function leaveOneOut(runs: readonly TrainingRun[]): { run: TrainingRun; mfu: number; ratio: number }[] {
  if (runs.length < 2) throw new Error("leaveOneOut needs at least two runs");
  const implied = runs.map((r) => checkRun(r, 0.5).impliedMfu);
  return runs.map((r, i) => {
    const mfu = median(implied.filter((_, j) => j !== i));
    return { run: r, mfu, ratio: checkRun(r, mfu).predictedHours / r.reportedHours };
  });
}
