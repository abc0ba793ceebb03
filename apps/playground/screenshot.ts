/**
 * Makes the README's picture of the playground: a 300-step LSTM run on wasm with the
 * default settings, then a continuation of another prompt at temperature 0.5, captured in
 * headless Chromium.
 *
 *   deno run -A apps/playground/screenshot.ts [docs/playground.png]
 */
import { ChromiumPage } from "@rnnkit/backend-webgl/chromium";
import { startServer } from "./serve.ts";

const out = Deno.args[0] ?? "docs/playground.png";
const { url, server } = await startServer({ port: 0, host: "127.0.0.1" });
const page = await ChromiumPage.launch({ viewport: { width: 1000, height: 1060 } });
try {
  await page.goto(`${url}?backend=wasm&steps=300&autostart=1`);
  const status = await page.waitFor<string>(
    `["done", "error"].includes(document.body.dataset.status) && document.body.dataset.status`,
    15 * 60_000,
  );
  if (status !== "done") throw new Error(await page.evaluate("document.body.dataset.message"));
  await page.evaluate(`document.querySelector("[name=prompt]").value = "MENENIUS:\\n";
    document.querySelector("[name=temperature]").value = "0.5";
    document.querySelector("#generate").click()`);
  await page.waitFor(`document.querySelector("#generated").textContent !== ""`);
  await Deno.writeFile(out, await page.screenshot());
  console.log(`wrote ${out}`);
} finally {
  await page.close();
  await server.shutdown();
}
