// The figures the course's source article (the blog post's section "为什么大模型需要大量的
// 计算资源?" and its phi-2 run) prints, quoted so notebooks 06 and 07 can set them beside
// what the formulas give and what this machine measures. These are its claims and its
// inputs, not our results; every one is recomputed in notebook 06 or 07, and a notebook
// imports them from here instead of typing them again.

export const ARTICLE = {
  source: "the article's section 为什么大模型需要大量的计算资源? and its phi-2 run (as quoted in the course's compute-facts reference and issue 8's review)",
  /** Its GPT-3 budget: 6 × 175e9 × 300e9. */
  flops: 3.15e23,
  /** Its GPT-3 N and D ("300B" — it calls them words; GPT-3's paper counts tokens). */
  params: 175e9,
  tokens: 300e9,
  /** Its per-H100 peak, TFLOPS, and the precision it names: "算力 FP32(63 teraFLOPS)". */
  peakTflops: 63,
  peakPrecision: "fp32",
  peakQuote: "算力 FP32(63 teraFLOPS)",
  /** Its training utilisation and time. */
  mfu: 0.5,
  days: 30,
  /** Its GPU formula as written, utilisation multiplying: "÷ GPU 算力 × 利用率". */
  formulaQuote: "÷ GPU 算力 × 利用率",
  /** The H100 count it prints for those inputs. */
  gpus: 3839,
  /** The A100 count it prints for the same job. */
  a100Gpus: 1466,
  /** Its ChatGPT serving estimate: H100 count, utilisation, visits per month (17.6 亿), model size. */
  servingH100: 507,
  servingUtilisation: 0.3,
  visitsPerMonth: 1.76e9,
  visitsQuote: "17.6 亿",
  /** Days in the month it divides by (a 30-day month). */
  daysPerMonth: 30,
  /** Its phi-2 run: Python transformers, fp32, an 8-core laptop. */
  phi2: {
    promptTokens: 10,
    loadSeconds: 21,
    /** model.generate(max_length=L): L counts the prompt. */
    runs: [
      { maxLength: 200, seconds: 98 },
      { maxLength: 100, seconds: 49 },
    ],
    dtype: "fp32",
    machine: "8-core laptop, PyTorch, fp32",
  },
} as const;

/** The article's phi-2 speed for one of its runs: at most maxLength − prompt new tokens in its seconds. */
export function articlePhi2TokensPerSecond(maxLength: number): number {
  const r = ARTICLE.phi2.runs.find((x) => x.maxLength === maxLength);
  if (!r) throw new Error(`the article ran max_length ${ARTICLE.phi2.runs.map((x) => x.maxLength).join(" and ")}, not ${maxLength}`);
  return (r.maxLength - ARTICLE.phi2.promptTokens) / r.seconds;
}
