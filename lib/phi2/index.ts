// phi-2 in TypeScript, from its published files. Read top to bottom:
//   safetensors.ts → config.ts → tokenizer.ts → matmul.ts / matmul-js.ts → attention.ts → model.ts → generate.ts → load.ts
export * from "./activation";
export * from "./attention";
export * from "./budget";
export * from "./check";
export * from "./config";
export * from "./dtypes";
export * from "./f16";
export * from "./folder";
export * from "./generate";
export * from "./load";
export * from "./matmul";
export * from "./matmul-js";
export * from "./model";
export * from "./random";
export * from "./safetensors";
export * from "./tokenizer";
export * from "./traffic";
export { createWasmMatmul, measureReadBandwidth, type Bandwidth } from "./kernels";
export { ImageError, type WeightImage } from "./kernels/image";

/** The prompt of the article's phi-2 run (10 tokens with phi-2's tokenizer). */
export const ARTICLE_PROMPT = "Write a detailed analogy between mathematics and a lighthouse.";
