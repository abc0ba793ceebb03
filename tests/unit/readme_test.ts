/**
 * The README's TypeScript examples run as written; a block marked
 * `<!-- excerpt of PATH -->` is instead checked to be an exact excerpt of that file (which
 * the test command runs as an example).
 */
import assert from "node:assert/strict";

const root = new URL("../..", import.meta.url).pathname;
const readme = await Deno.readTextFile(`${root}README.md`);
const blocks = [...readme.matchAll(/(?:<!-- excerpt of (\S+) -->\s*)?```ts\n([\s\S]*?)```/g)];
const examples = blocks.filter((m) => !m[1]).map((m) => m[2]);
const excerpts = blocks.filter((m) => m[1]).map((m) => ({ path: m[1], code: m[2] }));

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

excerpts.forEach(({ path, code }) => {
  Deno.test(`README excerpt of ${path} is in it`, async () => {
    const source = await Deno.readTextFile(`${root}${path}`);
    assert.ok(source.includes(code), `the README's excerpt differs from ${path}; copy it again`);
  });
});
