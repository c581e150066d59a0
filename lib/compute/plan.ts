// One training budget, end to end: FLOPs → GPUs in the time → GPU-hours → memory.
// The budget CLI prints this; the notebook builds its tables from it.
import { requireMfu, requirePositive } from "./errors";
import { accelerator, peakTflops as tablePeak } from "./hardware";
import { trainingFlops } from "./flops";
import { gpuHours, gpusForBudget } from "./gpus";
import { gpusToHold, trainingStateBytes, weightBytes, type ByteRange } from "./memory";

export interface PlanInput {
  params: number;
  tokens: number;
  /** Id in ACCELERATORS. */
  gpu: string;
  precision: string;
  /** Model FLOPs utilisation, in (0, 1]. */
  mfu: number;
  days: number;
  /** Overrides the table's peak (the article's 63). */
  peakTflops?: number;
}

export interface Plan {
  input: PlanInput;
  gpuName: string;
  peakTflops: number;
  /** Where the peak comes from: the datasheet, or "given". */
  peakSource: string;
  flops: number;
  /** Real-valued GPU count. */
  gpus: number;
  /** GPUs to finish within the days: gpus rounded up. */
  gpusWhole: number;
  gpuHours: number;
  memoryGB: number;
  weightBytes: number;
  gpusForWeights: number;
  trainingBytes: ByteRange;
  gpusForTraining: ByteRange;
}

export function planTraining(input: PlanInput): Plan {
  requirePositive(input.params, "params");
  requirePositive(input.tokens, "tokens");
  requireMfu(input.mfu, "mfu");
  requirePositive(input.days, "days");
  const a = accelerator(input.gpu);
  const datasheetPeak = tablePeak(input.gpu, input.precision); // also validates the precision
  const peak = input.peakTflops === undefined ? datasheetPeak : requirePositive(input.peakTflops, "peak-tflops");
  const flops = trainingFlops(input.params, input.tokens);
  const gpus = gpusForBudget(flops, peak, input.mfu, input.days);
  const wBytes = weightBytes(input.params, input.precision);
  const tBytes = trainingStateBytes(input.params);
  return {
    input,
    gpuName: a.name,
    peakTflops: peak,
    peakSource:
      input.peakTflops === undefined
        ? `${input.precision.toLowerCase()} dense, ${a.source}`
        : `given with --peak-tflops (the table's ${input.precision.toLowerCase()} dense peak is ${datasheetPeak})`,
    flops,
    gpus,
    gpusWhole: Math.ceil(gpus - 1e-9),
    gpuHours: gpuHours(flops, peak, input.mfu),
    memoryGB: a.memoryGB,
    weightBytes: wBytes,
    gpusForWeights: gpusToHold(wBytes, a.memoryGB),
    trainingBytes: tBytes,
    gpusForTraining: { low: gpusToHold(tBytes.low, a.memoryGB), high: gpusToHold(tBytes.high, a.memoryGB) },
  };
}
