/**
 * The conformance suite under `deno test`, on the backend named by RNNKIT_BACKEND
 * (any Deno backend of the registry; webgl runs in Chromium through tests/run.ts instead).
 */
import { isBackendName, loadBackend } from "@rnnkit/backends";
import { useBackend } from "./backend.ts";
import { cases, deviationReport, runCase, worst } from "./all.ts";

const name = Deno.env.get("RNNKIT_BACKEND") ?? "tfjs";
if (!isBackendName(name)) throw new Error(`RNNKIT_BACKEND=${name} is not a Deno backend`);
await useBackend(name, () => loadBackend(name));

for (const c of cases) Deno.test(`[${name}] ${c.name}`, () => runCase(c));

// Last: every case above compared values against PyTorch's (a suite that compared nothing,
// say because fixtures failed to load, must not pass).
Deno.test(`[${name}] values compared against PyTorch, and the largest deviation`, () => {
  if (worst.compared < 10_000) {
    throw new Error(`only ${worst.compared} values were compared against PyTorch's`);
  }
  console.log(deviationReport());
});
