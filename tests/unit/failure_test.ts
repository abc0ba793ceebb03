/**
 * What the CLI does when things go wrong, case by case as a careless or hostile user meets
 * them: bad targets and files, divergence, kills and signals mid-save, a second run, bad
 * numbers. Every case checks the exit code, the message, and that nothing was lost.
 */
import assert from "node:assert/strict";
import { decodeSafetensors, encodeSafetensors, type HostTensor } from "@rnnkit/core";
import { runCli, runCliWith, sampleText, TINY } from "./run_cli.ts";

const root = new URL("../..", import.meta.url).pathname;
const train = (...args: string[]) => runCli("train.ts", ...args);

async function withDir(fn: (dir: string, text: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "rnnkit_failure_" });
  try {
    await Deno.writeTextFile(`${dir}/text.txt`, sampleText(7, 700));
    await fn(dir, `${dir}/text.txt`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const files = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

/** Exit code 2, one line of error (after the start-up lines), the message, no stack trace. */
function usageError(r: { code: number; stderr: string }, message: RegExp) {
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  assert.doesNotMatch(r.stderr, /^step \d+/m, "refused before training");
}

/** A tmpfs mount (Linux, root): the only way to get a read-only or full disk for root. */
async function withMount(options: string, fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "rnnkit_mount_" });
  const mount = (...args: string[]) => new Deno.Command("mount", { args }).output();
  const r = await mount("-t", "tmpfs", "-o", options, "tmpfs", dir);
  assert.ok(r.success, `mount tmpfs (${options}): ${new TextDecoder().decode(r.stderr)}`);
  try {
    await fn(dir);
  } finally {
    await new Deno.Command("umount", { args: [dir] }).output();
    await Deno.remove(dir);
  }
}
const root_ = Deno.uid() === 0 && Deno.build.os === "linux";

Deno.test("1. --save onto the training text, or any file not rnnkit's, is refused before step 1", async () => {
  await withDir(async (dir, text) => {
    const before = await Deno.readTextFile(text);
    usageError(
      await train("--text", text, ...TINY, "--steps", "3", "--save", text),
      /--save .*text\.txt: .*text\.txt exists and is not an rnnkit file .*not overwriting it/,
    );
    assert.equal(await Deno.readTextFile(text), before);
    await Deno.writeTextFile(`${dir}/notes.optim.safetensors`, "mine");
    usageError(
      await train("--text", text, ...TINY, "--save", `${dir}/notes.safetensors`),
      /notes\.optim\.safetensors exists and is not an rnnkit file/,
    );
    assert.deepEqual(files(dir), ["notes.optim.safetensors", "text.txt"]);
  });
});

Deno.test("2. divergence stops training at its step, and the last good checkpoint stays", async () => {
  await withDir(async (dir, text) => {
    const model = `${dir}/m.safetensors`;
    assert.equal((await train("--text", text, ...TINY, "--steps", "2", "--save", model)).code, 0);
    const good = [await Deno.readFile(model), await Deno.readFile(`${dir}/m.optim.safetensors`)];
    const r = await train(
      "--text",
      text,
      "--resume",
      model,
      "--steps",
      "50",
      "--lr",
      "1e38",
      "--clip",
      "0",
    );
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /error: the loss is (NaN|-?Infinity) at step \d+: training diverged/);
    assert.deepEqual(await Deno.readFile(model), good[0]);
    assert.deepEqual(await Deno.readFile(`${dir}/m.optim.safetensors`), good[1]);

    // A checkpoint edited to hold NaN is refused, naming the tensor.
    const file = decodeSafetensors(good[0]);
    file.tensors["fc.bias"].data[0] = NaN;
    await Deno.writeFile(`${dir}/nan.safetensors`, encodeSafetensors(file.tensors, file.metadata));
    const gen = await runCli(
      "generate.ts",
      "--checkpoint",
      `${dir}/nan.safetensors`,
      "--prompt",
      "the",
    );
    usageError(gen, /"fc\.bias" holds a non-finite value \(NaN\)/);
  });
});

Deno.test("3. a directory, or an unwritable or full disk, as the save target", async () => {
  await withDir(async (dir, text) => {
    await Deno.mkdir(`${dir}/adir`);
    usageError(
      await train("--text", text, ...TINY, "--save", `${dir}/adir`),
      /--save .*adir: .*adir exists and is a directory: not overwriting it/,
    );
    usageError(
      await train("--text", text, ...TINY, "--save", `${dir}/nowhere/m.safetensors`),
      /there is no directory .*nowhere\//,
    );
    assert.deepEqual(files(dir), ["adir", "text.txt"], "no stray files");
    if (!root_) return;
    await withMount("ro,size=64k", async (ro) => {
      usageError(
        await train("--text", text, ...TINY, "--save", `${ro}/m.safetensors`),
        /cannot write in .*Read-only file system/,
      );
    });
    // Room for the probe and a little more, not for a checkpoint: the save fails, naming it.
    await withMount("size=16k", async (full) => {
      const r = await train(
        "--text",
        text,
        ...TINY,
        "--steps",
        "2",
        "--save",
        `${full}/m.safetensors`,
      );
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /error: cannot write .*m\.optim\.safetensors: the disk is full/);
      assert.deepEqual(files(full).filter((f) => f.endsWith(".tmp")), [], "no temp file left");
    });
  });
});

/** Starts a save-every-step run that pauses in each write; resolves once it is mid-write. */
async function midWrite(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "apps/cli/train.ts", ...args],
    cwd: root,
    env: { NO_COLOR: "1", RNNKIT_TEST_WRITE_PAUSE_MS: "60000" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!/test pause: (\S+) written/.test(seen)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the run ended before writing: ${seen}`);
    seen += value;
  }
  const tmp = seen.match(/test pause: (\S+) written/)![1];
  return { child, tmp, reader };
}

Deno.test("4. SIGTERM mid-save removes the temp file; SIGKILL's orphan goes at the next save", async () => {
  await withDir(async (dir, text) => {
    const model = `${dir}/k.safetensors`;
    const args = ["--text", text, ...TINY, "--steps", "3", "--save-interval", "1", "--save", model];
    const term = await midWrite(args);
    assert.ok(Deno.statSync(term.tmp).isFile, "mid-write: the temp file exists");
    term.child.kill("SIGTERM");
    assert.equal((await term.child.status).code, 143);
    await term.reader.cancel();
    assert.deepEqual(files(dir).filter((f) => f.endsWith(".tmp")), []);

    const kill = await midWrite(args);
    kill.child.kill("SIGKILL");
    await kill.child.status;
    await kill.reader.cancel();
    assert.ok(Deno.statSync(kill.tmp).isFile, "SIGKILL leaves its temp file");
    const again = await train(...args);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(files(dir).filter((f) => f.endsWith(".tmp")), [], "removed by the next save");
  });
});

/** The tensor bytes' SHA-256, as a training state records it, after editing one. */
async function resealed(file: ReturnType<typeof decodeSafetensors>) {
  const parts = Object.values(file.tensors).map((t: HostTensor) => new Uint8Array(t.data.buffer));
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (all.set(p, at), at + p.length), 0);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  file.metadata.sha256 = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
  return encodeSafetensors(file.tensors, file.metadata);
}

Deno.test("5. every field of a training state is checked before anything changes", async () => {
  await withDir(async (dir, text) => {
    const model = `${dir}/m.safetensors`;
    const state = `${dir}/m.optim.safetensors`;
    assert.equal((await train("--text", text, ...TINY, "--steps", "2", "--save", model)).code, 0);
    const bytes = await Deno.readFile(state);
    const cases: [string, (f: ReturnType<typeof decodeSafetensors>) => void, RegExp][] = [
      ["step", (f) => f.metadata.step = "banana", /metadata "step" is "banana"/],
      ["exp_avg", (f) => delete f.tensors["optimizer.0.exp_avg"], /parameter 0: missing "exp_avg"/],
      ["history", (f) => {
        const m = JSON.parse(f.metadata.metadata);
        f.metadata.metadata = JSON.stringify({ ...m, history: { train: "x" } });
      }, /the loss history is damaged/],
      ["config", (f) => {
        const m = JSON.parse(f.metadata.metadata);
        f.metadata.metadata = JSON.stringify({ ...m, config: { ...m.config, hiddenSize: "16" } });
      }, /configuration "hiddenSize" is "16"/],
    ];
    for (const [what, edit, message] of cases) {
      const f = decodeSafetensors(bytes);
      edit(f);
      await Deno.writeFile(state, await resealed(f));
      const edited = await Deno.readFile(state);
      usageError(await train("--text", text, "--resume", model, "--steps", "4"), message);
      assert.deepEqual(await Deno.readFile(state), edited, `${what}: nothing rewritten`);
    }
  });
});

Deno.test("8-13, 17: bad numbers and resumes are refused before training, saying why", async () => {
  await withDir(async (dir, text) => {
    await Deno.writeTextFile(`${dir}/one.txt`, "a");
    const model = `${dir}/m.safetensors`;
    assert.equal((await train("--text", text, ...TINY, "--steps", "3", "--save", model)).code, 0);
    await Deno.writeTextFile(`${dir}/other.txt`, sampleText(8, 700));
    const cases: [string[], RegExp][] = [
      [
        ["--text", text, "--workers", "3", "--batch-size", "2"],
        /--workers 3 needs --batch-size >= 3/,
      ],
      [["--text", "/dev/zero"], /--text \/dev\/zero: cannot read it \(a device or special file/],
      [
        ["--text", text, "--seed", "18446744073709551616"],
        /--seed must be a whole number >= 0 \(up to 2\^53 - 1\), got "18446744073709551616"/,
      ],
      [
        ["--text", text, "--hidden-size", "1000000000"],
        /--hidden-size 1000000000, .*: the model does not fit in memory: cannot allocate [\d.]+e\+\d+ float32 values \([\d,]+ GiB\)/,
      ],
      [
        ["--text", `${dir}/other.txt`, "--resume", model, "--steps", "9"],
        /it was trained on another text/,
      ],
      [
        ["--text", text, "--resume", model, "--steps", "3"],
        /the run is at step 3 already, so --steps 3 leaves nothing/,
      ],
      [["--text", text, "--epochs", "0x10"], /--epochs must be a whole number >= 1 .*got "0x10"/],
      [["--text", text, "--steps", "5", "--steps", "6"], /--steps is given 2 times; give it once/],
      [["--text", `${dir}/one.txt`], /training part has 1 character, fewer than/],
    ];
    for (const [args, message] of cases) usageError(await train(...args), message);
    usageError(
      await runCli("generate.ts", "--checkpoint", "/dev/zero", "--prompt", "a"),
      /\/dev\/zero: cannot read it \(a device or special file/,
    );
  });
});

Deno.test("15. a text file given as a checkpoint is named as not a safetensors file", async () => {
  await withDir(async (_dir, text) => {
    usageError(
      await runCli("generate.ts", "--checkpoint", text, "--prompt", "the"),
      /not a safetensors file \(it should start with an 8-byte header length and a JSON object; it starts with "/,
    );
  });
});

Deno.test("16. generate streams its text, and a reader that stops ends it quietly", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "apps/cli/generate.ts",
      "--checkpoint",
      "tests/fixtures/charlm/gru_l2.safetensors",
      "--prompt",
      "hello",
      "--length",
      "100000000",
    ],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  let got = 0;
  while (got < 50) got += (await reader.read()).value!.length; // long before 1e8 characters
  await reader.cancel(); // as `| head -c 50` does
  const { code } = await child.status;
  const stderr = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
  assert.equal(code, 0, stderr);
  assert.doesNotMatch(stderr, /error|Broken pipe/i);
});

Deno.test("18. a second run saving to the same path is refused while the first one runs", async () => {
  await withDir(async (dir, text) => {
    const model = `${dir}/m.safetensors`;
    const first = await midWrite(["--text", text, ...TINY, "--steps", "3", "--save", model]);
    usageError(
      await train("--text", text, ...TINY, "--steps", "3", "--save", model),
      /--save .*m\.safetensors: .*is in use by another process \(it holds .*m\.safetensors\.lock\)/,
    );
    first.child.kill("SIGKILL");
    await first.child.status;
    await first.reader.cancel();
    // The lock dies with its process: the next run goes ahead.
    const next = await runCliWith(
      {},
      "train.ts",
      "--text",
      text,
      ...TINY,
      "--steps",
      "3",
      "--save",
      model,
    );
    assert.equal(next.code, 0, next.stderr);
  });
});
