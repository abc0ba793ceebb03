/** The CLI end to end, as a user runs it: output, exit codes, errors without stack traces. */
import assert from "node:assert/strict";
import { backendMissing, runCli, runCliWith } from "./run_cli.ts";
import seedPrograms from "../fixtures/seed_programs.json" with { type: "json" };

const train = (...args: string[]) => runCli("train.ts", ...args);

Deno.test("train (defaults) prints every epoch and reaches ohlol", async () => {
  const r = await train();
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 15);
  assert.match(lines[14], /^Predicted: ohlol, Epoch \[15\/15\] loss = \d+\.\d{4}$/);
});

Deno.test("train --model rnn reaches ohlol with its defaults", async () => {
  const r = await train("--model", "rnn");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout.trim().split("\n").at(-1)!, /^Predicted: ohlol, Epoch \[15\/15\]/);
});

Deno.test("--seed 0 replays PyTorch's own seed-0 runs of the three programs", async () => {
  // Our generator is torch's mt19937, so the initial weights are PyTorch's, bit for bit.
  for (const model of ["rnncell", "rnn", "embedding"]) {
    const r = await train("--model", model, "--seed", "0");
    assert.equal(r.code, 0, r.stderr);
    const expected = seedPrograms.cases.find((c) => c.name === model)!;
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines.length, expected.epochs, `${model}: one line per epoch`);
    lines.forEach((line, i) => {
      const [, predicted, loss] = line.match(/^Predicted: (\w+), .* loss = ([\d.]+)$/)!;
      assert.equal(predicted, expected.predictions[i], `${model} epoch ${i + 1}`);
      assert.ok(Math.abs(Number(loss) - expected.losses[i]) <= 5e-5 + 1e-3 * expected.losses[i]);
    });
  }
});

Deno.test({
  name: "train --backend webgl runs in headless Chromium and reaches ohlol",
  ignore: await backendMissing("webgl"),
  fn: async () => {
    const r = await train("--backend", "webgl");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /webgl renderer/);
    assert.match(r.stdout.trim().split("\n").at(-1)!, /^Predicted: ohlol, Epoch \[15\/15\]/);
  },
});

Deno.test("train --backend wasm reaches ohlol", async () => {
  const r = await train("--backend", "wasm");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout.trim().split("\n").at(-1)!, /^Predicted: ohlol, Epoch \[15\/15\]/);
});

Deno.test({
  name: "train --backend native reaches ohlol",
  ignore: await backendMissing("native"),
  fn: async () => {
    const r = await train("--backend", "native");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.trim().split("\n").at(-1)!, /^Predicted: ohlol, Epoch \[15\/15\]/);
  },
});

Deno.test("native without OpenBLAS or a C compiler says what to install, in one line", async () => {
  for (
    const [env, why] of [
      [{ RNNKIT_BLAS_LIB: "/nonexistent/libopenblas.so" }, /needs OpenBLAS \(Debian: apt-get/],
      [{ CC: "/nonexistent/cc" }, /needs a C compiler to build its kernels/],
    ] as const
  ) {
    const r = await runCliWith(env, "train.ts", "--backend", "native");
    assert.equal(r.code, 1);
    assert.match(r.stderr, why);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  }
});

Deno.test("same seed, same run; another seed, another run", async () => {
  const a = await train("--model", "rnncell", "--epochs", "3", "--seed", "7");
  const b = await train("--model", "rnncell", "--epochs", "3", "--seed", "7");
  const c = await train("--model", "rnncell", "--epochs", "3", "--seed", "8");
  assert.equal(a.stdout, b.stdout);
  assert.notEqual(a.stdout, c.stdout);
});

Deno.test("--input/--target build the dictionary from both strings", async () => {
  const r = await train("--input", "abcd", "--target", "bcda", "--epochs", "40");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /vocabulary "abcd"/);
  assert.match(r.stdout.trim().split("\n").at(-1)!, /^Predicted: bcda, Epoch \[40\/40\]/);
});

Deno.test("user errors: a message, exit code 2, no stack trace", async () => {
  const cases: [string[], RegExp][] = [
    [["--epochs", "-1"], /--epochs must be a whole number >= 1 \(up to 2\^53 - 1\), got "-1"/],
    [["--lr", "abc"], /--lr must be a number > 0, got "abc"/],
    [["--frobnicate"], /Unknown option '--frobnicate'/],
    [["--backend", "cuda"], /--backend must be one of auto, tfjs, wasm, native, webgpu, webgl/],
    [["--model", "transformer"], /--model must be one of rnncell, rnn, embedding/],
    [["--input", "hello", "--target", "hi"], /equal length, got 5 and 2/],
    [["--input", "", "--target", ""], /non-empty/],
    [
      ["--model", "rnn", "--hidden-size", "7"],
      /--hidden-size must equal the vocabulary size \(4\)/,
    ],
  ];
  for (const [args, message] of cases) {
    const r = await train(...args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  }
});

Deno.test("--help documents every flag", async () => {
  const r = await train("--help");
  assert.equal(r.code, 0);
  for (
    const flag of [
      "--model",
      "--backend",
      "--epochs",
      "--lr",
      "--seed",
      "--hidden-size",
      "--num-layers",
      "--embedding-size",
      "--input",
      "--target",
    ]
  ) {
    assert.match(r.stdout, new RegExp(flag));
  }
});
