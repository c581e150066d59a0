// npm run budget -- --params 175e9 --tokens 300e9 --gpu h100-sxm --precision bf16 --mfu 0.5 --days 30
//
// Prints a training budget: FLOPs (6·N·D), GPUs for the days, GPU-hours, memory.
// Bad input → one clear line on stderr and exit code 2. `runBudget(argv)` does all the
// work without touching the process, so tests can call it directly.
import {
  ACCELERATORS,
  BudgetInputError,
  PF_DAY,
  PRECISIONS,
  TRAINING_BYTES_PER_PARAM,
  fmtBytes,
  fmtInt,
  fmtNum,
  fmtSci,
  planTraining,
  precisionsOf,
  type Plan,
} from "../lib/compute";
import { ArgsError, defineCli, formatArgsError, helpText, parseCli } from "./args";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

// Limits: wide enough for any real run, narrow enough that every result is a finite,
// printable number (the worst case below is ~7e22 GPUs, printed as 6.94e+22, not 300 digits or ∞).
//   params  ≤ 1e15: 500× the largest published dense/MoE models (~2e12)
//   tokens  ≤ 1e17: ~3,000× the largest published training sets (~3.6e13)
//   mfu     ≥ 0.01: a run at under 1 % of peak is not a plan anyone makes (published
//                   large runs reach 0.35–0.45); 1e-300 would give ∞ GPUs
//   days    in [0.01, 36500]: a quarter of an hour to a century
//   peak    in [0.001, 1e5] TFLOPS: a laptop core to 20× today's fp8 peaks
const HELP_CMD = "npm run budget -- --help";
export const CLI = defineCli({
  program: "budget",
  usage: "Usage: npm run budget -- --params N --tokens D [options]",
  summary:
    "Training compute budget: FLOPs = 6·N·D (Kaplan et al. 2020), the GPUs to do them in\n--days at --mfu of the GPU's dense peak, the GPU-hours, and the memory to hold the model.",
  flags: {
    params: { type: "number", min: 1, max: 1e15, suffixes: true, required: true, metavar: "N", example: "175e9", help: "parameters, e.g. 175e9 or 175B", limitNote: "the largest published models have ~2e12" },
    tokens: { type: "number", min: 1, max: 1e17, suffixes: true, required: true, metavar: "D", example: "300e9", help: "training tokens, e.g. 300e9 or 300B", limitNote: "the largest published training sets have ~4e13" },
    gpu: { type: "enum", choices: ACCELERATORS.map((a) => a.id), ignoreCase: true, default: "h100-sxm", metavar: "ID", help: "accelerator (list below)" },
    precision: { type: "enum", choices: PRECISIONS, ignoreCase: true, default: "bf16", metavar: "P", help: "number format of the matmuls" },
    mfu: {
      type: "number",
      min: 0.01,
      max: 1,
      default: 0.4,
      metavar: "F",
      help: "model FLOPs utilisation, a fraction of the peak; published large runs reach 0.35–0.45",
      hint: (x) => (x > 1 && x <= 100 ? `for ${x} % write ${x / 100}` : undefined),
      limitNote: "below 1 % of peak is not a training plan",
    },
    days: { type: "number", min: 0.01, max: 36500, default: 30, metavar: "T", help: "wall-clock days" },
    "peak-tflops": { type: "number", min: 0.001, max: 1e5, metavar: "X", example: "989", help: "use this peak instead of the table's (e.g. the article's 63)" },
    json: { type: "boolean", help: "print one JSON object instead of the report" },
  },
  footer: `Accelerators and their precisions (dense datasheet peaks):
${ACCELERATORS.map((a) => `    ${a.id.padEnd(10)} ${a.name}: ${precisionsOf(a).join(", ")}`).join("\n")}

Example: npm run budget -- --params 175e9 --tokens 300e9 --gpu h100-sxm --precision bf16 --mfu 0.5 --days 30`,
});

export function usage(): string {
  return helpText(CLI);
}

function parse(argv: string[]): { help: boolean; json: boolean; plan?: Plan } {
  const parsed = parseCli(CLI, argv);
  if (parsed === "help") return { help: true, json: false };
  const v = parsed.values;
  const plan = planTraining({
    params: v.params,
    tokens: v.tokens,
    gpu: v.gpu,
    precision: v.precision,
    mfu: v.mfu,
    days: v.days,
    peakTflops: v["peak-tflops"],
  });
  return { help: false, json: v.json, plan };
}

/** Counts past 1e12 in e-notation: a readable line even for an absurd (but allowed) plan. */
const count = (x: number): string => (x >= 1e12 ? fmtSci(x, 3) : fmtInt(x));
const sustained = (x: number): number => (x >= 0.01 ? +x.toFixed(2) : +x.toPrecision(3));
const range = (lo: number, hi: number) => (lo === hi ? count(lo) : `${count(lo)}–${count(hi)}`);

export function formatPlan(p: Plan): string {
  const { input } = p;
  const prec = input.precision.toLowerCase();
  return [
    "Training compute (C = 6·N·D, Kaplan et al. 2020)",
    `  parameters N      ${count(input.params)}`,
    `  tokens D          ${count(input.tokens)}`,
    `  FLOPs C           ${fmtSci(p.flops)}  (${p.flops / PF_DAY >= 1e12 ? fmtSci(p.flops / PF_DAY, 3) : fmtNum(p.flops / PF_DAY)} PF-days)`,
    "",
    `Hardware: ${p.gpuName}, ${prec}`,
    `  peak              ${p.peakTflops} TFLOPS  (${p.peakSource})`,
    `  MFU               ${+(input.mfu * 100).toFixed(2)} %  →  ${sustained(p.peakTflops * input.mfu)} TFLOPS sustained per GPU`,
    "",
    `Time`,
    `  days              ${input.days}`,
    `  GPUs              ${p.gpus >= 1e12 ? count(p.gpus) : p.gpus >= 100 ? p.gpus.toFixed(1) : fmtNum(p.gpus)}  →  ${count(p.gpusWhole)} to finish within ${input.days} days`,
    `  GPU-hours         ${count(p.gpuHours)}`,
    "",
    `Memory (${p.memoryGB} GB per GPU)`,
    `  weights (${prec})`.padEnd(20) + `${fmtBytes(p.weightBytes)}  →  ${count(p.gpusForWeights)} GPU(s) just to hold them`,
    `  training state    ${fmtBytes(p.trainingBytes.low)}–${fmtBytes(p.trainingBytes.high)} ` +
      `(${TRAINING_BYTES_PER_PARAM.low}–${TRAINING_BYTES_PER_PARAM.high} B/param, before activations)  →  ` +
      `${range(p.gpusForTraining.low, p.gpusForTraining.high)} GPU(s)`,
    "",
  ].join("\n");
}

export function planJson(p: Plan): Record<string, number | string> {
  return {
    params: p.input.params,
    tokens: p.input.tokens,
    flops: p.flops,
    gpu: p.input.gpu.toLowerCase(),
    gpu_name: p.gpuName,
    precision: p.input.precision.toLowerCase(),
    peak_tflops: p.peakTflops,
    peak_source: p.peakSource,
    mfu: p.input.mfu,
    days: p.input.days,
    gpus: p.gpus,
    gpus_whole: p.gpusWhole,
    gpu_hours: p.gpuHours,
    memory_gb_per_gpu: p.memoryGB,
    weight_bytes: p.weightBytes,
    gpus_for_weights: p.gpusForWeights,
    training_bytes_low: p.trainingBytes.low,
    training_bytes_high: p.trainingBytes.high,
    gpus_for_training_low: p.gpusForTraining.low,
    gpus_for_training_high: p.gpusForTraining.high,
  };
}

/** The whole CLI as a function of its arguments. */
export function runBudget(argv: string[]): CliResult {
  try {
    const r = parse(argv);
    if (r.help) return { code: 0, stdout: usage(), stderr: "" };
    const p = r.plan!;
    return { code: 0, stdout: r.json ? JSON.stringify(planJson(p)) + "\n" : formatPlan(p), stderr: "" };
  } catch (e) {
    if (e instanceof ArgsError) return { code: 2, stdout: "", stderr: formatArgsError(CLI, e, HELP_CMD) };
    // a combination the flags alone cannot check (a precision this GPU has no peak for)
    if (e instanceof BudgetInputError) return { code: 2, stdout: "", stderr: `budget: ${e.message}\n(see ${HELP_CMD})\n` };
    throw e;
  }
}

export async function main(argv: string[]): Promise<number> {
  const r = runBudget(argv);
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  return r.code;
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
