/** The messages between the playground page (page.ts) and its training worker (worker.ts). */

/** A training run's settings: the page's controls, checked. */
export interface TrainConfig {
  cell: "rnn" | "lstm" | "gru";
  embeddingSize: number;
  hiddenSize: number;
  numLayers: number;
  seqLen: number;
  batchSize: number;
  steps: number;
  lr: number;
  evalInterval: number;
  seed: number;
}

/** How samples and generated text are drawn. */
export interface GenerateConfig {
  prompt: string;
  length: number;
  /** 0: greedy. */
  temperature: number;
  /** 0: every character. */
  topK: number;
  seed: number;
}

/** Page to worker. The worker handles them one at a time, except `stop`. */
export type Request =
  /** The first message: which backend this worker runs (one per worker; `threads`: wasm's). */
  | { type: "init"; backend: string; threads?: number }
  | { type: "train"; config: TrainConfig; generate: GenerateConfig; text: string }
  /** Trains on to the run's target; a finished run gets `steps` more. */
  | { type: "continue"; generate: GenerateConfig }
  /** Ends training after the step in progress. */
  | { type: "stop" }
  | { type: "generate"; generate: GenerateConfig }
  | { type: "save" }
  | { type: "load"; bytes: Uint8Array<ArrayBuffer>; name: string };

/** Worker to page. */
export type Reply =
  /** The backend is up; `description` says what it runs on. */
  | { type: "ready"; backend: string; description: string }
  | { type: "model"; summary: string }
  | {
    type: "step";
    step: number;
    target: number;
    loss: number;
    valLoss?: number;
    charsPerSecond: number;
  }
  | { type: "sample"; step: number; text: string }
  /** Training ended: after its last step, or stopped. */
  | { type: "trained"; step: number; finalLoss: number; stopped: boolean }
  | { type: "generated"; text: string }
  | { type: "checkpoint"; bytes: Uint8Array<ArrayBuffer>; name: string }
  | { type: "error"; message: string };
