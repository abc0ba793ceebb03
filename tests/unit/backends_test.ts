/**
 * The registry and the test runner's rule built on it: a backend is skipped only when a
 * dependency is missing, found without loading it; one whose dependencies are present but
 * that fails to load is a failure, never a skip (tests/run.ts).
 */
import assert from "node:assert/strict";
import { BACKEND_NAMES, BACKENDS, isBackendName, loadBackend } from "@rnnkit/backends";
import { runScript } from "./run_cli.ts";

/** What native's `missing()` says and whether it loads, with this environment, fresh cache. */
async function native(env: Record<string, string>) {
  const cache = await Deno.makeTempDir();
  try {
    const script = `import { BACKENDS, loadBackend } from "@rnnkit/backends";
      const missing = await BACKENDS.find((b) => b.name === "native").missing();
      const loads = await loadBackend("native").then(() => "loads", (e) => e.message);
      console.log(JSON.stringify({ missing, loads }));`;
    const r = await runScript(script, ["-A"], { XDG_CACHE_HOME: cache, ...env });
    return JSON.parse(r.stdout);
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
}

Deno.test("23. a missing compiler is a reason to skip native; a broken one is not", async () => {
  const none = await native({ CC: "/nonexistent/cc" });
  assert.match(none.missing, /no C compiler/);
  // /bin/false is a compiler that fails: everything is installed, so native must load or
  // fail the run; it is not reported missing.
  const broken = await native({ CC: "/bin/false" });
  assert.equal(broken.missing, undefined);
  assert.match(broken.loads, /compiling .*kernels\.c failed/);
});

Deno.test("the registry: names, and what needs nothing installed always loads", async () => {
  assert.deepEqual(BACKEND_NAMES, ["tfjs", "wasm", "native", "webgpu", "webgl"]);
  assert.ok(isBackendName("wasm") && !isBackendName("cuda"));
  for (const b of BACKENDS.filter((b) => !b.needs)) {
    assert.equal(b.missing, undefined, `${b.name} needs nothing, so nothing can be missing`);
    assert.equal((await loadBackend(b.name)).name, b.name);
  }
  await assert.rejects(() => loadBackend("webgl"), /runs only in a browser page/);
  await assert.rejects(() => loadBackend("cuda"), /no backend "cuda"; the backends are tfjs/);
});
