// lib/compute: how much compute, time, memory and hardware a transformer needs.
//
//   hardware.ts   ACCELERATORS: dense (and marked sparse) peaks by precision, memory, bandwidth, sources
//   models.ts     MODELS: published architectures (phi-2, GPT-3, Llama) as TransformerConfig
//   runs.ts       RUNS: published training runs with reported GPU-hours; checkRun()
//   params.ts     countParameters(cfg): exact parameter counts from a config (phi-2: 2,779,683,840)
//   flops.ts      trainingFlops = 6·N·D (+ Kaplan's attention term); inference FLOPs per token
//   gpus.ts       GPUs for a budget, days for a GPU count, GPU-hours, implied MFU
//   memory.ts     weights by dtype, training state (16–20 B/param), KV cache, GPUs to hold them
//   inference.ts  bandwidth- and compute-bound decoding speed; serving-fleet estimate
//   plan.ts       planTraining(): the whole budget at once (the `npm run budget` CLI)
//   format.ts     fmtInt / fmtSci / fmtPct / fmtBytes for reports
//   article.ts    the article's own figures and inputs, quoted, to set beside ours
//   corrections.ts  the arithmetic behind each correction of the article (formula as written, 12·L·d², number formats)
//   cpu.ts        a CPU core's peak (lanes × FMA units × clock) and a matmul's measured FLOP/s
//
// For predicting a generation run (notebook 07, phi-2 on this machine):
//   inferenceFlopsPerToken(N, attentionShape(cfg, nCtx))
//       FLOPs to generate one token with nCtx tokens already in context: 2·N + 2·n_layer·nCtx·d_attn.
//   inferenceFlopsPerTokenOf(cfg, nCtx)
//       the same from a config (blocks' weights + lm_head matmul + attention).
//   weightBytes(N, dtype)
//       bytes of weights read per generated token: N × bytes per value ("fp32" 4, "bf16"/"fp16" 2, ...).
//   bandwidthBoundTokensPerSecond(bytesPerToken, bandwidthGBs)
//       single-stream speed limit: bandwidth (GB/s, 1e9 B/s) ÷ bytes per token.
//   computeBoundTokensPerSecond(flopsPerToken, peakTflops, utilisation)
//       the other limit, from arithmetic alone.
//
// Every function validates its inputs and throws BudgetInputError with a message a
// learner can act on.
export * from "./errors";
export * from "./hardware";
export * from "./models";
export * from "./runs";
export * from "./params";
export * from "./flops";
export * from "./gpus";
export * from "./memory";
export * from "./inference";
export * from "./plan";
export * from "./article";
export * from "./corrections";
export * from "./cpu";
export * from "./format";
