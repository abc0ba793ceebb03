/**
 * Char-LM training (`train --text`): the corpus and its batchers, then the command end to
 * end on a small generated text: it learns, writes exactly its three files, resumes to the
 * very same weights and losses as an uninterrupted run, and rejects bad input clearly.
 */
import "./setup.ts";
import assert from "node:assert/strict";
import {
  Adam,
  CharCorpus,
  CosineAnnealingLR,
  encodeSafetensors,
  LinearLR,
  Random,
  readTrainingState,
  SequentialLR,
  StreamBatcher,
  zeros,
} from "@rnnkit/core";
import { backendMissing, runCli, sampleText, TINY } from "./run_cli.ts";

const root = new URL("../..", import.meta.url).pathname;

const train = (...args: string[]) => runCli("train.ts", ...args);

async function withText(fn: (dir: string, text: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rnnkit_charlm_" });
  try {
    await Deno.writeTextFile(`${dir}/text.txt`, sampleText());
    await fn(dir, `${dir}/text.txt`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const TINY_FAST = [
  ...TINY,
  "--lr",
  "0.01",
  "--eval-interval",
  "5",
];

// ---- CharCorpus and StreamBatcher ----------------------------------------------------------

Deno.test("CharCorpus: vocabulary sorted by code point, surrogate pairs kept whole", () => {
  // By UTF-16 units "😀" (0xD83D...) would sort before "\uFFFD"; by code point it comes after.
  const corpus = new CharCorpus("b😀a\uFFFDa", 0);
  assert.deepEqual(corpus.vocab, ["a", "b", "\uFFFD", "😀"]);
  assert.deepEqual([...corpus.encode("😀ab")], [3, 0, 1]);
  assert.equal(corpus.decode(corpus.encode("a😀b")), "a😀b");
  assert.throws(() => corpus.encode("z"), /"z" not in vocab/);
});

Deno.test("CharCorpus: validation is the end of the text", () => {
  const corpus = new CharCorpus("abcdefghij", 0.2);
  assert.equal(corpus.decode(corpus.train), "abcdefgh");
  assert.equal(corpus.decode(corpus.val), "ij");
  assert.throws(() => new CharCorpus("abc", 1), /valFraction/);
});

Deno.test("CharCorpus.randomWindows: targets are the inputs shifted by one", async () => {
  const text = sampleText();
  const corpus = new CharCorpus(text, 0.1);
  const trainText = corpus.decode(corpus.train);
  const [b, t] = [4, 10];
  const { input, target } = corpus.randomWindows(b, t, new Random(0));
  assert.deepEqual(input.shape, [b, t]);
  assert.deepEqual(target.shape, [b * t]);
  const x = await input.data();
  const y = await target.data();
  for (let row = 0; row < b; row++) {
    const xs = corpus.decode(x.subarray(row * t, row * t + t));
    const ys = corpus.decode(y.subarray(row * t, row * t + t));
    assert.equal(xs.slice(1), ys.slice(0, -1));
    assert.ok(trainText.includes(xs + ys.at(-1)), "a window of the training part");
  }
  input.dispose();
  target.dispose();
});

Deno.test("StreamBatcher: each row continues the previous chunk's row", async () => {
  const data = Int32Array.from({ length: 101 }, (_, i) => i);
  const stream = new StreamBatcher(data, 3, 5); // streams of 33 characters: 6 chunks
  assert.equal(stream.chunksPerEpoch, 6);
  const rows: number[][] = [[], [], []];
  for (let k = 0; k < 6; k++) {
    const { input, target, first } = stream.next();
    assert.equal(first, k === 0);
    const x = await input.data();
    const y = await target.data();
    for (let r = 0; r < 3; r++) {
      rows[r].push(...x.subarray(r * 5, r * 5 + 5));
      assert.deepEqual(
        [...y.subarray(r * 5, r * 5 + 5)],
        [...x.subarray(r * 5, r * 5 + 5)].map((v) => v + 1),
      );
    }
    input.dispose();
    target.dispose();
  }
  rows.forEach((row, r) => assert.deepEqual(row, Array.from({ length: 30 }, (_, i) => r * 33 + i)));
  const again = stream.next();
  assert.equal(again.first, true, "starts over after the last whole chunk");
  again.input.dispose();
  again.target.dispose();
  assert.throws(() => new StreamBatcher(data, 30, 5), /do not fill 30 streams/);
});

Deno.test("CharCorpus.validationStarts: consecutive windows, capped and spread", () => {
  const corpus = new CharCorpus("x".repeat(909) + "y".repeat(101), 0.1);
  assert.deepEqual(corpus.validationStarts(10, 100), Array.from({ length: 10 }, (_, i) => i * 10));
  assert.deepEqual(corpus.validationStarts(10, 4), [0, 20, 50, 70]);
});

// ---- The command -------------------------------------------------------------------------

Deno.test("train --text learns and writes the model, its training state and the plot", async () => {
  await withText(async (dir, text) => {
    const r = await train(
      "--text",
      text,
      ...TINY_FAST,
      "--steps",
      "20",
      "--save",
      `${dir}/m.safetensors`,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^final train loss [\d.]+, val loss [\d.]+, steps 20, steps\/s [\d.]+, chars\/s \d+, time [\d.]+ s\nlive tensors core \d+, backend \d+, flat over the run\n$/,
    );
    assert.match(r.stderr, /step 20\/20 {2}loss [\d.]+ {2}val [\d.]+/);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(names, ["m.loss.svg", "m.optim.safetensors", "m.safetensors", "text.txt"]);
    const state = await readTrainingState(`${dir}/m.optim.safetensors`);
    const losses = (state.metadata.history as { train: number[] }).train;
    assert.equal(losses.length, 20);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    assert.ok(mean(losses.slice(-5)) < mean(losses.slice(0, 5)) - 0.15, `losses ${losses}`);
    assert.equal(state.step, 20);
    assert.equal(state.optimizer?.type, "Adam");
    assert.ok("rnn.weight_hh_l1" in state.weights);
    assert.match(
      r.stderr,
      /rnnkit: model LSTM char LM: embedding 8, hidden 16 x 2 layers, vocabulary \d+, [\d,]+ parameters/,
    );
    assert.match(r.stderr, /rnnkit: saved .*m\.safetensors at step 20/);
    const svg = await Deno.readTextFile(`${dir}/m.loss.svg`);
    assert.match(svg, /^<svg[^]*LSTM char LM, hidden 16, 2 layers[^]*<\/svg>\n$/);
  });
});

Deno.test("train --text without --save writes no file", async () => {
  await withText(async (dir, text) => {
    const r = await train("--text", text, ...TINY_FAST, "--steps", "3");
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["text.txt"]);
  });
});

/**
 * Trains 20 steps in one run and 10 + 10 with --resume (`halfOnly`: flags of the first half
 * alone), and checks that both end with the same output and files.
 * `between` runs after the first half, before the resume.
 */
async function resumeMatches(
  dir: string,
  args: string[],
  halfOnly: string[] = [],
  between: () => Promise<void> = async () => {},
) {
  const full = await train(...args, "--steps", "20", "--save", `${dir}/full.safetensors`);
  assert.equal(full.code, 0, full.stderr);
  const half = await train(
    ...args,
    ...halfOnly,
    "--steps",
    "10",
    "--save",
    `${dir}/half.safetensors`,
  );
  assert.equal(half.code, 0, half.stderr);
  await between();
  // Only the text and the target: everything else comes from the checkpoint.
  const text = args[args.indexOf("--text") + 1];
  const rest = await train("--text", text, "--resume", `${dir}/half.safetensors`, "--steps", "20");
  assert.equal(rest.code, 0, rest.stderr);
  const result = (s: string) => s.replace(/, steps\/s.*/, "");
  assert.equal(result(rest.stdout), result(full.stdout));
  for (const suffix of [".safetensors", ".optim.safetensors", ".loss.svg"]) {
    assert.deepEqual(
      await Deno.readFile(`${dir}/half${suffix}`),
      await Deno.readFile(`${dir}/full${suffix}`),
      suffix,
    );
  }
}

for (
  const extra of [
    [],
    ["--dropout", "0.2"],
    ["--dropout", "0.2", "--batching", "stream"],
  ]
) {
  Deno.test(`--resume gives the uninterrupted run's weights and losses (${extra.join(" ")})`, async () => {
    await withText((dir, text) => resumeMatches(dir, ["--text", text, ...TINY_FAST, ...extra]));
  });
}

Deno.test("--resume gives the uninterrupted run's weights and losses (--lr-schedule cosine --warmup-steps 3)", async () => {
  await withText(async (dir, text) => {
    const args = ["--text", text, ...TINY_FAST, "--lr-schedule", "cosine", "--warmup-steps", "3"];
    // The first half of the same schedule: 20 steps long, stopped at 10.
    await resumeMatches(dir, args, ["--schedule-steps", "20"], async () => {
      const halfState = await readTrainingState(`${dir}/half.optim.safetensors`);
      assert.equal(halfState.scheduler?.type, "SequentialLR");
      assert.equal(halfState.scheduler?.stateDict.last_epoch, 10);
    });
    // The warm-up and the cosine, as the help says: step k <= 3 uses lr * k / 4, then the
    // cosine from the full lr over the 17 steps left, to near 0.
    const state = await readTrainingState(`${dir}/full.optim.safetensors`);
    const [cosine] = (state.scheduler!.stateDict._schedulers as { T_max: number }[]).slice(1);
    assert.equal(cosine.T_max, 17);
    // A schedule fixes the learning rate and the schedule for the run's life.
    const resume = (...flags: string[]) =>
      train("--text", text, "--resume", `${dir}/full.safetensors`, "--steps", "30", ...flags);
    const changed = await resume("--lr", "0.5");
    assert.equal(changed.code, 2);
    assert.match(
      changed.stderr,
      /--lr 0\.5 differs from the resumed run's 0\.01, which a run with a learning-rate schedule cannot change/,
    );
    const other = await resume("--lr-schedule", "plateau");
    assert.equal(other.code, 2);
    assert.match(other.stderr, /--lr-schedule plateau differs from the resumed run's cosine/);
  });
});

Deno.test("--resume gives the uninterrupted run's weights and losses (--lr-schedule plateau)", async () => {
  await withText(async (dir, text) => {
    // A high lr and an evaluation every step: the plateau halves the lr at steps 9 and 12.
    const args = ["--text", text, ...TINY, "--lr", "0.3", "--eval-interval", "1"];
    const lr = async (name: string) =>
      (await readTrainingState(`${dir}/${name}.optim.safetensors`)).optimizer!.stateDict
        .param_groups[0].lr;
    await resumeMatches(dir, [...args, "--lr-schedule", "plateau"], [], async () => {
      assert.equal(await lr("half"), 0.15);
    });
    assert.equal(await lr("half"), 0.075);
  });
});

Deno.test("--lr-schedule: the learning rate of every step", () => {
  // What --help states, for the schedulers the command builds for cosine with a warm-up.
  const optimizer = new Adam([zeros([1])], { lr: 0.01 });
  const [w, s] = [3, 20];
  const warm = new LinearLR(optimizer, { startFactor: 1 / (w + 1), totalIters: w });
  const cos = new CosineAnnealingLR(optimizer, { tMax: s - w });
  const schedule = new SequentialLR(optimizer, { schedulers: [warm, cos], milestones: [w] });
  for (let k = 1; k <= s; k++) {
    const expected = k <= w
      ? 0.01 * k / (w + 1)
      : 0.01 * (1 + Math.cos(Math.PI * (k - 1 - w) / (s - w))) / 2;
    assert.ok(
      Math.abs(optimizer.lr - expected) < 1e-15,
      `step ${k}: ${optimizer.lr} vs ${expected}`,
    );
    schedule.step();
  }
});

Deno.test("--resume refuses a model without its matching training state", async () => {
  await withText(async (dir, text) => {
    const args = ["--text", text, ...TINY_FAST, "--steps", "5"];
    assert.equal((await train(...args, "--save", `${dir}/a.safetensors`)).code, 0);
    assert.equal((await train(...args, "--seed", "2", "--save", `${dir}/b.safetensors`)).code, 0);
    await Deno.rename(`${dir}/b.optim.safetensors`, `${dir}/a.optim.safetensors`);
    const torn = await train("--text", text, "--resume", `${dir}/a.safetensors`);
    assert.equal(torn.code, 2);
    assert.match(torn.stderr, /come from different training runs/);
    const missing = await train("--text", text, "--resume", `${dir}/b.safetensors`);
    assert.equal(missing.code, 2);
    assert.match(
      missing.stderr,
      /b\.optim\.safetensors: cannot read it \(no such file\); resuming needs both files/,
    );
    assert.equal((await train(...args, "--save", `${dir}/c.safetensors`)).code, 0);
    const changed = await train(
      "--text",
      text,
      "--resume",
      `${dir}/c.safetensors`,
      "--cell",
      "gru",
    );
    assert.equal(changed.code, 2);
    assert.match(changed.stderr, /--cell gru differs from the resumed run's lstm/);
  });
});

Deno.test("--resume says so when the training state is from an earlier rnnkit", async () => {
  await withText(async (dir, text) => {
    const model = `${dir}/old.safetensors`;
    assert.equal(
      (await train("--text", text, ...TINY_FAST, "--steps", "2", "--save", model)).code,
      0,
    );
    const old = encodeSafetensors({}, { format: "rnnkit.charlm.train.v2", step: "2" });
    await Deno.writeFile(`${dir}/old.optim.safetensors`, old);
    const r = await train("--text", text, "--resume", model);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /format: "rnnkit\.charlm\.train\.v2".*written by an earlier rnnkit/);
    assert.match(r.stderr, /the model .*old\.safetensors still loads/);
  });
});

Deno.test("a kill between the two writes of a save still resumes (torn save)", async () => {
  await withText(async (dir, text) => {
    const model = `${dir}/t.safetensors`;
    const args = ["--text", text, ...TINY_FAST];
    assert.equal((await train(...args, "--save", model, "--steps", "2")).code, 0);
    const older = await Deno.readFile(model);
    assert.equal((await train("--text", text, "--resume", model, "--steps", "4")).code, 0);
    // As if killed after the training state (step 4) was written but before the model was.
    await Deno.writeFile(model, older);
    const resumed = await train("--text", text, "--resume", model, "--steps", "6");
    assert.equal(resumed.code, 0, resumed.stderr);
    const straight = await train(...args, "--steps", "6", "--save", `${dir}/s.safetensors`);
    assert.deepEqual(await Deno.readFile(model), await Deno.readFile(`${dir}/s.safetensors`));
    assert.equal(straight.code, 0);
  });
});

Deno.test("a kill at any moment leaves a loadable model and a resumable run", async () => {
  await withText(async (dir, text) => {
    const model = `${dir}/k.safetensors`;
    const args = ["--text", text, ...TINY_FAST, "--save-interval", "1", "--save", model];
    assert.equal((await train(...args, "--steps", "2")).code, 0);
    for (const delayMs of [300, 600, 900, 1200, 1500]) {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "apps/cli/train.ts", ...args, "--resume", model, "--steps", "100000"],
        cwd: root,
        stdout: "null",
        stderr: "null",
      }).spawn();
      await new Promise((r) => setTimeout(r, delayMs));
      child.kill("SIGKILL");
      await child.status;
      // Whatever the moment, the model loads and the run resumes from its training state.
      const gen = await runCli(
        "generate.ts",
        "--checkpoint",
        model,
        "--prompt",
        "the",
        "--length",
        "3",
      );
      assert.equal(gen.code, 0, gen.stderr);
      const state = await readTrainingState(`${dir}/k.optim.safetensors`);
      const next = String(state.step + 1);
      const resumed = await train("--text", text, "--resume", model, "--steps", next);
      assert.equal(resumed.code, 0, resumed.stderr);
    }
  });
});

Deno.test("--workers 2 computes the same training run (data parallel)", async () => {
  await withText(async (_dir, text) => {
    const args = [
      "--text",
      text,
      ...TINY_FAST,
      "--steps",
      "12",
      "--dropout",
      "0",
      "--backend",
      "wasm",
    ];
    const numbers = (out: string) => out.match(/-?\d+\.\d+/g)!.slice(0, 2).map(Number);
    const one = await train(...args);
    const two = await train(...args, "--workers", "2");
    assert.equal(two.code, 0, two.stderr);
    // Same batches and weights; only the order of float additions differs.
    const [a, b] = [numbers(one.stdout), numbers(two.stdout)];
    a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) < 1e-3, `${one.stdout} vs ${two.stdout}`));
    const stream = await train(...args, "--workers", "2", "--batching", "stream");
    assert.equal(stream.code, 2);
    assert.match(stream.stderr, /--workers needs --batching random/);
  });
});

Deno.test({
  name: "train --text on native follows the run on wasm (same batches, same weights)",
  ignore: await backendMissing("native"),
  fn: () =>
    withText(async (_dir, text) => {
      const args = ["--text", text, ...TINY_FAST, "--steps", "12", "--dropout", "0"];
      const numbers = (out: string) => out.match(/-?\d+\.\d+/g)!.slice(0, 2).map(Number);
      const wasm = await train(...args, "--backend", "wasm");
      const native = await train(...args, "--backend", "native");
      assert.equal(native.code, 0, native.stderr);
      assert.match(native.stderr, /rnnkit: backend native: kernels .*OpenBLAS/);
      const [a, b] = [numbers(wasm.stdout), numbers(native.stdout)];
      a.forEach((x, i) =>
        assert.ok(Math.abs(x - b[i]) < 1e-3, `${wasm.stdout} vs ${native.stdout}`)
      );
    }),
});

Deno.test("train --text rejects bad input with one line and exit code 2", async () => {
  await withText(async (dir, text) => {
    await Deno.writeTextFile(`${dir}/empty.txt`, "");
    await Deno.writeTextFile(`${dir}/short.txt`, "abc");
    const cases: [string[], RegExp][] = [
      [["--text", `${dir}/missing.txt`], /--text .*missing\.txt: cannot read it \(no such file\)/],
      [["--text", `${dir}/empty.txt`], /the file is empty/],
      [["--text", `${dir}/short.txt`], /training part has 3 characters, fewer than the 65/],
      [["--text", text, "--batching", "bogus"], /--batching must be one of random, stream/],
      [["--text", text, "--backend", "webgl"], /--backend webgl cannot train on --text/],
      [["--text", text, "--lr", "0"], /--lr must be a number > 0/],
      [["--text", text, "--steps", "5", "--epochs", "1"], /--steps or --epochs, not both/],
      [["--text", text, "--dropout", "0.5", "--num-layers", "1"], /needs --num-layers >= 2/],
      [["--text", text, "--model", "rnn"], /Unknown option '--model'/],
      [
        ["--text", text, "--lr-schedule", "step"],
        /--lr-schedule must be one of none, cosine, plateau/,
      ],
      [
        ["--text", text, "--lr-schedule", "plateau", "--warmup-steps", "2"],
        /--warmup-steps does not combine with --lr-schedule plateau/,
      ],
      [
        ["--text", text, "--lr-schedule", "plateau", "--val-fraction", "0"],
        /--lr-schedule plateau needs validation/,
      ],
      [
        ["--text", text, "--schedule-steps", "5"],
        /--schedule-steps is the length of --lr-schedule cosine/,
      ],
      [
        ["--text", text, "--lr-schedule", "cosine", "--steps", "5", "--warmup-steps", "5"],
        /--warmup-steps 5 leaves no steps of the cosine schedule \(--schedule-steps 5\)/,
      ],
      [["--text", text, "--warmup-steps", "-1"], /--warmup-steps must be a whole number >= 0/],
    ];
    for (const [args, message] of cases) {
      const r = await train(...args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    }
  });
});
