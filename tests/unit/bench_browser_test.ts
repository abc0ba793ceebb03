/**
 * `deno task bench --browser`: one page end to end on the cheapest setting (--quick, rnn,
 * the threaded wasm page, which needs all three of runInChromium's serving options: the
 * binaries served next to the bundle, cross-origin isolation, and its row's tfjs-layers
 * measured in the same page). Timings are never asserted. Without Chromium it is ignored.
 */
import assert from "node:assert/strict";
import { chromiumPath } from "@rnnkit/backend-webgl/chromium";

const root = new URL("../..", import.meta.url).pathname;
const missing = chromiumPath() === null;
// Deno.test has no "skip reason", so the reason goes into the name that the runner prints.
const why = missing ? " (ignored: Chromium not found, `apt-get install -y chromium`)" : "";

Deno.test({
  name: "bench --browser wasm-threads measures rnnkit and tfjs-layers in one page" + why,
  ignore: missing,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const [text, json] = [`${dir}/text.txt`, `${dir}/bench.json`];
      await Deno.writeTextFile(text, "To be, or not to be, that is the question.\n".repeat(400));
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "bench/bench.ts",
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
        ],
        cwd: root,
        env: { NO_COLOR: "1" },
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, stderr);
      const key = "wasm (Chromium, threads)";
      const stdout = new TextDecoder().decode(out.stdout);
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
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
