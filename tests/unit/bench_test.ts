/**
 * `deno task bench --quick` end to end on the cheapest settings (a Deno backend, the data-
 * parallel runner, one browser page): it must exit 0 and write well-formed JSON in which
 * every peer is either measured or absent with a reason. Timings are never asserted: they
 * depend on the machine.
 */
import assert from "node:assert/strict";
import { backendMissing } from "./run_cli.ts";

const root = new URL("../..", import.meta.url).pathname;

/** Runs a bench script from the repository root; returns its exit code and output. */
async function runBench(script: string, ...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `bench/${script}`, ...args],
    cwd: root,
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

/** Runs `fn` with a temp dir holding a small corpus (tests never read ../shared). */
async function withCorpus(fn: (dir: string, text: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const text = `${dir}/text.txt`;
    await Deno.writeTextFile(text, "To be, or not to be, that is the question.\n".repeat(400));
    await fn(dir, text);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("bench --quick writes its results, and says why any peer is absent", async () => {
  await withCorpus(async (dir, text) => {
    const json = `${dir}/bench.json`;
    // tfjs-layers is left out to keep this fast; the parent must still report it absent.
    const { code, stdout, stderr } = await runBench(
      "bench.ts",
      "--quick",
      "--text",
      text,
      "--backends",
      "tfjs",
      "--configs",
      "rnn",
      "--peers",
      "pytorch",
      "--json",
      json,
    );
    assert.equal(code, 0, stderr);
    assert.match(stdout, /\| rnn \| tfjs \|/);
    // The roofline columns, and the sgemm rates they come from (or why there are none).
    assert.match(stdout, /\| rnnkit chars\/s \| GFLOPS \| % of limit \|/);
    assert.match(stdout, /## Roofline/);

    const r = JSON.parse(await Deno.readTextFile(json));
    assert.equal(r.quick, true);
    // Only wasm gets a data-parallel run: tfjs is measured once.
    assert.deepEqual(r.runs, [{ key: "tfjs", backend: "tfjs", workers: 1 }]);
    const tfjs = r.backends.tfjs;
    assert.equal(tfjs.available, true, tfjs.absent);
    const [train] = tfjs.train;
    assert.equal(train.config, "rnn");
    for (const k of ["median", "min", "max"]) assert.ok(train.msPerStep[k] > 0, k);
    assert.ok(train.charsPerSec > 0);
    assert.ok(train.flops > 0 && train.gflops > 0);
    assert.equal(train.liveTensors, "flat");
    const roof = tfjs.roofline;
    if (roof.absent) assert.match(roof.absent, /no native backend/);
    else {
      assert.ok(roof.best2t > 0 && roof.square.gflops1t > 0);
      assert.ok(roof.shapes.every((s: { gflops2t: number }) => s.gflops2t > 0));
      assert.match(stdout, /\| rnn \| tfjs \| [^|]+\| [^|]+\| [\d.]+ \| \d+% \|/);
    }
    assert.equal(tfjs.workers, 1);
    assert.equal(tfjs.trainOnly, false);
    assert.ok(tfjs.toy.msPerEpoch.median > 0);
    assert.ok(tfjs.generate.charsPerSec.median > 0);
    assert.ok(tfjs.peakRssMB > 0);
    assert.equal(tfjs.liveTensorsEnd, 0);
    assert.equal(tfjs.backendTensorsEnd, 0);

    const peers = [
      r.peers.pytorch1t.rnn,
      r.peers.pytorch2t.rnn,
      r.peers.pytorchGenerate,
      r.peers.tfjsLayers.tfjs.rnn,
      r.peers.tfjsLayersGenerate.tfjs,
    ];
    for (const p of peers) {
      assert.ok(
        typeof p.absent === "string" && p.absent.length > 0 || p.charsPerSec > 0,
        JSON.stringify(p),
      );
    }
    assert.match(r.peers.tfjsLayers.tfjs.rnn.absent, /not requested/);
  });
});

Deno.test("run_backend --workers 2 measures training only, over data-parallel workers", async () => {
  await withCorpus(async (_dir, text) => {
    const { code, stdout, stderr } = await runBench(
      "run_backend.ts",
      "--backend",
      "wasm",
      "--workers",
      "2",
      "--quick",
      "--configs",
      "rnn",
      "--text",
      text,
    );
    assert.equal(code, 0, stderr);
    const r = JSON.parse(stdout.trim().split("\n").at(-1)!);
    assert.equal(r.available, true, r.reason);
    assert.equal(r.backend, "wasm x2 workers");
    assert.equal(r.workers, 2);
    assert.equal(r.trainOnly, true);
    const [train] = r.train;
    assert.equal(train.config, "rnn");
    assert.ok(train.charsPerSec > 0);
    assert.ok(Number.isFinite(train.lastLoss));
    assert.equal(train.liveTensors, "flat");
    assert.equal(r.toy, undefined);
    assert.equal(r.roofline, undefined); // left to the single-stream run
    assert.equal(r.generate, undefined);
    assert.equal(r.liveTensorsEnd, 0);
    assert.equal(r.backendTensorsEnd, 0);
  });
});

// One page end to end on the cheapest setting: the threaded wasm page needs all three of
// runInChromium's serving options (binaries next to the bundle, cross-origin isolation, and
// its row's tfjs-layers measured in the same page).
Deno.test({
  name: "bench --browser wasm-threads measures rnnkit and tfjs-layers in one page",
  ignore: await backendMissing("webgl"),
  fn: () =>
    withCorpus(async (dir, text) => {
      const json = `${dir}/bench.json`;
      const { code, stdout, stderr } = await runBench(
        "bench.ts",
        "--quick",
        "--text",
        text,
        "--backends",
        "", // the page's run alone
        "--browser",
        "wasm-threads",
        "--peers",
        "tfjs-layers",
        "--json",
        json,
      );
      assert.equal(code, 0, stderr);
      const key = "wasm (Chromium, threads)";
      // rnnkit's chars/s, then (after the absent PyTorch columns) tfjs-layers' and the ratio.
      assert.match(stdout, /\| rnn \| wasm \(Chromium, threads\) \| .* \| [\d,]+ \| [\d.]+x \|/);

      const r = JSON.parse(await Deno.readTextFile(json));
      assert.deepEqual(r.runs.map((x: { key: string }) => x.key), [key]);
      const page = r.backends[key];
      assert.equal(page.available, true, page.absent);
      // Cross-origin isolated, so tfjs loaded its threaded binary, on two threads at least.
      const threads = Number(page.description.match(/(\d+) threads \(threaded binary\)/)?.[1]);
      assert.ok(threads >= 2, page.description);
      assert.ok(page.train[0].charsPerSec > 0);
      assert.equal(page.peakRssMB, null);
      assert.equal(page.liveTensorsEnd, 0);
      const layers = r.peers.tfjsLayers[key].rnn;
      assert.equal(layers.backend, "wasm", layers.absent);
      assert.equal(layers.input, "onehot"); // tfjs-wasm cannot train an embedding
      assert.ok(layers.charsPerSec > 0);
      assert.equal(layers.peakRssMB, null); // a page has no RSS to give
      assert.ok(r.peers.tfjsLayersGenerate[key].charsPerSec > 0);
    }),
});
