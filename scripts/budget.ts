// npm run budget -- --params 175e9 --tokens 300e9 --gpu h100-sxm --precision bf16 --mfu 0.5 --days 30
//
// Prints a training budget: FLOPs (6·N·D), GPUs for the days, GPU-hours, memory.
// Bad input → one clear line on stderr and exit code 2. `runBudget(argv)` does all the
// work without touching the process, so tests can call it directly.
import { parseArgs } from "node:util";
import {
  ACCELERATORS,
  BudgetInputError,
  PF_DAY,
  TRAINING_BYTES_PER_PARAM,
  fmtBytes,
  fmtInt,
  fmtNum,
  fmtSci,
  planTraining,
  requireMfu,
  precisionsOf,
  type Plan,
} from "../lib/compute";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const DEFAULTS = { gpu: "h100-sxm", precision: "bf16", mfu: "0.4", days: "30" };

const OPTIONS = {
  params: { type: "string" },
  tokens: { type: "string" },
  gpu: { type: "string" },
  precision: { type: "string" },
  mfu: { type: "string" },
  days: { type: "string" },
  "peak-tflops": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const KNOWN_FLAGS = Object.keys(OPTIONS).map((k) => `--${k}`).join(", ");

export function usage(): string {
  const gpus = ACCELERATORS.map((a) => `    ${a.id.padEnd(10)} ${a.name}: ${precisionsOf(a).join(", ")}`).join("\n");
  return `Usage: npm run budget -- --params N --tokens D [options]

Training compute budget: FLOPs = 6·N·D (Kaplan et al. 2020), the GPUs to do them in
--days at --mfu of the GPU's dense peak, the GPU-hours, and the memory to hold the model.

  --params N          parameters, e.g. 175e9 or 175B (required)
  --tokens D          training tokens, e.g. 300e9 or 300B (required)
  --gpu ID            accelerator (default ${DEFAULTS.gpu})
  --precision P       number format of the matmuls (default ${DEFAULTS.precision})
  --mfu F             model FLOPs utilisation, a fraction in (0, 1] (default ${DEFAULTS.mfu};
                      published large runs reach 0.35–0.45)
  --days T            wall-clock days (default ${DEFAULTS.days})
  --peak-tflops X     use this peak instead of the table's (e.g. the article's 63)
  --json              print one JSON object instead of the report
  -h, --help          this text

Accelerators and their precisions (dense datasheet peaks):
${gpus}

Example: npm run budget -- --params 175e9 --tokens 300e9 --gpu h100-sxm --precision bf16 --mfu 0.5 --days 30
`;
}

const SUFFIX: Record<string, number> = { k: 1e3, m: 1e6, b: 1e9, t: 1e12 };

/** "175e9", "1.4e12", "175B", "1,000" → a number; anything else → BudgetInputError. */
export function parseQuantity(flag: string, text: string): number {
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)([kmbt])?$/i.exec(text.trim().replace(/[_,]/g, ""));
  if (!m) throw new BudgetInputError(`--${flag}: "${text}" is not a number (examples: 175e9, 1.4e12, 175B, 0.5)`);
  const x = Number(m[1]) * (m[2] ? SUFFIX[m[2].toLowerCase()]! : 1);
  if (!Number.isFinite(x) || x <= 0) throw new BudgetInputError(`--${flag} must be a positive number, got ${text}`);
  return x;
}

const EXAMPLE: Record<string, string> = {
  "--params": "175e9",
  "--tokens": "300e9",
  "--gpu": DEFAULTS.gpu,
  "--precision": DEFAULTS.precision,
  "--mfu": DEFAULTS.mfu,
  "--days": DEFAULTS.days,
  "--peak-tflops": "989",
};

/** Node's parseArgs errors, reworded for someone who just typed the command. */
function argsError(e: unknown, argv: string[]): BudgetInputError {
  const err = e as { code?: string; message?: string };
  const msg = err.message ?? String(e);
  const quoted = /'([^']+)'/.exec(msg)?.[1] ?? "";
  const flag = quoted.split(" ")[0] ?? quoted;
  switch (err.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return new BudgetInputError(`unknown flag ${flag}; known flags: ${KNOWN_FLAGS}`);
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE": {
      if (/does not take an argument/.test(msg)) return new BudgetInputError(`${flag} takes no value`);
      const example = `e.g. ${flag} ${EXAMPLE[flag] ?? "1"}`;
      if (/ambiguous/.test(msg)) {
        // parseArgs refuses a value that starts with "-": either a forgotten value or a negative number
        const next = argv[argv.indexOf(flag) + 1] ?? "";
        if (/^-[\d.]/.test(next)) return new BudgetInputError(`${flag} must be a positive number, got ${next}`);
        return new BudgetInputError(`${flag} needs a value before ${next} (${example})`);
      }
      return new BudgetInputError(`${flag} needs a value (${example})`);
    }
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return new BudgetInputError(`unexpected argument "${quoted}": every value follows its flag, e.g. --params 175e9`);
    default:
      return new BudgetInputError(msg);
  }
}

function parse(argv: string[]): { help: boolean; json: boolean; plan?: Plan } {
  let values: Partial<Record<keyof typeof OPTIONS, string | boolean>>;
  try {
    values = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw argsError(e, argv);
  }
  if (values.help) return { help: true, json: false };
  const str = (k: keyof typeof DEFAULTS): string => (values[k] as string | undefined) ?? DEFAULTS[k];
  for (const k of ["params", "tokens"] as const) {
    if (values[k] === undefined) throw new BudgetInputError(`--${k} is required (e.g. --${k} ${k === "params" ? "175e9" : "300e9"}); see --help`);
  }
  const peak = values["peak-tflops"] as string | undefined;
  const mfuText = str("mfu");
  const mfu = mfuText.trim() === "" ? Number.NaN : Number(mfuText);
  if (Number.isNaN(mfu)) throw new BudgetInputError(`--mfu: "${mfuText}" is not a number (e.g. --mfu 0.4 for 40 %)`);
  requireMfu(mfu, "--mfu");
  const plan = planTraining({
    params: parseQuantity("params", values.params as string),
    tokens: parseQuantity("tokens", values.tokens as string),
    gpu: str("gpu"),
    precision: str("precision"),
    mfu,
    days: parseQuantity("days", str("days")),
    peakTflops: peak === undefined ? undefined : parseQuantity("peak-tflops", peak),
  });
  return { help: false, json: values.json === true, plan };
}

const range = (lo: number, hi: number) => (lo === hi ? fmtInt(lo) : `${fmtInt(lo)}–${fmtInt(hi)}`);

export function formatPlan(p: Plan): string {
  const { input } = p;
  const prec = input.precision.toLowerCase();
  return [
    "Training compute (C = 6·N·D, Kaplan et al. 2020)",
    `  parameters N      ${fmtInt(input.params)}`,
    `  tokens D          ${fmtInt(input.tokens)}`,
    `  FLOPs C           ${fmtSci(p.flops)}  (${fmtNum(p.flops / PF_DAY)} PF-days)`,
    "",
    `Hardware: ${p.gpuName}, ${prec}`,
    `  peak              ${p.peakTflops} TFLOPS  (${p.peakSource})`,
    `  MFU               ${+(input.mfu * 100).toFixed(2)} %  →  ${+(p.peakTflops * input.mfu).toFixed(2)} TFLOPS sustained per GPU`,
    "",
    `Time`,
    `  days              ${input.days}`,
    `  GPUs              ${p.gpus >= 100 ? p.gpus.toFixed(1) : fmtNum(p.gpus)}  →  ${fmtInt(p.gpusWhole)} to finish within ${input.days} days`,
    `  GPU-hours         ${fmtInt(p.gpuHours)}`,
    "",
    `Memory (${p.memoryGB} GB per GPU)`,
    `  weights (${prec})`.padEnd(20) + `${fmtBytes(p.weightBytes)}  →  ${fmtInt(p.gpusForWeights)} GPU(s) just to hold them`,
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
    if (e instanceof BudgetInputError) {
      return { code: 2, stdout: "", stderr: `budget: ${e.message}\n(see npm run budget -- --help)\n` };
    }
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
