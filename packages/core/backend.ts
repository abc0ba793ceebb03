/**
 * rnnkit core, for backend authors: the op interface a compute backend implements
 * (`Backend`, with optional `FusedOps`), its argument types and constants, and shape
 * helpers. Model code imports `@rnnkit/core` instead.
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
  RecurrentStackLayer,
  RecurrentStackStepArgs,
} from "./src/backend.ts";
export { RECURRENT_GATES, RECURRENT_SAVED } from "./src/backend.ts";
export { broadcastShapes, formatShape, sizeOf } from "./src/shape.ts";
