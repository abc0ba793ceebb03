/**
 * Runs smoke_entry.ts in headless Chromium. Needs Chromium (`apt-get install -y chromium`) and
 * --allow-read --allow-write --allow-run --allow-net=127.0.0.1; without Chromium it is ignored.
 */
import assert from "node:assert/strict";
import { chromiumPath, runInChromium } from "./chromium.ts";

const entry = new URL("./smoke_entry.ts", import.meta.url).href;
const missing = chromiumPath() === null;
// Deno.test has no "skip reason", so the reason goes into the name that the runner prints.
const why = missing ? " (ignored: Chromium not found, `apt-get install -y chromium`)" : "";

interface Line {
  stream: "stdout" | "stderr";
  line: string;
  at: number;
}

async function run(args: string[], timeoutMs = 120_000): Promise<[number, Line[]]> {
  const lines: Line[] = [];
  const code = await runInChromium({
    entry,
    args,
    timeoutMs,
    onLine: (stream, line) => lines.push({ stream, line, at: performance.now() }),
  });
  return [code, lines];
}

const text = (lines: Line[], stream: Line["stream"]) =>
  lines.filter((l) => l.stream === stream).map((l) => l.line);

Deno.test({
  name: "smoke entry runs on WebGL2 and its lines stream in" + why,
  ignore: missing,
  async fn() {
    const [code, lines] = await run([]);
    assert.equal(code, 0, text(lines, "stderr").join("\n"));
    const stdout = text(lines, "stdout");
    assert.match(stdout[0], /^backend webgl webgl2 true /);
    const iters = lines.filter((l) => l.line.startsWith("iter "));
    assert.equal(iters.length, 5);
    // Same inputs every iteration, so one checksum: the GPU result is stable.
    assert.equal(new Set(iters.map((l) => l.line.split(" ")[3])).size, 1);
    // The page sleeps 200 ms between lines; a run that only reported at the end would
    // deliver them all at once.
    assert.ok(iters[4].at - iters[0].at > 500, "lines arrived in one burst");
  },
});

Deno.test({
  name: "an uncaught error in the page gives exit code 1 and its message on stderr" + why,
  ignore: missing,
  async fn() {
    const [code, lines] = await run(["fail"]);
    assert.equal(code, 1);
    assert.equal(text(lines, "stdout").filter((l) => l.startsWith("iter ")).length, 1);
    assert.ok(text(lines, "stderr").includes("Uncaught Error: smoke failure requested"));
  },
});

Deno.test({
  name: "a timeout ends the run with code 124" + why,
  ignore: missing,
  async fn() {
    const [code, lines] = await run([], 1500);
    assert.equal(code, 124);
    assert.equal(text(lines, "stderr").at(-1), "timed out after 1500 ms");
  },
});
