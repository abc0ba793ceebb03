/**
 * Data-parallel gradients over Deno workers, to use more than one core: tfjs-wasm runs one
 * thread under Deno. Every step the main thread publishes the weights in shared memory,
 * each worker computes the gradients of its rows of the batch on its own replica, and the
 * main thread averages them (weighted by rows, so the result is the full batch's mean-loss
 * gradient) into the model's `.grad`. The optimizer, evaluation and checkpoints stay in the
 * main thread, unchanged.
 */
import { type Batch, type CharLM, keep, noGrad, tensor } from "@rnnkit/core";
import type { InitMessage, Reply, Slot, StepMessage } from "./grad_worker.ts";

export class DataParallel {
  readonly #workers: Worker[];
  readonly #slots: Slot[];
  readonly #weights: Float32Array;
  readonly #grads: Float32Array;
  readonly #total: number;

  private constructor(
    workers: Worker[],
    slots: Slot[],
    weights: SharedArrayBuffer,
    grads: SharedArrayBuffer,
  ) {
    this.#workers = workers;
    this.#slots = slots;
    this.#total = slots.reduce((n, s) => n + s.size, 0);
    this.#weights = new Float32Array(weights);
    this.#grads = new Float32Array(grads);
  }

  /** Starts `count` workers with replicas of `model` on `backend`. */
  static async create(count: number, backend: string, model: CharLM): Promise<DataParallel> {
    let offset = 0;
    const slots = model.namedParameters().map(([key, p]) => {
      const slot = { key, shape: [...p.shape], offset, size: p.size };
      offset += p.size;
      return slot;
    });
    const weights = new SharedArrayBuffer(offset * 4);
    const grads = new SharedArrayBuffer(offset * 4 * count);
    const { rng: _, ...config } = model.config;
    const workers = Array.from(
      { length: count },
      () => new Worker(new URL("./grad_worker.ts", import.meta.url).href, { type: "module" }),
    );
    const dp = new DataParallel(workers, slots, weights, grads);
    try {
      await Promise.all(
        workers.map((w, index) =>
          dp.#ask(
            w,
            {
              kind: "init",
              index,
              backend,
              model: config,
              weights,
              grads,
              slots,
            } satisfies InitMessage,
          )
        ),
      );
    } catch (e) {
      dp.close();
      throw e;
    }
    return dp;
  }

  /**
   * Sets `model`'s `.grad` to the gradient of the batch's mean loss and returns that loss.
   * `model` must be the one the workers were created from (same shapes, current weights).
   */
  async backward(model: CharLM, batch: Batch, dropoutSeed: number): Promise<number> {
    const params = model.stateDict();
    for (const s of this.#slots) this.#weights.set(await params[s.key].data(), s.offset);
    const input = batch.input.hostInts!;
    const target = batch.target.hostInts!;
    const [rows, cols] = batch.input.shape;
    const n = this.#workers.length;
    const shares = this.#workers.map((_, k) =>
      Math.floor(((k + 1) * rows) / n) - Math.floor((k * rows) / n)
    );
    let row = 0;
    const losses = await Promise.all(this.#workers.map((w, k) => {
      const [from, to] = [row * cols, (row += shares[k]) * cols];
      return this.#ask(
        w,
        {
          kind: "step",
          dropoutSeed: dropoutSeed * n + k,
          input: input.slice(from, to),
          rows: shares[k],
          target: target.slice(from, to),
        } satisfies StepMessage,
      );
    }));
    // Mean over rows: each worker's mean, weighted by its share of the rows.
    const weight = shares.map((s) => s / rows);
    noGrad(() => {
      for (const s of this.#slots) {
        const sum = new Float32Array(s.size);
        for (let k = 0; k < n; k++) {
          const g = this.#grads.subarray(
            k * this.#total + s.offset,
            k * this.#total + s.offset + s.size,
          );
          for (let i = 0; i < s.size; i++) sum[i] += weight[k] * g[i];
        }
        params[s.key].grad?.dispose();
        params[s.key].grad = keep(tensor(sum, s.shape));
      }
    });
    return losses.reduce((a: number, l, k) => a + weight[k] * l!, 0);
  }

  close(): void {
    for (const w of this.#workers) w.terminate();
  }

  /** Posts a message and resolves with the worker's answer (its loss, for a step). */
  #ask(worker: Worker, message: InitMessage | StepMessage): Promise<number | undefined> {
    return new Promise((resolve, reject) => {
      worker.onmessage = (e: MessageEvent<Reply>) => {
        if (e.data.kind === "error") reject(new Error(`worker: ${e.data.message}`));
        else resolve(e.data.kind === "done" ? e.data.loss : undefined);
      };
      worker.onerror = (e) => {
        e.preventDefault();
        reject(new Error(`worker: ${e.message}`));
      };
      worker.postMessage(message);
    });
  }
}
