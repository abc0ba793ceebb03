/**
 * The native backend's permissions, as a user meets them: the first build needs --allow-run
 * and --allow-write, later runs only --allow-ffi --allow-read --allow-env, and a missing
 * permission is named in one line. Each run is a fresh `deno run` with a fresh build cache.
 */
import assert from "node:assert/strict";
import { backendMissing, runScript } from "./run_cli.ts";

const script =
  'import { createBackend } from "@rnnkit/backend-native"; const b = await createBackend(); console.log(b.name);';
const ALWAYS = ["--allow-ffi", "--allow-read", "--allow-env"];
/** Loads the backend in a fresh `deno run` with these permissions and build cache. */
const load = (cache: string, ...permissions: string[]) =>
  runScript(script, permissions, { XDG_CACHE_HOME: cache });

Deno.test({
  name: "native: built once with --allow-run, then loads with --allow-ffi --allow-read --allow-env",
  // Without OpenBLAS or a C compiler there is nothing to build (the conformance step says so).
  ignore: await backendMissing("native"),
}, async (t) => {
  const cache = await Deno.makeTempDir();
  try {
    await t.step("not built yet: names --allow-run and --allow-write", async () => {
      const r = await load(cache, ...ALWAYS);
      assert.notEqual(r.code, 0);
      assert.match(
        r.stderr,
        /rnnkit: backend "native": its kernels are not built yet \(.*\); building them once needs --allow-run \(to run \S+\) and --allow-write \(for .*\); later runs need only --allow-ffi --allow-read --allow-env/,
      );
    });
    await t.step("-A builds", async () => {
      const r = await load(cache, "-A");
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), "native");
    });
    await t.step("built: no --allow-run or --allow-write needed", async () => {
      const r = await load(cache, ...ALWAYS);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), "native");
    });
    for (const flag of ALWAYS) {
      await t.step(`without ${flag}: says so`, async () => {
        const r = await load(cache, ...ALWAYS.filter((f) => f !== flag));
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, new RegExp(`rnnkit: backend "native" needs ${flag} \\(to .*\\)\n`));
      });
    }
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});
