/**
 * rnnkit core: tensors, autograd, `nn` modules, losses, optimizers and a training loop,
 * written against the `Backend` interface only. Pick a backend package, `setBackend` it,
 * then build models as in PyTorch:
 *
 * ```ts
 * import { Adam, CrossEntropyLoss, Embedding, fit, intTensor, Linear, RNN, setBackend } from "@rnnkit/core";
 * import { createBackend } from "@rnnkit/backend-tfjs";
 * setBackend(await createBackend());
 * ```
 * @module
 */
export type {
  AdamArgs,
  Backend,
  DType,
  FusedOps,
  Handle,
  RecurrentArgs,
  RecurrentMode,
} from "./src/backend.ts";
export { RECURRENT_GATES, RECURRENT_SAVED } from "./src/backend.ts";
export { getBackend, keep, liveTensors, setBackend, tidy } from "./src/engine.ts";
export { isGradEnabled, noGrad, Tensor } from "./src/tensor.ts";
export * as ops from "./src/ops.ts";
export { full, intTensor, tensor, zeros } from "./src/ops.ts";
export { globalRandom, manualSeed, Random } from "./src/random.ts";
export { Module, type TensorLike } from "./src/nn/module.ts";
export { Linear, type LinearOptions } from "./src/nn/linear.ts";
export { Embedding, type EmbeddingOptions } from "./src/nn/embedding.ts";
export { Dropout } from "./src/nn/dropout.ts";
export { GRU, LSTM, RNN, RNNBase, type RNNBaseOptions, type RNNOptions } from "./src/nn/rnn.ts";
export { GRUCell, LSTMCell, RNNCell, type RNNCellOptions } from "./src/nn/rnn_cell.ts";
export {
  CrossEntropyLoss,
  type CrossEntropyOptions,
  type Reduction,
} from "./src/nn/cross_entropy.ts";
export { type Cell, CharLM, type CharLMConfig, type RecurrentState } from "./src/models/char_lm.ts";
export { Optimizer, type ParamState } from "./src/optim/optimizer.ts";
export { SGD, type SGDOptions } from "./src/optim/sgd.ts";
export { Adam, type AdamOptions, AdamW } from "./src/optim/adam.ts";
export { RMSprop, type RMSpropOptions } from "./src/optim/rmsprop.ts";
export { clipGradNorm } from "./src/optim/clip_grad.ts";
export {
  applyGradients,
  fit,
  type FitOptions,
  type StepOptions,
  type StepResult,
  trainStep,
} from "./src/train.ts";
export { decodeSafetensors, encodeSafetensors, type HostTensor } from "./src/io/safetensors.ts";
export { writeFileAtomic, writeFileAtomicSync } from "./src/io/atomic_write.ts";
export {
  CHARLM_FORMAT,
  decodeCharLM,
  encodeCharLM,
  loadCharLM,
  saveCharLM,
} from "./src/io/charlm_checkpoint.ts";
export { generate, type GenerateOptions } from "./src/models/generate.ts";
export { type Batch, CharCorpus, StreamBatcher, windows } from "./src/data/text.ts";
