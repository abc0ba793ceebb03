/**
 * The playground (`deno task serve`) in headless Chromium, driven over DevTools as a person
 * would use it: short runs on wasm and webgl lower the loss; the page stays responsive while
 * it trains; stop and continue; a checkpoint downloaded from the page generates the page's
 * greedy text in Deno, and one trained by the CLI generates the CLI's greedy text on the
 * page; bad input is a message on the page. Sizes are tiny so each run takes seconds.
 */
import assert from "node:assert/strict";
import { ChromiumPage } from "@rnnkit/backend-webgl/chromium";
import { ignoreChromium, ignoredWhy, serveCommand, startServe } from "./browser_page.ts";
import { runCli, sampleText, TINY } from "./run_cli.ts";

const root = new URL("../..", import.meta.url).pathname;
/** A small model, quick on every backend; the loss still falls within a few steps. */
const SMALL = "hidden-size=16&embedding-size=8&seq-len=16&batch-size=8&lr=0.03&length=30";
const ENDED = `["done", "stopped", "error"].includes(document.body.dataset.status)`;

/** The page's dataset once the current action has ended. */
async function ended(page: ChromiumPage, timeoutMs = 60_000): Promise<Record<string, string>> {
  await page.waitFor(ENDED, timeoutMs);
  return await page.evaluate("({ ...document.body.dataset })");
}

/** Sets controls by name, as typing into them would. */
async function fill(page: ChromiumPage, values: Record<string, string>): Promise<void> {
  await page.evaluate(`(() => {
    for (const [name, value] of Object.entries(${JSON.stringify(values)})) {
      document.querySelector(\`[name="\${name}"]\`).value = value;
    }
  })()`);
}

const click = (page: ChromiumPage, selector: string) =>
  page.evaluate(`document.querySelector(${JSON.stringify(selector)}).click()`);
const text = (page: ChromiumPage, selector: string) =>
  page.evaluate<string>(`document.querySelector(${JSON.stringify(selector)}).textContent`);

/** Greedy text from a checkpoint, by `deno task generate` on wasm (the page's kernels). */
async function cliGreedy(checkpoint: string, prompt: string, length: number): Promise<string> {
  const r = await runCli(
    "generate.ts",
    ...["--checkpoint", checkpoint, "--prompt", prompt, "--length", String(length)],
    ...["--temperature", "0", "--backend", "wasm"],
  );
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

Deno.test("deno task serve: bad flags are usage errors (exit 2) that name the flag", async () => {
  for (
    const [args, message] of [
      [["--port", "70000"], /--port must be a whole number in \[0, 65535\], got "70000"/],
      [["--bogus"], /Unknown option '--bogus'/],
      [["--dir", `${root}no-such-folder`], /--dir .*no-such-folder: not a folder/],
      [["--host", ""], /--host must not be empty/],
    ] as const
  ) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: serveCommand([...args]),
      cwd: root,
      env: { NO_COLOR: "1" },
    }).output();
    assert.equal(out.code, 2, args.join(" "));
    assert.match(new TextDecoder().decode(out.stderr), message);
  }
});

Deno.test({
  name: "the playground trains, saves, loads and generates in headless Chromium" + ignoredWhy,
  ignore: ignoreChromium,
  async fn(t) {
    const tmp = await Deno.makeTempDir({ prefix: "rnnkit_playground_" });
    const server = await startServe(["--port", "0"]);
    let page: ChromiumPage | undefined;
    try {
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      page = await ChromiumPage.launch();
      const p = page;

      await t.step(
        "the page loads, with the sample text, and is cross-origin isolated",
        async () => {
          await p.goto(server.url);
          await p.waitFor(`document.body.dataset.status === "ready"`);
          assert.ok(
            await p.evaluate<number>(`document.querySelector("[name=text]").value.length`) > 5000,
          );
          assert.equal(await p.evaluate("crossOriginIsolated"), true);
          assert.deepEqual(p.errors, []);
        },
      );

      await t.step("wasm: the loss falls, on tfjs's threaded build", async () => {
        await p.goto(
          `${server.url}?backend=wasm&threads=2&cell=lstm&steps=40&eval-interval=10&${SMALL}` +
            "&autostart=1",
        );
        const data = await ended(p);
        assert.equal(data.status, "done", data.message);
        assert.equal(data.step, "40");
        assert.ok(Number(data.finalLoss) < Number(data.firstLoss) - 0.3, JSON.stringify(data));
        // Served cross-origin isolated and asked for 2 threads, tfjs loads its threaded build
        // (which runs half the logical cores: one thread on a 2-core machine).
        assert.match(data.backend, /^tfjs-backend-wasm, SIMD, \d+ threads? \(threaded binary\)$/);
        assert.ok((await text(p, "#sample")).startsWith("The "));
      });

      await t.step(
        "the downloaded checkpoint generates the page's greedy text in Deno",
        async () => {
          await fill(p, { prompt: "The ", length: "40", temperature: "0" });
          await click(p, "#generate");
          assert.equal((await ended(p)).status, "done");
          const greedy = await text(p, "#generated");
          assert.equal(greedy.length, 44);
          const file = await p.download(() => click(p, "#download"));
          assert.match(file, /charlm-lstm-step40\.safetensors$/);
          assert.equal(await cliGreedy(file, "The ", 40), greedy);
        },
      );

      await t.step(
        "steps over 100 ms: the main thread answers within 100 ms; stop, continue",
        async () => {
          // Steps long enough that training on the main thread would block it for each one.
          await p.goto(`${server.url}?backend=wasm&hidden-size=256&steps=100000&autostart=1`);
          await p.waitFor(`Number(document.body.dataset.step) >= 2`);
          const stepMs = await p.evaluate<number>(
            `1000 * 32 * 64 / Number(document.body.dataset.charsPerSecond)`,
          );
          assert.ok(stepMs > 100, `a step takes ${stepMs} ms: too short to tell`);
          // By default, tfjs's threaded binary where it would run 2+ threads, else the other.
          const cores = await p.evaluate<number>("navigator.hardwareConcurrency");
          assert.match(
            await p.evaluate<string>("document.body.dataset.backend"),
            cores >= 4 ? /\d+ threads \(threaded binary\)$/ : /1 thread \(one-thread binary\)$/,
          );
          // No task of 100 ms or more on the main thread (the page's own record), and probes
          // through a page task come back fast (most: a loaded 2-core machine may deschedule
          // the browser for a while).
          await p.evaluate(`window.longTasks = [];
          new PerformanceObserver((list) => longTasks.push(...list.getEntries().map((e) => e.duration)))
            .observe({ type: "longtask" });`);
          const latencies: number[] = [];
          for (const end = performance.now() + 1500; performance.now() < end;) {
            const start = performance.now();
            await p.evaluate("new Promise((resolve) => setTimeout(resolve, 0))");
            latencies.push(performance.now() - start);
            await new Promise((r) => setTimeout(r, 20));
          }
          const longTasks = await p.evaluate<number[]>("longTasks");
          assert.ok(longTasks.every((ms) => ms < 100), `main-thread tasks of ${longTasks} ms`);
          latencies.sort((a, b) => a - b);
          const p90 = latencies[Math.floor(latencies.length * 0.9)];
          assert.ok(p90 < 100, `the main thread answered in ${latencies.map(Math.round)} ms`);

          await click(p, "#stop");
          const stopped = await ended(p);
          assert.equal(stopped.status, "stopped");
          await click(p, "#continue");
          await p.waitFor(`Number(document.body.dataset.step) >= ${Number(stopped.step) + 2}`);
          await click(p, "#stop");
          assert.equal((await ended(p)).status, "stopped");
        },
      );

      await t.step("a checkpoint trained by the CLI generates the CLI's greedy text", async () => {
        await Deno.writeTextFile(`${tmp}/text.txt`, sampleText());
        const ckpt = `${tmp}/cli.safetensors`;
        const trained = await runCli(
          "train.ts",
          ...["--text", `${tmp}/text.txt`, ...TINY, "--steps", "20", "--save", ckpt],
        );
        assert.equal(trained.code, 0, trained.stderr);
        const expected = await cliGreedy(ckpt, "the ", 50);
        await p.setInputFiles("#checkpoint-file", [ckpt]);
        const loaded = await ended(p);
        assert.equal(loaded.status, "done", loaded.message);
        assert.match(loaded.model, /cli\.safetensors: LSTM char LM: embedding 8, hidden 16 x 2/);
        await fill(p, { prompt: "the ", length: "50", temperature: "0" });
        await click(p, "#generate");
        assert.equal((await ended(p)).status, "done");
        assert.equal(await text(p, "#generated"), expected);
      });

      await t.step("bad input is a message on the page", async () => {
        const expectError = async (pattern: RegExp) => {
          const data = await ended(p);
          assert.equal(data.status, "error");
          assert.match(data.message, pattern);
          assert.equal(await text(p, "#message"), data.message);
        };
        // An out-of-vocabulary prompt, with the CLI's model still loaded.
        await fill(p, { prompt: "the ☃" });
        await click(p, "#generate");
        await expectError(/the prompt has characters outside the model's vocabulary: "☃"/);
        await Deno.writeTextFile(`${tmp}/notes.safetensors`, "not a checkpoint");
        await p.setInputFiles("#checkpoint-file", [`${tmp}/notes.safetensors`]);
        await expectError(/^notes\.safetensors: /);
        await p.goto(`${server.url}?bogus=1`);
        await expectError(/unknown query parameter "bogus"; the page's are backend, threads, /);
        await p.goto(`${server.url}?steps=ten&autostart=1`);
        await expectError(/^steps must be a number, got "ten"$/);
        await p.goto(`${server.url}?steps=0&autostart=1`);
        await expectError(/^steps must be a whole number in \[1, 1000000\], got "0"$/);
        await p.goto(`${server.url}?backend=cuda`);
        await expectError(/backend must be one of wasm, webgl, webgpu, tfjs; got "cuda"/);
        // Headless Chromium without --enable-unsafe-webgpu has no adapter; with one, it trains.
        await p.goto(`${server.url}?backend=webgpu&steps=2&${SMALL}&autostart=1`);
        const adapter = await p.evaluate(`navigator.gpu?.requestAdapter().then((a) => !!a)`);
        if (adapter) assert.equal((await ended(p, 120_000)).status, "done");
        else await expectError(/this browser gives no WebGPU adapter: pick another backend/);
      });

      await t.step("webgl: the loss falls; a screenshot of the finished run", async () => {
        await p.goto(
          `${server.url}?backend=webgl&cell=gru&steps=10&eval-interval=5&${SMALL}&autostart=1`,
        );
        const data = await ended(p, 120_000);
        assert.equal(data.status, "done", data.message);
        assert.ok(Number(data.finalLoss) < Number(data.firstLoss), JSON.stringify(data));
        assert.match(data.backend, /SwiftShader|ANGLE|GPU/i);
        const png = await p.screenshot();
        assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
      });
      assert.deepEqual(p.errors, []);
    } finally {
      await page?.close();
      await server.close();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
