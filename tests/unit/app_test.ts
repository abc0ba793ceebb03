/**
 * The README's "Use rnnkit in your app": its deno.json and program, copied into an empty
 * folder outside the checkout with the checkout's path put in, train on wasm and on native
 * with exactly the permissions the README lists for each.
 */
import assert from "node:assert/strict";
import { backendMissing } from "./run_cli.ts";

const root = new URL("../..", import.meta.url).pathname;
const readme = await Deno.readTextFile(`${root}README.md`);
const section = readme.slice(readme.indexOf("## Use rnnkit in your app"));
const config = section.match(/```json\n([\s\S]*?)```/)![1];
const program = section.match(/```ts\n([\s\S]*?)```/)![1];

/** Runs the app with `permissions`; the first native run also builds the kernels. */
async function runApp(dir: string, permissions: string[], backend: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...permissions, "main.ts", backend],
    cwd: dir,
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

const cases: [string, string[], string[]?][] = [
  ["tfjs", []],
  ["wasm", ["--allow-read"]],
  ["native", ["--allow-ffi", "--allow-read", "--allow-env"], ["--allow-run", "--allow-write"]],
];
for (const [backend, permissions, firstRun] of cases) {
  Deno.test({
    name: `the README's app trains on ${backend} from a folder outside the checkout`,
    ignore: backend === "native" && await backendMissing("native"),
    fn: async () => {
      const dir = await Deno.makeTempDir({ prefix: "rnnkit_app_" });
      try {
        assert.ok(!dir.startsWith(root), "outside the checkout");
        await Deno.writeTextFile(`${dir}/deno.json`, config.replaceAll("../rnnkit/", root));
        await Deno.writeTextFile(`${dir}/main.ts`, program);
        // As the README says: native's first run on a machine builds its kernels.
        if (firstRun) await runApp(dir, [...permissions, ...firstRun], backend);
        const r = await runApp(dir, permissions, backend);
        assert.equal(r.code, 0, r.stderr);
        const [, first, last] = r.stdout.match(
          new RegExp(`^${backend}: loss ([\\d.]+) -> ([\\d.]+)\n$`),
        )!;
        assert.ok(Number(last) < Number(first) - 0.5, r.stdout);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

Deno.test("the app names a missing permission", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rnnkit_app_" });
  try {
    await Deno.writeTextFile(`${dir}/deno.json`, config.replaceAll("../rnnkit/", root));
    await Deno.writeTextFile(`${dir}/main.ts`, program);
    const r = await runApp(dir, [], "wasm");
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /backend "wasm" needs --allow-read/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
