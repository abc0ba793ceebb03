/**
 * The native kernels (kernels.c) through Deno's FFI. Arrays are passed as typed arrays
 * (or subarrays: the pointer includes the offset); `null` stands for an absent bias.
 */
import { buildKernels } from "./build.ts";

const F = "buffer" as const;
const I = "i32" as const;
const R = "f32" as const;

const SYMBOLS = {
  rk_unary: { parameters: [I, F, F, I], result: "void" },
  rk_scale: { parameters: [F, R, F, I], result: "void" },
  rk_binary: { parameters: [I, F, F, F, I, I, I, I], result: "void" },
  rk_reduce_rows: { parameters: [I, F, I, I, F], result: "void" },
  rk_reduce_cols: { parameters: [I, F, I, I, F, F], result: "void" },
  rk_adam: {
    parameters: [F, F, F, F, F, F, F, I, R, R, R, R, R],
    result: "void",
  },
  rk_recurrent_forward: {
    parameters: [I, I, I, F, F, F, F, F, F, F],
    result: "void",
  },
  rk_recurrent_backward: {
    parameters: [I, I, I, F, F, F, F, F, F, I, F, F, F, F],
    result: "void",
  },
  rk_copy_strided: { parameters: [F, F, I, F, F], result: "void" },
  rk_gather_rows: { parameters: [F, I, F, I, F], result: "void" },
  rk_scatter_add_rows: { parameters: [F, I, F, I, I, F], result: "void" },
} as const;

export type Kernels = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** Op codes, in the order of kernels.c's enums. */
export const UNARY = {
  neg: 0,
  exp: 1,
  log: 2,
  sqrt: 3,
  tanh: 4,
  sigmoid: 5,
  relu: 6,
  step: 7,
};
export const BINARY = { add: 0, sub: 1, mul: 2, div: 3 };
export const REDUCE = { sum: 0, max: 1 };
export const MODE = { RNN_TANH: 0, RNN_RELU: 1, LSTM: 2, GRU: 3 };

/** Builds (first time only) and loads the kernels. */
export async function loadKernels(): Promise<
  { path: string; kernels: Kernels }
> {
  const path = await buildKernels();
  return { path, kernels: Deno.dlopen(path, SYMBOLS).symbols };
}
