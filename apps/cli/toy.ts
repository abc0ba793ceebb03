/**
 * The seed lecture's three programs: learn to map one string to another of the same
 * length ("hello" -> "ohlol") character by character.
 * - rnncell:   RNNCell(V, V) stepped by hand, loss summed over steps;
 * - rnn:       RNN(V, V, numLayers), loss averaged over steps;
 * - embedding: Embedding(V, E) -> RNN(E, H, numLayers, batchFirst) -> Linear(H, V), mean loss:
 *   core's CharLM with cell "rnn".
 * In the first two the hidden state itself is the V-way score vector.
 */
import {
  Adam,
  CharCorpus,
  CharLM,
  CrossEntropyLoss,
  fit,
  getBackend,
  intTensor,
  manualSeed,
  type Module,
  ops,
  type Random,
  RNN,
  RNNCell,
  type Tensor,
  zeros,
} from "@rnnkit/core";

export const TOY_MODELS = ["rnncell", "rnn", "embedding"] as const;
export type ToyModelName = typeof TOY_MODELS[number];

export interface ToyConfig {
  model: ToyModelName;
  input: string;
  target: string;
  hiddenSize?: number;
  numLayers?: number;
  embeddingSize?: number;
  rng?: Random;
}

/** The seed's learning rates (the other sizes follow from the vocabulary). */
export const TOY_LR: Record<ToyModelName, number> = { rnncell: 0.1, rnn: 0.1, embedding: 0.05 };

/** The dictionary of the seed: the distinct characters of input and target, by code point. */
export function vocabulary(input: string, target: string): string[] {
  return new CharCorpus(input + target, 0).vocab;
}

/** Rejects configurations the seed's programs cannot run, saying which flag is wrong. */
export function checkToyConfig(config: ToyConfig): void {
  const { model, input, target } = config;
  if (input.length === 0 || [...input].length !== [...target].length) {
    throw new Error(
      `input and target must be non-empty and of equal length, got ${[...input].length} and ${
        [...target].length
      } characters`,
    );
  }
  const v = vocabulary(input, target).length;
  if (model !== "embedding" && config.hiddenSize !== undefined && config.hiddenSize !== v) {
    throw new Error(
      `--hidden-size must equal the vocabulary size (${v}) for --model ${model}: ` +
        `its hidden state is the ${v}-way score vector`,
    );
  }
  if (model === "rnncell" && (config.numLayers ?? 1) !== 1) {
    throw new Error("--num-layers applies to --model rnn and embedding, not rnncell");
  }
  if (model !== "embedding" && config.embeddingSize !== undefined) {
    throw new Error(`--embedding-size applies to --model embedding only, not ${model}`);
  }
}

/** A toy task: the model plus a forward pass that yields the loss and the logits. */
export class ToyTask {
  readonly vocab: string[];
  readonly module: Module;
  readonly #x: number[];
  readonly #y: number[];
  readonly #forward: () => { loss: Tensor; logits: Tensor };
  readonly #labels: Tensor;

  constructor(config: ToyConfig) {
    const { model, input, target, rng } = config;
    checkToyConfig(config);
    this.vocab = vocabulary(input, target);
    const v = this.vocab.length;
    this.#x = [...input].map((c) => this.vocab.indexOf(c));
    this.#y = [...target].map((c) => this.vocab.indexOf(c));
    const seq = this.#x.length;
    const labels = this.#labels = intTensor(this.#y, [seq]);
    const oneHot = () => ops.oneHot(intTensor(this.#x, [seq]), v);

    if (model === "rnncell") {
      const cell = new RNNCell(v, v, { rng });
      const sumLoss = new CrossEntropyLoss({ reduction: "sum" });
      this.module = cell;
      this.#forward = () => {
        // Step by hand as the lecture does: batch 1, one label per step.
        const xs = ops.split(oneHot(), Array(seq).fill(1), 0);
        let h = zeros([1, v]);
        const hs = xs.map((x) => (h = cell.forward(x, h)));
        const logits = ops.concat(hs, 0);
        // Summing per-step means over a batch of 1 equals one summed loss.
        return { loss: sumLoss.forward(logits, labels), logits };
      };
    } else if (model === "rnn") {
      const rnn = new RNN(v, v, { numLayers: config.numLayers ?? 1, rng });
      const ce = new CrossEntropyLoss();
      this.module = rnn;
      this.#forward = () => {
        const [out] = rnn.forward(ops.reshape(oneHot(), [seq, 1, v]));
        const logits = ops.reshape(out, [-1, v]);
        return { loss: ce.forward(logits, labels), logits };
      };
    } else {
      const net = new CharLM({
        vocabSize: v,
        cell: "rnn",
        embeddingSize: config.embeddingSize ?? 10,
        hiddenSize: config.hiddenSize ?? 8,
        numLayers: config.numLayers ?? 2,
        rng,
      });
      const ce = new CrossEntropyLoss();
      this.module = net;
      this.#forward = () => {
        const logits = ops.reshape(net.forward(intTensor(this.#x, [1, seq]))[0], [-1, v]);
        return { loss: ce.forward(logits, labels), logits };
      };
    }
  }

  /** Loss and logits [seq, vocab] of one pass over the sequence. */
  forward(): { loss: Tensor; logits: Tensor } {
    return this.#forward();
  }

  /** Frees the model's parameters and the task's tensors. */
  dispose(): void {
    this.module.dispose();
    this.#labels.dispose();
  }

  /** The predicted string: the argmax character of every row of `logits`. */
  decode(logits: Float32Array | Int32Array): string {
    const v = this.vocab.length;
    let s = "";
    for (let r = 0; r < logits.length / v; r++) {
      let best = 0;
      for (let j = 1; j < v; j++) if (logits[r * v + j] > logits[r * v + best]) best = j;
      s += this.vocab[best];
    }
    return s;
  }
}

/** A toy training run as the CLI describes it; plain data, so it can cross into a browser. */
export interface ToyRun extends Omit<ToyConfig, "rng"> {
  epochs: number;
  lr: number;
  seed: number;
}

/**
 * Trains a toy task with Adam and reports every epoch through `out` (results) and `log`
 * (progress); returns the final prediction. Runs wherever a backend is set.
 */
export async function runToy(
  run: ToyRun,
  out: (line: string) => void,
  log: (line: string) => void,
): Promise<string> {
  manualSeed(run.seed);
  const task = new ToyTask(run);
  log(
    `rnnkit: model ${run.model}, backend ${getBackend().name}, vocabulary "${
      task.vocab.join("")
    }", ` +
      `${run.epochs} epochs, Adam lr ${run.lr}, seed ${run.seed}`,
  );
  const optimizer = new Adam(task.module.parameters(), { lr: run.lr });
  let last = "";
  const start = performance.now();
  await fit({
    steps: run.epochs,
    optimizer,
    forward: () => {
      const { loss, logits } = task.forward();
      return [loss, logits];
    },
    onStep: (epoch, { loss, extras }) => {
      last = task.decode(extras[0]);
      out(`Predicted: ${last}, Epoch [${epoch}/${run.epochs}] loss = ${loss.toFixed(4)}`);
    },
  });
  const ms = (performance.now() - start) / run.epochs;
  log(
    `rnnkit: ${last === run.target ? "reached" : "did not reach"} "${run.target}"` +
      `${last === run.target ? "" : ` (got "${last}")`}; ${ms.toFixed(1)} ms/epoch`,
  );
  optimizer.dispose();
  task.dispose();
  return last;
}
