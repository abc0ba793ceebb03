/**
 * The seed lecture's three programs, written with the public API as a user would, from
 * PyTorch's initial weights: per-epoch losses, predicted strings and final weights must
 * match PyTorch. (The CLI's own copy, apps/cli/toy.ts, is checked against the same
 * fixtures by tests/unit/cli_test.ts.)
 */
import {
  Adam,
  CharLM,
  CrossEntropyLoss,
  fit,
  getBackend,
  intTensor,
  liveTensors,
  type Module,
  ops,
  RNN,
  RNNCell,
  type Tensor,
  zeros,
} from "@rnnkit/core";
import { assertClose, assertTensor } from "../check.ts";
import { seedProgramCases } from "../fixtures.ts";
import { test } from "../registry.ts";

// Fifteen Adam steps compound float32 rounding differences; 1e-3 relative, per the spec.
const TRAJECTORY = { atol: 1e-5, rtol: 1e-3 };

const VOCAB = "ehlo"; // the sorted characters of "hello" and "ohlol"
const [X, Y] = ["hello", "ohlol"].map((s) => [...s].map((ch) => VOCAB.indexOf(ch)));
const V = VOCAB.length;

/** A program's model and its forward pass: [loss, logits [5, V]]. */
function seedProgram(name: string): { model: Module; forward: () => [Tensor, Tensor] } {
  const target = () => intTensor(Y);
  const oneHot = () => ops.oneHot(intTensor(X), V);
  if (name === "rnncell") {
    const cell = new RNNCell(V, V);
    const ce = new CrossEntropyLoss({ reduction: "sum" });
    return {
      model: cell,
      forward: () => {
        let h = zeros([1, V]);
        const logits = ops.concat(
          ops.split(oneHot(), Array(X.length).fill(1), 0).map((x) => h = cell.forward(x, h)),
          0,
        );
        return [ce.forward(logits, target()), logits];
      },
    };
  }
  const ce = new CrossEntropyLoss();
  if (name === "rnn") {
    const rnn = new RNN(V, V);
    return {
      model: rnn,
      forward: () => {
        const logits = ops.reshape(rnn.forward(ops.reshape(oneHot(), [X.length, 1, V]))[0], [
          -1,
          V,
        ]);
        return [ce.forward(logits, target()), logits];
      },
    };
  }
  const lm = new CharLM({
    vocabSize: V,
    cell: "rnn",
    embeddingSize: 10,
    hiddenSize: 8,
    numLayers: 2,
  });
  return {
    model: lm,
    forward: () => {
      const logits = ops.reshape(lm.forward(intTensor([X]))[0], [-1, V]);
      return [ce.forward(logits, target()), logits];
    },
  };
}

/** The argmax character of every row. */
function decode(logits: Float32Array | Int32Array): string {
  return Array.from({ length: logits.length / V }, (_, r) => {
    const row = Array.from(logits.subarray(r * V, r * V + V));
    return VOCAB[row.indexOf(Math.max(...row))];
  }).join("");
}

for (const c of seedProgramCases) {
  test(`seed program ${c.name}`, async () => {
    const { model, forward } = seedProgram(c.program);
    model.loadStateDict(c.initialState);
    const optimizer = new Adam(model.parameters(), { lr: c.lr });
    const predictions: string[] = [];
    try {
      const { losses } = await fit({
        steps: c.epochs,
        optimizer,
        forward,
        onStep: (_, r) => void predictions.push(decode(r.extras[0])),
      });
      assertClose(losses, c.losses, `${c.name} losses`, TRAJECTORY);
      if (predictions.join() !== c.predictions.join()) {
        throw new Error(`${c.name}: predictions ${predictions} != PyTorch's ${c.predictions}`);
      }
      const state = model.stateDict();
      for (const [k, exp] of Object.entries(c.finalState)) {
        await assertTensor(state[k], exp, `${c.name} final ${k}`, TRAJECTORY);
      }
    } finally {
      optimizer.dispose();
      model.dispose();
    }
  });
}

test("memory: live tensors and bytes stay flat from epoch 2 to epoch 50", async () => {
  const { model, forward } = seedProgram("embedding");
  const optimizer = new Adam(model.parameters(), { lr: 0.05 });
  const counts: Record<string, number[]> = {
    "core tensors": [],
    "backend tensors": [],
    "backend bytes": [],
  };
  try {
    await fit({
      steps: 50,
      optimizer,
      forward: () => forward()[0],
      onStep: () => {
        const { numTensors, numBytes } = getBackend().memory();
        counts["core tensors"].push(liveTensors());
        counts["backend tensors"].push(numTensors);
        counts["backend bytes"].push(numBytes);
      },
    });
  } finally {
    optimizer.dispose();
    model.dispose();
  }
  for (const [what, series] of Object.entries(counts)) {
    if (series.slice(1).some((n) => n !== series[1])) {
      throw new Error(`${what} changed after epoch 2: ${series}`);
    }
  }
});
