/** The README's TypeScript examples run as written. */
import assert from "node:assert/strict";

const root = new URL("../..", import.meta.url).pathname;
const readme = await Deno.readTextFile(`${root}README.md`);
const examples = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);

Deno.test("README has TypeScript examples", () => assert.ok(examples.length > 0));

examples.forEach((code, i) => {
  Deno.test(`README example ${i + 1} runs`, async () => {
    // Inside the repository, so the workspace's import map resolves "@rnnkit/...".
    const file = await Deno.makeTempFile({ dir: root, prefix: ".readme_example_", suffix: ".ts" });
    try {
      await Deno.writeTextFile(file, code);
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", file],
        cwd: root,
        env: { NO_COLOR: "1" },
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    } finally {
      await Deno.remove(file);
    }
  });
});
