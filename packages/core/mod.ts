/**
 * rnnkit core, for model authors: tensors with PyTorch's autograd, `nn` modules (RNN, LSTM,
 * GRU, their cells, Embedding, Linear), losses, optimizers, the training loop, training
 * state and checkpoints, written against the `Backend` interface only. Pick a backend
 * package, `setBackend` it, then build models as in PyTorch:
 *
 * ```ts
 * import { Adam, fit, LSTM, setBackend, tensor } from "@rnnkit/core";
 * import { createBestBackend } from "@rnnkit/backends";
 * setBackend(await createBestBackend());
 * ```
 *
 * Backend authors implement the interface from `@rnnkit/core/backend`.
 * @module
 */
// The op interface's types, so `setBackend`/`getBackend` and `Tensor.handle` are fully typed
// here; backend authors import them (and the rest of the interface) from @rnnkit/core/backend.
export type {
  AdamArgs,
  Backend,
  DType,
  FusedOps,
  Handle,
  RecurrentArgs,
  RecurrentMode,
  RecurrentStackLayer,
  RecurrentStackStepArgs,
} from "./src/backend.ts";
export { getBackend, keep, liveTensors, setBackend, tidy } from "./src/engine.ts";
export {
  type BackwardFn,
  type BackwardOptions,
  isGradEnabled,
  type Node,
  noGrad,
  Tensor,
} from "./src/tensor.ts";
export * as ops from "./src/ops.ts";
export { full, intTensor, type NestedArray, tensor, zeros } from "./src/ops.ts";
export type { ValuesIndices, VarOptions } from "./src/ops.ts";
export { globalRandom, manualSeed, Random } from "./src/random.ts";
export { Module, type TensorLike } from "./src/nn/module.ts";
export { Linear, type LinearOptions } from "./src/nn/linear.ts";
export { Embedding, type EmbeddingOptions } from "./src/nn/embedding.ts";
export { Dropout } from "./src/nn/dropout.ts";
export { ModuleDict, ModuleList, Sequential, type TensorModule } from "./src/nn/containers.ts";
export {
  GELU,
  type GELUOptions,
  LogSoftmax,
  ReLU,
  Sigmoid,
  Softmax,
  Tanh,
} from "./src/nn/activation.ts";
export {
  GRU,
  LSTM,
  type LSTMOptions,
  RNN,
  RNNBase,
  type RNNBaseOptions,
  type RNNOptions,
} from "./src/nn/rnn.ts";
export {
  type Lengths,
  PackedSequence,
  type PackPaddedOptions,
  packPaddedSequence,
  packSequence,
  type PackSequenceOptions,
  type PadPackedOptions,
  padPackedSequence,
  padSequence,
  type PadSequenceOptions,
} from "./src/nn/packed_sequence.ts";
export {
  GRUCell,
  LSTMCell,
  RNNCell,
  RNNCellBase,
  type RNNCellBaseOptions,
  type RNNCellOptions,
} from "./src/nn/rnn_cell.ts";
export { Loss, type LossOptions, type Reduction } from "./src/loss/loss.ts";
export { CrossEntropyLoss, type CrossEntropyOptions } from "./src/loss/cross_entropy.ts";
export { MSELoss } from "./src/loss/mse.ts";
export { L1Loss } from "./src/loss/l1.ts";
export { SmoothL1Loss, type SmoothL1LossOptions } from "./src/loss/smooth_l1.ts";
export { HuberLoss, type HuberLossOptions } from "./src/loss/huber.ts";
export {
  BCELoss,
  type BCELossOptions,
  BCEWithLogitsLoss,
  type BCEWithLogitsLossOptions,
} from "./src/loss/bce.ts";
export { NLLLoss, type NLLLossOptions } from "./src/loss/nll.ts";
export { type Cell, CharLM, type CharLMConfig, type RecurrentState } from "./src/models/char_lm.ts";
export {
  type Hyperparameter,
  Optimizer,
  type OptimizerStateDict,
  type ParamGroup,
  type ParamGroupInput,
  type ParamGroupState,
  type ParamState,
} from "./src/optim/optimizer.ts";
export { SGD, type SGDOptions, type SGDParamGroup } from "./src/optim/sgd.ts";
export { Adam, type AdamOptions, type AdamParamGroup, AdamW } from "./src/optim/adam.ts";
export { RMSprop, type RMSpropOptions, type RMSpropParamGroup } from "./src/optim/rmsprop.ts";
export {
  ConstantLR,
  type ConstantLROptions,
  CosineAnnealingLR,
  type CosineAnnealingLROptions,
  CosineAnnealingWarmRestarts,
  type CosineAnnealingWarmRestartsOptions,
  ExponentialLR,
  type ExponentialLROptions,
  LambdaLR,
  type LambdaLROptions,
  LinearLR,
  type LinearLROptions,
  LRScheduler,
  type LRSchedulerOptions,
  MultiStepLR,
  type MultiStepLROptions,
  type SchedulerStateDict,
  type SchedulerStateValue,
  SequentialLR,
  type SequentialLROptions,
  StepLR,
  type StepLROptions,
} from "./src/optim/lr_scheduler.ts";
export { OneCycleLR, type OneCycleLROptions } from "./src/optim/one_cycle.ts";
export { ReduceLROnPlateau, type ReduceLROnPlateauOptions } from "./src/optim/plateau.ts";
export { clipGradNorm } from "./src/optim/clip_grad.ts";
export {
  applyGradients,
  fit,
  type FitOptions,
  type FitResult,
  type FitStepResult,
  NonFiniteLossError,
  type StepOptions,
  type StepResult,
  trainStep,
} from "./src/train/fit.ts";
export { evaluate } from "./src/train/evaluate.ts";
export {
  decodeTrainingState,
  encodeTrainingState,
  readTrainingState,
  type RestoreTarget,
  SavedTrainingState,
  saveTrainingState,
  TRAINING_STATE_FORMAT,
  type TrainingState,
} from "./src/train/training_state.ts";
export {
  checkCheckpointTarget,
  type CheckpointOptions,
  readCheckpoint,
  saveCheckpoint,
  type SavedCheckpoint,
  trainingStatePath,
} from "./src/train/checkpoint.ts";
export {
  checkOverwritable,
  decodeModule,
  encodeModule,
  loadModule,
  MAX_FILE_BYTES,
  MODULE_FORMAT,
  readRegularFile,
  saveModule,
} from "./src/io/module_io.ts";
export { type FileLock, lockPath } from "./src/io/file_lock.ts";
export { decodeSafetensors, encodeSafetensors, type HostTensor } from "./src/io/safetensors.ts";
export { writeFileAtomic, writeFileAtomicSync } from "./src/io/atomic_write.ts";
export {
  CHARLM_FORMAT,
  charLMMetadata,
  decodeCharLM,
  encodeCharLM,
  loadCharLM,
  saveCharLM,
} from "./src/io/charlm_checkpoint.ts";
export { generate, type GenerateOptions } from "./src/models/generate.ts";
export { type Batch, CharCorpus, StreamBatcher, windows } from "./src/data/text.ts";
