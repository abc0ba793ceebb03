/**
 * One data-parallel worker (see data_parallel.ts): holds a replica of the model on its own
 * backend; for each step it loads the current weights from shared memory, computes the mean
 * loss and its gradients on its shard of the batch, and writes the gradients back to its
 * region of shared memory.
 */
import {
  CharLM,
  type CharLMConfig,
  intTensor,
  noGrad,
  Random,
  setBackend,
  tensor,
  tidy,
} from "@rnnkit/core";
import { loadBackend } from "@rnnkit/backends";

/** Where each parameter lives in the shared weight and gradient buffers. */
export interface Slot {
  key: string;
  shape: number[];
  offset: number;
  size: number;
}

export interface InitMessage {
  kind: "init";
  index: number;
  backend: string;
  model: Omit<CharLMConfig, "rng">;
  weights: SharedArrayBuffer;
  grads: SharedArrayBuffer;
  slots: Slot[];
}

export interface StepMessage {
  kind: "step";
  /** Seeds this step's dropout masks, so a resumed run draws the same ones. */
  dropoutSeed: number;
  input: Int32Array;
  rows: number;
  target: Int32Array;
}

export type Reply = { kind: "ready" } | { kind: "done"; loss: number } | {
  kind: "error";
  message: string;
};

interface Replica {
  model: CharLM;
  rng: Random;
  weights: Float32Array;
  grads: Float32Array;
  slots: Slot[];
}

let replica: Replica | undefined;

async function init(m: InitMessage): Promise<void> {
  setBackend(await loadBackend(m.backend));
  const rng = new Random(0);
  const total = m.slots.reduce((n, s) => n + s.size, 0);
  replica = {
    model: new CharLM({ ...m.model, rng }),
    rng,
    weights: new Float32Array(m.weights),
    grads: new Float32Array(m.grads, m.index * total * 4, total),
    slots: m.slots,
  };
}

async function step(m: StepMessage): Promise<number> {
  const { model, rng, weights, grads, slots } = replica!;
  const params = model.stateDict();
  noGrad(() => {
    for (const s of slots) {
      params[s.key].assign(tensor(weights.subarray(s.offset, s.offset + s.size), s.shape));
    }
  });
  rng.setState(new Random(m.dropoutSeed).getState());
  model.zeroGrad();
  const loss = tidy(() => {
    const input = intTensor(m.input, [m.rows, m.input.length / m.rows]);
    const [l] = model.loss({ input, target: intTensor(m.target) });
    l.backward();
    return l;
  });
  for (const s of slots) grads.set(await params[s.key].grad!.data(), s.offset);
  const value = await loss.item();
  loss.dispose();
  return value;
}

// This file runs as a worker; the project's type library describes a window.
const scope = self as unknown as {
  onmessage: (e: MessageEvent<InitMessage | StepMessage>) => void;
  postMessage(reply: Reply): void;
};

scope.onmessage = async (e) => {
  try {
    if (e.data.kind === "init") {
      await init(e.data);
      scope.postMessage({ kind: "ready" });
    } else {
      scope.postMessage({ kind: "done", loss: await step(e.data) });
    }
  } catch (err) {
    scope.postMessage({ kind: "error", message: (err as Error).message });
  }
};
