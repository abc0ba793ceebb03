/**
 * `deno task test`: type-check, lint, format check, the public API's docs (`deno doc
 * --lint`), a publish dry run, the unit tests, every example at small sizes, then the
 * conformance suite once per backend of the registry. A backend that needs something not
 * installed here (OpenBLAS and a C compiler, a WebGPU adapter, Chromium) is skipped with
 * the reason, except under CI (`CI` set), which has everything: there a skip fails.
 * Prints one summary line at the end: "N passed, N failed, N skipped".
 */
import { runInChromium } from "@rnnkit/backend-webgl/chromium";
import { BACKENDS } from "@rnnkit/backends";
import { denoTestResult } from "./deno_test_result.ts";

const deno = Deno.execPath();
const root = new URL("..", import.meta.url).pathname;

interface Result {
  step: string;
  passed: number;
  failed: number;
  skipped?: string;
  /** Said in the summary: e.g. that the step passed on its second run. */
  note?: string;
}
const results: Result[] = [];

/** op -> backend -> "ok" | "FAILED", read from the suite's "backend op <name>" cases. */
const capabilities = new Map<string, Map<string, string>>();
const backendsRun: string[] = [];

function noteCapabilities(text: string) {
  const patterns = [
    /\[(\w+)\] backend op (\w+) \.\.\. (ok|FAILED)/g,
    /\[(\w+)\] (fused op \w+): (backend|composite)/g,
  ];
  for (const m of patterns.flatMap((p) => [...text.matchAll(p)])) {
    if (!backendsRun.includes(m[1])) backendsRun.push(m[1]);
    if (!capabilities.has(m[2])) capabilities.set(m[2], new Map());
    capabilities.get(m[2])!.set(m[1], m[3]);
  }
}

// Deno's WebGPU (through Vulkan) complains on stderr when this is unset; give it one.
const ownXdg = !Deno.env.get("XDG_RUNTIME_DIR");
const xdg = Deno.env.get("XDG_RUNTIME_DIR") ?? Deno.makeTempDirSync({ prefix: "rnnkit-xdg-" });

/** Runs a command with inherited output; returns its exit code and captured stdout. */
async function run(args: string[], env: Record<string, string> = {}, cwd = root) {
  const child = new Deno.Command(deno, {
    args,
    cwd,
    env: { XDG_RUNTIME_DIR: xdg, ...env },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let out = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    const text = decoder.decode(chunk);
    out += text;
    await Deno.stdout.write(chunk);
  }
  const { code } = await child.status;
  return { code, out };
}

async function check(step: string, args: string[], cwd = root) {
  console.log(`\n== ${step}`);
  const { code } = await run(args, {}, cwd);
  results.push({ step, passed: code === 0 ? 1 : 0, failed: code === 0 ? 0 : 1 });
}

/**
 * Runs `deno test` on `files`. With `rerunCrashAtExit`, a run whose tests all passed but
 * whose process then exited non-zero runs once more, and the summary says so.
 */
async function denoTest(
  step: string,
  files: string[],
  env: Record<string, string> = {},
  options: { rerunCrashAtExit?: boolean; note?: string } = {},
) {
  console.log(`\n== ${step}`);
  const { code, out } = await run(["test", "-A", ...files], { NO_COLOR: "1", ...env });
  noteCapabilities(out);
  const { passed, failed, crashedAfterPassing } = denoTestResult(code, out);
  if (crashedAfterPassing && options.rerunCrashAtExit) {
    const note = `all ${passed} passed, then the process exited with code ${code}; ran again`;
    console.log(`(${step}: ${note})`);
    return denoTest(step, files, env, { note });
  }
  results.push({ step, passed, failed, note: options.note });
}

/** Runs a browser entry that ends with an "N passed | N failed" line. */
async function browserTest(step: string, entry: string) {
  console.log(`\n== ${step}`);
  let summary: RegExpMatchArray | null = null;
  const code = await runInChromium({
    entry: `${root}${entry}`,
    onLine: (stream, line) => {
      summary = line.match(/^(\d+) passed \| (\d+) failed$/) ?? summary;
      noteCapabilities(line);
      (stream === "stdout" ? console.log : console.error)(line);
    },
    timeoutMs: 15 * 60_000,
  });
  const [passed, failed] = summary ? [Number(summary[1]), Number(summary[2])] : [0, 0];
  results.push({ step, passed, failed: failed || (code !== 0 ? 1 : 0) });
}

/** A step that cannot run here: skipped with the reason, or under CI a failure. */
function skip(step: string, why: string) {
  const ci = Deno.env.get("CI");
  console.log(
    `\n== ${step}: ${ci ? "FAILED, CI installs everything it needs" : "skipped"} (${why})`,
  );
  results.push({ step, passed: 0, failed: ci ? 1 : 0, skipped: ci ? undefined : why });
}

/** Every entry point of every workspace package, from their deno.json `exports`. */
function entryPoints(): string[] {
  const workspace: string[] = JSON.parse(Deno.readTextFileSync(`${root}deno.json`)).workspace;
  return workspace.flatMap((dir) => {
    const { exports } = JSON.parse(Deno.readTextFileSync(`${root}${dir}/deno.json`));
    return Object.values(typeof exports === "string" ? { ".": exports } : exports)
      .map((path) => `${dir}/${(path as string).replace(/^\.\//, "")}`);
  });
}

await check("type-check", ["check", "packages", "apps", "tests", "bench"]);
await check("lint", ["lint"]);
await check("format", ["fmt", "--check"]);
await check("docs: deno doc --lint on every entry point", ["doc", "--lint", ...entryPoints()]);
await check("publish: deno publish --dry-run", ["publish", "--dry-run", "--allow-dirty"]);
await denoTest("unit tests", [
  "tests/unit/",
  "packages/backend-webgl/",
  "packages/backend-native/",
]);
// Each example is an app of its own (its deno.json links the packages, as the README says).
for (
  const { name } of [...Deno.readDirSync(`${root}examples`)].sort((a, b) =>
    a.name < b.name ? -1 : 1
  )
) {
  const dir = `${root}examples/${name}`;
  await check(`example ${name}: type-check`, ["check", "main.ts"], dir);
  await check(`example ${name}: deno task test`, ["task", "test"], dir);
}
// A backend is skipped only when a dependency is missing, found without loading it; one
// whose dependencies are here runs, and a failure to load is a failed step.
for (const backend of BACKENDS) {
  const step = `conformance: ${backend.name}`;
  const missing = await backend.missing?.();
  if (missing) skip(step, `${missing}; needs ${backend.needs}`);
  else if (backend.runsIn === "browser") {
    await browserTest(`${step} (headless Chromium)`, "tests/conformance/browser_entry.ts");
  } else {
    await denoTest(step, ["tests/conformance/"], { RNNKIT_BACKEND: backend.name }, {
      // Deno's WebGPU on Mesa has crashed at process exit ("double free or corruption")
      // after every test had passed, about once in ten runs: that step may run once more.
      rerunCrashAtExit: backend.name === "webgpu",
    });
  }
}

console.log("\n== Capabilities: backend ops (ok = passes its conformance test)");
console.log(`| op | ${backendsRun.join(" | ")} |`);
console.log(`| --- | ${backendsRun.map(() => "---").join(" | ")} |`);
for (const [op, byBackend] of capabilities) {
  console.log(`| ${op} | ${backendsRun.map((b) => byBackend.get(b) ?? "-").join(" | ")} |`);
}

console.log("\n== Summary");
for (const r of results) {
  const status = (r.skipped ? `skipped: ${r.skipped}` : `${r.passed} passed, ${r.failed} failed`) +
    (r.note ? ` (first run: ${r.note})` : "");
  console.log(`${r.failed ? "FAIL" : r.skipped ? "SKIP" : "ok  "} ${r.step}: ${status}`);
}
const passed = results.reduce((a, r) => a + r.passed, 0);
const failed = results.reduce((a, r) => a + r.failed, 0);
const skipped = results.filter((r) => r.skipped).length;
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
if (ownXdg) Deno.removeSync(xdg, { recursive: true });
Deno.exit(failed ? 1 : 0);
