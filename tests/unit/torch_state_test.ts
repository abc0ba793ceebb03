/**
 * Training states cross between PyTorch and rnnkit and the run goes on as it would have:
 * a state PyTorch saved (python/rnnkit_torch.py) continues in rnnkit with PyTorch's next
 * step, and the state rnnkit saves continues in PyTorch with rnnkit's next step. Fixtures:
 * tests/fixtures/torch_state_gen.py (a CharLM with a 2-layer LSTM, Adam with non-default
 * hyperparameters, 3 steps on one batch).
 */
import "./setup.ts";
import assert from "node:assert/strict";
import {
  Adam,
  type Cell,
  CharLM,
  decodeSafetensors,
  intTensor,
  readTrainingState,
  saveTrainingState,
  trainStep,
} from "@rnnkit/core";
import fixture from "../fixtures/torch_state/expected.json" with { type: "json" };

const dir = new URL("../fixtures/torch_state/", import.meta.url);
const FROM_TORCH = new URL(fixture.fromTorch.file, dir);
const FROM_RNNKIT = new URL(fixture.fromRnnkit.file, dir);
const config = { ...fixture.config, cell: fixture.config.cell as Cell };
const adamOptions = { ...fixture.adam, betas: fixture.adam.betas as [number, number] };

type Weights = Record<string, { shape: number[]; data: number[] }>;

/** The fixture's batch; the caller disposes it. */
function batch() {
  return { input: intTensor(fixture.input), target: intTensor(fixture.target) };
}

/** One training step of `model` on the fixture's batch. */
async function step(model: CharLM, optimizer: Adam): Promise<void> {
  const b = batch();
  try {
    await trainStep(optimizer, () => model.loss(b)[0]);
  } finally {
    b.input.dispose();
    b.target.dispose();
  }
}

/**
 * Asserts |actual - expected| <= atol + rtol * |expected| everywhere, naming the tensor and
 * the largest deviation on failure; returns the largest deviation.
 */
function assertClose(
  name: string,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  atol: number,
  rtol: number,
): number {
  assert.equal(
    actual.length,
    expected.length,
    `${name}: ${actual.length} values, expected ${expected.length}`,
  );
  let max = 0;
  let worst = -1;
  let bad = -1;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= max)) [max, worst] = [d, i];
    if (!(d <= atol + rtol * Math.abs(expected[i])) && bad < 0) bad = i;
  }
  assert.ok(
    bad < 0,
    `${name}: max |diff| ${max} at [${worst}] (${actual[worst]} vs ${expected[worst]}) ` +
      `exceeds ${atol} + ${rtol} * |expected|`,
  );
  return max;
}

/** Compares every weight of `model` with `expected`; returns the largest deviation. */
async function assertWeights(
  what: string,
  model: CharLM,
  expected: Weights,
  atol: number,
  rtol: number,
): Promise<number> {
  const state = model.stateDict();
  assert.deepEqual(Object.keys(state), Object.keys(expected));
  let max = 0;
  for (const [key, t] of Object.entries(state)) {
    assert.deepEqual(t.shape, expected[key].shape, `${what} ${key}: shape`);
    const d = assertClose(`${what} ${key}`, await t.data(), expected[key].data, atol, rtol);
    max = Math.max(max, d);
  }
  return max;
}

Deno.test("a training state PyTorch wrote continues in rnnkit as in PyTorch", async () => {
  const model = new CharLM(config);
  // Default hyperparameters: the file must replace them.
  const optimizer = new Adam(model.parameters());
  try {
    const saved = await readTrainingState(FROM_TORCH.pathname);
    assert.equal(saved.step, fixture.steps);
    assert.equal(saved.runId, "torch_state.torch");
    assert.deepEqual(saved.metadata, { generator: fixture.generator });
    assert.deepEqual([...saved.tensors.input.data], fixture.input.flat());
    saved.restore({ model, optimizer });
    assert.equal(optimizer.lr, fixture.adam.lr);
    assert.deepEqual(optimizer.betas, fixture.adam.betas);
    assert.equal(optimizer.eps, fixture.adam.eps);
    assert.equal(optimizer.weightDecay, fixture.adam.weightDecay);
    for (const p of optimizer.params) assert.equal(optimizer.state.get(p)?.step, fixture.steps);

    await step(model, optimizer);
    const max = await assertWeights("fromTorch.after", model, fixture.fromTorch.after, 1e-5, 1e-5);
    console.log(
      `PyTorch -> rnnkit: largest deviation from PyTorch's next step ${max.toExponential(2)}`,
    );
  } finally {
    optimizer.dispose();
    model.dispose();
  }
});

Deno.test("rnnkit's training state continues in PyTorch as in rnnkit", async () => {
  const model = new CharLM(config);
  model.loadStateDict(fixture.initial);
  const optimizer = new Adam(model.parameters(), adamOptions);
  const tmp = await Deno.makeTempDir({ prefix: "rnnkit_torch_state_" });
  try {
    for (let i = 0; i < fixture.steps; i++) await step(model, optimizer);
    const path = `${tmp}/state.safetensors`;
    await saveTrainingState(path, { model, optimizer, step: fixture.steps });

    // The committed file PyTorch continued is what this code writes.
    const mine = decodeSafetensors(await Deno.readFile(path));
    const committed = decodeSafetensors(await Deno.readFile(FROM_RNNKIT));
    const names = Object.keys(committed.tensors).filter((n) => !n.startsWith("tensors."));
    assert.deepEqual(Object.keys(mine.tensors), names);
    let max = 0;
    for (const name of names) {
      const [a, e] = [mine.tensors[name], committed.tensors[name]];
      assert.deepEqual(a.shape, e.shape, `${name}: shape`);
      max = Math.max(max, assertClose(`from_rnnkit ${name}`, a.data, e.data, 1e-5, 0));
    }
    assert.deepEqual(JSON.parse(mine.metadata.optimizer), JSON.parse(committed.metadata.optimizer));
    console.log(
      `rnnkit's ${fixture.steps}-step state vs the committed file: largest deviation ${
        max.toExponential(2)
      }`,
    );

    await step(model, optimizer);
    max = await assertWeights("fromRnnkit.after", model, fixture.fromRnnkit.after, 1e-5, 0);
    console.log(
      `rnnkit -> PyTorch: largest deviation from PyTorch's next step ${max.toExponential(2)}`,
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
    optimizer.dispose();
    model.dispose();
  }
});
