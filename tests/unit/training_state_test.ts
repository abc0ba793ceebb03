/**
 * The training toolkit: `fit` and its hooks, any Module's weights as safetensors, the
 * training state (model + optimizer + generator + step + metadata) and checkpoint pairs.
 */
import assert from "node:assert/strict";
import "./setup.ts";
import {
  Adam,
  CharLM,
  decodeSafetensors,
  encodeSafetensors,
  evaluate,
  fit,
  intTensor,
  loadModule,
  LSTM,
  Module,
  NonFiniteLossError,
  OneCycleLR,
  ops,
  Random,
  readCheckpoint,
  readTrainingState,
  ReduceLROnPlateau,
  saveCheckpoint,
  saveModule,
  saveTrainingState,
  SGD,
  StepLR,
  type Tensor,
  tensor,
  trainingStatePath,
} from "@rnnkit/core";

/** A model that is not a CharLM: LSTM over [batch, seq, 3] and a readout of the last h. */
class Regressor extends Module {
  readonly lstm: LSTM;
  constructor(rng: Random) {
    super();
    this.lstm = this.registerModule("lstm", new LSTM(3, 4, { batchFirst: true, rng }));
  }
  loss(x: Tensor, y: Tensor): Tensor {
    const [, [h]] = this.lstm.forward(x);
    const d = ops.sub(ops.mean(h, [0, 2]), y);
    return ops.mean(ops.mul(d, d));
  }
}

const batch = (rng: Random) => tensor(rng.uniform(2 * 5 * 3, -1, 1), [2, 5, 3]);

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "rnnkit_state_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Trains `steps` steps from `start`, drawing batches from `rng`; returns the losses. */
async function run(model: Regressor, optimizer: Adam, rng: Random, start: number, steps: number) {
  const { losses } = await fit({
    optimizer,
    steps,
    startStep: start,
    forward: () => model.loss(batch(rng), tensor([0.3])),
  });
  return losses;
}

Deno.test("a saved training state resumes any Module to the uninterrupted run, exactly", async () => {
  await withDir(async (dir) => {
    const make = () => {
      const rng = new Random(5);
      const model = new Regressor(rng);
      return {
        rng,
        model,
        optimizer: new Adam(model.parameters(), { lr: 0.05, weightDecay: 0.1 }),
      };
    };
    const a = make();
    const straight = await run(a.model, a.optimizer, a.rng, 0, 6);

    const b = make();
    const first = await run(b.model, b.optimizer, b.rng, 0, 3);
    const path = `${dir}/state.safetensors`;
    const carried = tensor([[1, 2]]);
    await saveTrainingState(path, {
      model: b.model,
      optimizer: b.optimizer,
      rng: b.rng,
      step: 3,
      runId: "r1",
      metadata: { note: "half way", history: first },
      tensors: { carried },
    });

    const c = make();
    c.optimizer.lr = 1;
    const saved = await readTrainingState(path);
    assert.equal(saved.step, 3);
    assert.equal(saved.runId, "r1");
    assert.deepEqual(saved.metadata, { note: "half way", history: first });
    assert.deepEqual([...saved.tensors.carried.data], [1, 2]);
    saved.restore({ model: c.model, optimizer: c.optimizer, rng: c.rng });
    assert.equal(c.optimizer.lr, 0.05);
    const rest = await run(c.model, c.optimizer, c.rng, saved.step, 6);
    assert.deepEqual([...first, ...rest], straight);
    const [x, z] = [a.model, c.model].map((m) => m.stateDict());
    for (const k of Object.keys(x)) assert.deepEqual(await z[k].data(), await x[k].data(), k);
  });
});

Deno.test("a training state is checked before anything is restored", async () => {
  await withDir(async (dir) => {
    const rng = new Random(1);
    const model = new Regressor(rng);
    const optimizer = new Adam(model.parameters());
    await run(model, optimizer, rng, 0, 1);
    const path = `${dir}/s.safetensors`;
    await saveTrainingState(path, { model, optimizer, step: 1 });
    const bytes = await Deno.readFile(path);
    const file = decodeSafetensors(bytes);
    const rewrite = async (name: string, change: (f: typeof file) => void) => {
      const f = decodeSafetensors(bytes);
      change(f);
      await Deno.writeFile(`${dir}/${name}`, encodeSafetensors(f.tensors, f.metadata));
      return `${dir}/${name}`;
    };
    const cases: [string, RegExp][] = [
      [await rewrite("step.st", (f) => f.metadata.step = "banana"), /metadata "step" is "banana"/],
      [await rewrite("fmt.st", (f) => f.metadata.format = "x"), /not an rnnkit training state/],
      [
        await rewrite("bits.st", (f) => f.tensors["model.lstm.bias_ih_l0"].data[0] += 1),
        /tensor data is damaged \(sha256 differs\)/,
      ],
      [await rewrite("opt.st", (f) => f.metadata.optimizer = "{"), /"optimizer" is not valid JSON/],
    ];
    for (const [p, message] of cases) await assert.rejects(() => readTrainingState(p), message);
    await assert.rejects(
      () => readTrainingState(`${dir}/none`),
      /none: cannot read it \(no such file\)/,
    );
    assert.ok(file.tensors["optimizer.0.exp_avg"], "optimizer buffers by parameter index");

    const saved = await readTrainingState(path);
    const other = new Regressor(new Random(2));
    const before = await other.lstm.stateDict().weight_ih_l0.data();
    const sgd = new SGD(other.parameters());
    assert.throws(
      () => saved.restore({ model: other, optimizer: sgd, rng: new Random() }),
      /cannot restore: its optimizer state is Adam's, not SGD's; it holds no generator state/,
    );
    assert.deepEqual(await other.lstm.stateDict().weight_ih_l0.data(), before, "model untouched");
    const lm = new CharLM({
      vocabSize: 3,
      cell: "gru",
      embeddingSize: 2,
      hiddenSize: 2,
      numLayers: 1,
    });
    assert.throws(() => saved.restore({ model: lm }), /model: missing key "emb\.weight"/);
  });
});

Deno.test("non-finite values are never written", async () => {
  await withDir(async (dir) => {
    const model = new Regressor(new Random(0));
    model.lstm.stateDict().bias_hh_l0.assign(tensor(Array(16).fill(NaN)));
    const path = `${dir}/bad.safetensors`;
    await assert.rejects(
      () => saveTrainingState(path, { model, step: 0 }),
      /weight "lstm\.bias_hh_l0" holds NaN: refusing to save non-finite values/,
    );
    await assert.rejects(() => saveModule(path, model), /refusing to save non-finite/);
    assert.deepEqual([...Deno.readDirSync(dir)], [], "no file, no temp file");
  });
});

Deno.test("saveModule / loadModule: any Module's weights under PyTorch keys", async () => {
  await withDir(async (dir) => {
    const a = new Regressor(new Random(3));
    await saveModule(`${dir}/w.safetensors`, a, { note: "x" });
    const file = decodeSafetensors(await Deno.readFile(`${dir}/w.safetensors`));
    assert.deepEqual(Object.keys(file.tensors), Object.keys(a.stateDict()));
    const b = new Regressor(new Random(4));
    assert.deepEqual(await loadModule(`${dir}/w.safetensors`, b), {
      format: "rnnkit.module.v1",
      note: "x",
    });
    assert.deepEqual(
      await b.lstm.stateDict().weight_hh_l0.data(),
      await a.lstm.stateDict().weight_hh_l0.data(),
    );
    const lm = new CharLM({
      vocabSize: 3,
      cell: "rnn",
      embeddingSize: 2,
      hiddenSize: 2,
      numLayers: 1,
    });
    await assert.rejects(
      () => loadModule(`${dir}/w.safetensors`, lm),
      /w\.safetensors: missing key/,
    );
  });
});

Deno.test("a checkpoint pair: torn saves resume, files of two runs do not", async () => {
  await withDir(async (dir) => {
    const rng = new Random(0);
    const model = new Regressor(rng);
    const optimizer = new Adam(model.parameters());
    const path = `${dir}/c.safetensors`;
    assert.equal(trainingStatePath(path), `${dir}/c.optim.safetensors`);
    await saveCheckpoint(path, { model, optimizer, step: 1, runId: "a" }, {
      modelMetadata: { kind: "regressor" },
    });
    const model1 = await Deno.readFile(path);
    assert.deepEqual(decodeSafetensors(model1).metadata, {
      format: "rnnkit.module.v1",
      kind: "regressor",
      step: "1",
      run_id: "a",
    });
    assert.equal((await readCheckpoint(path)).modelFile, "current");

    await run(model, optimizer, rng, 1, 2);
    await saveCheckpoint(path, { model, optimizer, step: 2, runId: "a" });
    await Deno.writeFile(path, model1); // as if killed between the two writes
    const torn = await readCheckpoint(path);
    assert.equal(torn.modelFile, "stale");
    assert.equal(torn.state.step, 2);

    await saveCheckpoint(`${dir}/o.safetensors`, { model, step: 2, runId: "b" });
    await Deno.rename(`${dir}/o.safetensors`, path);
    await assert.rejects(() => readCheckpoint(path), /come from different training runs/);
    await Deno.remove(path);
    assert.equal((await readCheckpoint(path)).modelFile, "missing");
    await assert.rejects(
      () => readCheckpoint(`${dir}/x.safetensors`),
      /x\.optim\.safetensors: cannot read it \(no such file\); resuming needs both files/,
    );
    await assert.rejects(
      () => saveCheckpoint(path, { model, step: 2 }, { modelMetadata: { step: "9" } }),
      /modelMetadata cannot set "step"/,
    );
  });
});

Deno.test("fit: LR hook, validation, per-step callback, clipping, resumed step numbers", async () => {
  const rng = new Random(0);
  const model = new Regressor(rng);
  const optimizer = new Adam(model.parameters());
  const seen: string[] = [];
  const result = await fit({
    optimizer,
    steps: 7,
    startStep: 2,
    clipGradNorm: 0.5,
    lr: (step) => 0.01 * step,
    forward: () => model.loss(batch(rng), tensor([0.3])),
    validate: (step) => step / 10,
    validateEvery: 2,
    onStep: (step, r) => {
      assert.equal(optimizer.lr, 0.01 * step);
      assert.ok(r.gradNorm! > 0);
      seen.push(`${step}${r.valLoss === undefined ? "" : `:${r.valLoss}`}`);
    },
  });
  assert.deepEqual(seen, ["3", "4:0.4", "5", "6:0.6", "7:0.7"]);
  assert.equal(result.losses.length, 5);
  assert.deepEqual(result.validation, [[4, 0.4], [6, 0.6], [7, 0.7]]);
  await assert.rejects(
    () =>
      fit({ optimizer, steps: 1, forward: () => tensor(1), gradients: () => Promise.resolve(1) }),
    /exactly one of forward and gradients/,
  );
});

Deno.test("fit stops at a non-finite loss, naming the step, before it changes anything", async () => {
  const model = new Regressor(new Random(0));
  const optimizer = new Adam(model.parameters());
  const before = await model.lstm.stateDict().weight_ih_l0.data();
  let calls = 0;
  const error = await fit({
    optimizer,
    steps: 5,
    forward: () =>
      ++calls === 3
        ? ops.scale(model.loss(batch(new Random()), tensor([0])), NaN)
        : model.loss(batch(new Random()), tensor([0])),
  }).catch((e) => e);
  assert.ok(error instanceof NonFiniteLossError);
  assert.match(error.message, /the loss is NaN at step 3: training diverged/);
  assert.equal(error.step, 3);
  const after2 = await model.lstm.stateDict().weight_ih_l0.data();
  assert.notDeepEqual(after2, before, "steps 1 and 2 were applied");
  assert.ok(model.parameters().every((p) => p.grad === null), "step 3's gradients dropped");
  for (const v of after2) assert.ok(Number.isFinite(v));
});

Deno.test("evaluate: mean loss in eval mode, weighted, batches freed", async () => {
  const { liveTensors } = await import("@rnnkit/core");
  const lm = new CharLM({
    vocabSize: 4,
    cell: "lstm",
    embeddingSize: 3,
    hiddenSize: 3,
    numLayers: 2,
    dropout: 0.5,
  });
  const before = liveTensors();
  const modes: boolean[] = [];
  function* batches() {
    for (const rows of [2, 1]) yield { input: intTensor(Array(rows * 3).fill(1), [rows, 3]), rows };
  }
  const mean = await evaluate(lm, batches(), (b) => {
    modes.push(lm.training);
    return tensor(b.rows);
  }, (b) => b.rows);
  assert.equal(mean, (2 * 2 + 1 * 1) / 3);
  assert.deepEqual(modes, [false, false]);
  assert.equal(lm.training, true, "mode restored");
  assert.equal(liveTensors(), before);
});

Deno.test("fit steps a scheduler after each optimizer step, a plateau one at validations", async () => {
  const rng = new Random(0);
  const model = new Regressor(rng);
  const optimizer = new Adam(model.parameters(), { lr: 0.1 });
  const scheduler = new StepLR(optimizer, { stepSize: 2, gamma: 0.5 });
  const used: number[] = [];
  const after: number[] = [];
  await fit({
    optimizer,
    scheduler,
    steps: 5,
    forward: () => {
      used.push(optimizer.lr);
      return model.loss(batch(rng), tensor([0.3]));
    },
    onStep: () => {
      after.push(optimizer.lr);
    },
  });
  assert.deepEqual(used, [0.1, 0.1, 0.05, 0.05, 0.025], "step k uses the lr after k - 1 steps");
  assert.deepEqual(after, [0.1, 0.05, 0.05, 0.025, 0.025]);
  assert.equal(scheduler.lastEpoch, 5);

  const plateau = new ReduceLROnPlateau(optimizer, { patience: 0, factor: 0.5 });
  const seen: number[] = [];
  await fit({
    optimizer,
    scheduler: plateau,
    steps: 6,
    forward: () => model.loss(batch(rng), tensor([0.3])),
    validate: () => 1, // never improves after the first
    validateEvery: 2,
    onStep: () => {
      seen.push(optimizer.lr);
    },
  });
  assert.equal(plateau.lastEpoch, 3, "stepped at the 3 validations only");
  assert.deepEqual(seen, [0.025, 0.025, 0.025, 0.0125, 0.0125, 0.00625]);
  await assert.rejects(
    () => fit({ optimizer, scheduler, lr: () => 1, steps: 1, forward: () => tensor(1) }),
    /give lr or scheduler, not both/,
  );
  const other = new Adam(model.parameters());
  await assert.rejects(
    () => fit({ optimizer: other, scheduler, steps: 1, forward: () => tensor(1) }),
    /the scheduler belongs to another optimizer/,
  );
});

Deno.test("a training state with a scheduler resumes the schedule exactly", async () => {
  await withDir(async (dir) => {
    const make = () => {
      const rng = new Random(5);
      const model = new Regressor(rng);
      const optimizer = new Adam(
        [{ params: model.parameters().slice(0, 2), weightDecay: 0.1 }, {
          params: model.parameters().slice(2),
        }],
        { lr: 0.05 },
      );
      // Cycles the lr and Adam's beta1 of both groups.
      const scheduler = new OneCycleLR(optimizer, { maxLr: [0.1, 0.05], totalSteps: 6 });
      return { rng, model, optimizer, scheduler };
    };
    const train = async (r: ReturnType<typeof make>, start: number, steps: number) => {
      const lrs: number[][] = [];
      const { losses } = await fit({
        optimizer: r.optimizer,
        scheduler: r.scheduler,
        steps,
        startStep: start,
        forward: () => r.model.loss(batch(r.rng), tensor([0.3])),
        onStep: () => {
          lrs.push(r.optimizer.paramGroups.map((g) => g.lr), [...r.optimizer.paramGroups[1].betas]);
        },
      });
      return { losses, lrs };
    };
    const a = make();
    const straight = await train(a, 0, 6);

    const b = make();
    const first = await train(b, 0, 3);
    const path = `${dir}/state.safetensors`;
    await saveTrainingState(path, { ...b, step: 3 });
    const file = decodeSafetensors(await Deno.readFile(path));
    const meta = JSON.parse(file.metadata.scheduler);
    assert.equal(meta.type, "OneCycleLR");
    assert.equal(meta.state.last_epoch, 3);
    assert.deepEqual(
      JSON.parse(file.metadata.optimizer).param_groups.map((g: { max_lr: number }) => g.max_lr),
      [0.1, 0.05],
    );

    const c = make();
    const saved = await readTrainingState(path);
    assert.equal(saved.scheduler?.type, "OneCycleLR");
    saved.restore({ model: c.model, optimizer: c.optimizer, scheduler: c.scheduler, rng: c.rng });
    const rest = await train(c, 3, 6);
    assert.deepEqual([...first.losses, ...rest.losses], straight.losses);
    assert.deepEqual([...first.lrs, ...rest.lrs], straight.lrs);

    // Checked before anything is restored.
    const d = make();
    const before = await d.model.lstm.stateDict().weight_ih_l0.data();
    const step = new StepLR(d.optimizer, { stepSize: 1 });
    const plateau = new ReduceLROnPlateau(new Adam(d.model.parameters()));
    const cases: [Parameters<typeof saved.restore>[0], RegExp][] = [
      [
        { model: d.model, optimizer: d.optimizer, scheduler: step },
        /cannot restore: its scheduler state is OneCycleLR's, not StepLR's/,
      ],
      [
        { model: d.model, scheduler: d.scheduler },
        /a scheduler is restored with its optimizer: give both/,
      ],
      [
        { model: d.model, optimizer: d.optimizer, scheduler: plateau },
        /the scheduler given is not a scheduler of the optimizer given/,
      ],
    ];
    for (const [target, message] of cases) {
      assert.throws(() => saved.restore(target), message);
      assert.deepEqual(await d.model.lstm.stateDict().weight_ih_l0.data(), before);
      assert.equal(d.scheduler.lastEpoch, 0);
    }
    const none = `${dir}/none.safetensors`;
    await saveTrainingState(none, { model: d.model, optimizer: d.optimizer, step: 0 });
    const noScheduler = await readTrainingState(none);
    assert.throws(
      () => noScheduler.restore({ model: d.model, optimizer: d.optimizer, scheduler: d.scheduler }),
      /it holds no scheduler state/,
    );
    await assert.rejects(
      () => saveTrainingState(none, { model: d.model, scheduler: d.scheduler, step: 0 }),
      /the scheduler is saved with its optimizer/,
    );
  });
});
