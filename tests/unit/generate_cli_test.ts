/** `generate` end to end, as a user runs it: exact stdout, exit codes, clear errors. */
import assert from "node:assert/strict";
import { runCli } from "./run_cli.ts";
import generation from "../fixtures/generation.json" with { type: "json" };

const GRU = "tests/fixtures/charlm/gru_l3.safetensors";

const run = (...args: string[]) => runCli("generate.ts", ...args);

Deno.test("greedy generation prints exactly PyTorch's text", async () => {
  const c = generation.cases.find((c) => c.name === "gru_l3")!;
  const r = await run(
    "--checkpoint",
    GRU,
    "--prompt",
    c.prompt,
    "--length",
    String(c.length),
    "--temperature",
    "0",
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, c.generated);
});

Deno.test("a prompt character outside the vocabulary is a usage error", async () => {
  const r = await run("--checkpoint", GRU, "--prompt", "hello Zoë");
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.match(
    r.stderr,
    /outside the checkpoint's vocabulary: "Z", "ë"; vocabulary: " abcdehlortw"/,
  );
});

Deno.test("--checkpoint is required", async () => {
  const r = await run("--prompt", "hello");
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: --checkpoint FILE is required\n$/);
});

Deno.test("a truncated checkpoint fails with one clear line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bytes = await Deno.readFile(new URL(`../../${GRU}`, import.meta.url));
    await Deno.writeFile(`${dir}/cut.safetensors`, bytes.subarray(0, bytes.length - 10));
    const r = await run("--checkpoint", `${dir}/cut.safetensors`, "--prompt", "hello");
    assert.equal(r.code, 2);
    // The backend's start-up line, then one line of error.
    const lines = r.stderr.trim().split("\n");
    assert.match(lines[0], /^rnnkit: backend /);
    assert.match(lines[1], new RegExp(`^error: checkpoint ${dir}/cut.safetensors: safetensors: `));
    assert.equal(lines.length, 2, r.stderr);
    assert.doesNotMatch(r.stderr, /\bat /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sampling: same --seed, same text; another seed, another text", async () => {
  const args = ["--checkpoint", GRU, "--prompt", "hello", "--temperature", "1", "--top-k", "3"];
  const a = await run(...args, "--seed", "11");
  const b = await run(...args, "--seed", "11");
  const c = await run(...args, "--seed", "12");
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.stdout.length, 5 + 200);
  assert.equal(a.stdout, b.stdout);
  assert.notEqual(a.stdout, c.stdout);
});
