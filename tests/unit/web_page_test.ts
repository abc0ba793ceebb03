/**
 * The README's "Use rnnkit in your web page": its deno.json imports (on the app section's
 * links), page and script, copied into a folder outside the checkout and built with the
 * section's commands, train in headless Chromium: served by `deno task serve --dir` (cross-
 * origin isolated: tfjs's threaded wasm build) and by a plain server (its one-thread build).
 */
import assert from "node:assert/strict";
import { dirname } from "node:path";
import { ChromiumPage } from "@rnnkit/backend-webgl/chromium";
import { ignoreChromium, ignoredWhy, startServe } from "./browser_page.ts";

const root = new URL("../..", import.meta.url).pathname;
const readme = await Deno.readTextFile(`${root}README.md`);
const block = (section: string, lang: string) =>
  section.match(new RegExp("```" + lang + "\n([\\s\\S]*?)```"))![1];
const appSection = readme.slice(readme.indexOf("## Use rnnkit in your app"));
const section = readme.slice(readme.indexOf("## Use rnnkit in your web page"));

/** The app's deno.json with the checkout's path put in and the page's imports instead. */
function pageConfig(): string {
  const config = JSON.parse(block(appSection, "json").replaceAll("../rnnkit/", root));
  return JSON.stringify({ ...config, imports: JSON.parse(block(section, "json")).imports });
}

/**
 * Opens `url`; resolves with the page's dataset, its text (`out`) and the browser's logical
 * cores once it has trained, or with its first error.
 */
async function visit(url: string): Promise<Record<string, string>> {
  const page = await ChromiumPage.launch();
  try {
    await page.goto(url);
    await page.waitFor(`document.body.dataset.finalLoss`, 60_000).catch((e) => {
      if (!page.errors.length) throw e;
    });
    if (page.errors.length) return { error: page.errors[0] };
    return await page.evaluate(
      `({ ...document.body.dataset, out: document.querySelector("#out").textContent,
        cores: navigator.hardwareConcurrency })`,
    );
  } finally {
    await page.close();
  }
}

/** Serves `folder` without any particular headers; with `wasm` false, its .wasm files 404. */
function plainServer(folder: string, wasm = true): Deno.HttpServer {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const name = new URL(req.url).pathname.slice(1) || "index.html";
    const type = name.endsWith(".wasm")
      ? "application/wasm"
      : name.endsWith(".js")
      ? "text/javascript"
      : "text/html";
    const bytes = wasm || !name.endsWith(".wasm")
      ? await Deno.readFile(`${folder}/${name}`).catch(() => null)
      : null;
    return bytes
      ? new Response(bytes, { headers: { "content-type": type } })
      : new Response("not found", { status: 404 });
  });
}

const urlOf = (server: Deno.HttpServer) =>
  `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/`;

Deno.test({
  name: "the README's web page builds as written and trains on wasm in Chromium" + ignoredWhy,
  ignore: ignoreChromium,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "rnnkit_web_page_" });
    let plain: Deno.HttpServer | undefined;
    try {
      assert.ok(!dir.startsWith(root), "outside the checkout");
      await Deno.writeTextFile(`${dir}/deno.json`, pageConfig());
      await Deno.writeTextFile(`${dir}/index.html`, block(section, "html"));
      await Deno.writeTextFile(`${dir}/main.js`, block(section, "js"));
      // The section's build commands, with this test's deno first on PATH.
      const build = await new Deno.Command("sh", {
        args: ["-e", "-c", block(section, "sh")],
        cwd: dir,
        env: { NO_COLOR: "1", PATH: `${dirname(Deno.execPath())}:${Deno.env.get("PATH")}` },
      }).output();
      assert.equal(build.code, 0, new TextDecoder().decode(build.stderr));
      const files = [...Deno.readDirSync(`${dir}/public`)].map((e) => e.name).sort();
      assert.deepEqual(files, [
        "app.js",
        "index.html",
        "tfjs-backend-wasm-simd.wasm",
        "tfjs-backend-wasm-threaded-simd.wasm",
        "tfjs-backend-wasm.wasm",
      ]);

      const served = await startServe(["--port", "0", "--dir", `${dir}/public`]);
      try {
        const isolated = await visit(served.url);
        const { finalLoss, firstLoss, out } = isolated;
        assert.ok(Number(finalLoss) < Number(firstLoss) - 0.5, out ?? isolated.error);
        // Threads where tfjs would run 2 or more (4+ logical cores), else the faster build.
        assert.match(
          isolated.out,
          Number(isolated.cores) >= 4
            ? /^tfjs-backend-wasm, SIMD, \d+ threads \(threaded binary\): loss /
            : /^tfjs-backend-wasm, SIMD, 1 thread \(one-thread binary\): loss /,
        );
      } finally {
        await served.close();
      }

      // Without the isolation headers (any static server), the one-thread build runs.
      plain = plainServer(`${dir}/public`);
      const one = await visit(urlOf(plain));
      assert.ok(Number(one.finalLoss) < Number(one.firstLoss) - 0.5, one.out ?? one.error);
      assert.match(one.out, /^tfjs-backend-wasm, SIMD, 1 thread \(one-thread binary\): loss /);
      await plain.shutdown();
      // Binaries missing: the error names the one the page fetched.
      plain = plainServer(`${dir}/public`, false);
      const url = urlOf(plain);
      const missing = await visit(url);
      assert.ok(
        missing.error?.includes(`check that ${url}tfjs-backend-wasm-simd.wasm is served`),
        missing.error,
      );
    } finally {
      await plain?.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
