/** The wasm backend's options are checked before tfjs is touched, with messages naming them. */
import assert from "node:assert/strict";
import { createBackend, WASM_FILES, wasmFolder } from "@rnnkit/backend-wasm";

Deno.test("wasm: bad options name the option, the expected form and the value", async () => {
  await assert.rejects(
    createBackend({ wasmPaths: "/static/wasm" }),
    /backend "wasm": wasmPaths must be a folder URL ending in "\/", got "\/static\/wasm"/,
  );
  await assert.rejects(
    createBackend({ wasmPaths: { "tfjs-backend-wasm.wasm": "/a.wasm" } }),
    /wasmPaths has no URL for tfjs-backend-wasm-simd\.wasm, tfjs-backend-wasm-threaded-simd\.wasm/,
  );
  for (const n of [0, 1.5, NaN]) {
    await assert.rejects(
      createBackend({ numThreads: n }),
      new RegExp(`numThreads must be an integer >= 1, got ${n}`),
    );
  }
});

Deno.test("wasm: the binaries are where wasmFolder says, and an explicit folder loads", async () => {
  for (const name of WASM_FILES) assert.ok(Deno.statSync(new URL(name, wasmFolder())).isFile);
  const backend = await createBackend({ wasmPaths: wasmFolder().href, numThreads: 1 });
  assert.match(backend.description!, /^tfjs-backend-wasm, SIMD, 1 thread \(one-thread binary\)$/);
});
