// The figures the course's source article (the blog post's section "为什么大模型需要大量的
// 计算资源?") prints, quoted so the notebook can set them beside what the formulas give.
// These are its claims, not our results; every one is recomputed in notebook 06.

export const ARTICLE = {
  source: "the article's section 为什么大模型需要大量的计算资源? (as summarised in the course's compute-facts reference)",
  /** Its GPT-3 budget: 6 × 175e9 × 300e9. */
  flops: 3.15e23,
  /** Its per-H100 peak, TFLOPS (an FP32-class figure; NVIDIA prints 67 for FP32 on the SXM part). */
  peakTflops: 63,
  mfu: 0.5,
  days: 30,
  /** The H100 count it prints for those inputs. */
  gpus: 3839,
  /** The A100 count it prints for the same job. */
  a100Gpus: 1466,
  /** Its H100 count for serving ChatGPT. */
  servingH100: 507,
} as const;
