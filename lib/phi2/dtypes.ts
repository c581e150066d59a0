// Bytes per element, once for the whole engine: every dtype the safetensors format
// defines (https://github.com/huggingface/safetensors), and the float ones we compute
// with. (lib/compute has its own table of number formats by their lower-case names for
// budgets — fp16, int8, … ; the wasm kernels add Q8_0 to this one.)

import type { WeightDtype } from "./matmul";

/** Bytes per element of every dtype the safetensors format defines. */
export const SAFETENSORS_DTYPES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
};

/** Bytes per element of each weight dtype the model computes from (a subset of the above). */
export const DTYPE_BYTES: Record<WeightDtype, number> = { F16: SAFETENSORS_DTYPES.F16, BF16: SAFETENSORS_DTYPES.BF16, F32: SAFETENSORS_DTYPES.F32 };
