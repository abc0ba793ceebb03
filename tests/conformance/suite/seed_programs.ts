/**
 * The seed lecture's three programs, run by the CLI's own code from PyTorch's initial
 * weights: per-epoch losses, predicted strings and final weights must match PyTorch.
 */
import { Adam, fit, getBackend, liveTensors } from "@rnnkit/core";
import { ToyTask } from "@rnnkit/cli/toy";
import { assertClose, assertTensor } from "../check.ts";
import { seedProgramCases } from "../fixtures.ts";
import { test } from "../registry.ts";

// Fifteen Adam steps compound float32 rounding differences; 1e-3 relative, per the spec.
const TRAJECTORY = { atol: 1e-5, rtol: 1e-3 };

for (const c of seedProgramCases) {
  test(`seed program ${c.name}`, async () => {
    const task = new ToyTask({ model: c.program, input: "hello", target: "ohlol" });
    task.module.loadStateDict(c.initialState);
    const optimizer = new Adam(task.module.parameters(), { lr: c.lr });
    const predictions: string[] = [];
    try {
      const losses = await fit({
        epochs: c.epochs,
        optimizer,
        forward: () => {
          const { loss, logits } = task.forward();
          return [loss, logits];
        },
        onEpoch: (_, r) => void predictions.push(task.decode(r.extras[0])),
      });
      assertClose(losses, c.losses, `${c.name} losses`, TRAJECTORY);
      if (predictions.join() !== c.predictions.join()) {
        throw new Error(`${c.name}: predictions ${predictions} != PyTorch's ${c.predictions}`);
      }
      const state = task.module.stateDict();
      for (const [k, exp] of Object.entries(c.finalState)) {
        await assertTensor(state[k], exp, `${c.name} final ${k}`, TRAJECTORY);
      }
    } finally {
      optimizer.dispose();
      task.dispose();
    }
  });
}

test("memory: live tensors and bytes stay flat from epoch 2 to epoch 50", async () => {
  const task = new ToyTask({ model: "embedding", input: "hello", target: "ohlol" });
  const optimizer = new Adam(task.module.parameters(), { lr: 0.05 });
  const core: number[] = [];
  const backend: number[] = [];
  const bytes: number[] = [];
  try {
    await fit({
      epochs: 50,
      optimizer,
      forward: () => task.forward().loss,
      onEpoch: () => {
        core.push(liveTensors());
        const { numTensors, numBytes } = getBackend().memory();
        backend.push(numTensors);
        bytes.push(numBytes);
      },
    });
  } finally {
    optimizer.dispose();
    task.dispose();
  }
  const series = [["core tensors", core], ["backend tensors", backend], ["backend bytes", bytes]];
  for (const [what, counts] of series as [string, number[]][]) {
    if (counts.slice(1).some((n) => n !== counts[1])) {
      throw new Error(`${what} changed after epoch 2: ${counts}`);
    }
  }
});
