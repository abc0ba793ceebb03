/**
 * The conformance suite inside a browser page on the webgl backend (run by tests/run.ts
 * through runInChromium). Prints one line per case and a closing "N passed | N failed".
 */
import { err, exit, out } from "@rnnkit/backend-webgl/page";
import { createBackend } from "@rnnkit/backend-webgl";
import { useBackend } from "./backend.ts";
import { cases, deviationReport, runCase } from "./all.ts";

const backend = await useBackend("webgl", createBackend);
out(`webgl renderer: ${backend.description}`);
let passed = 0;
let failed = 0;
for (const c of cases) {
  const start = performance.now();
  try {
    await runCase(c);
    passed++;
    out(`[webgl] ${c.name} ... ok (${(performance.now() - start).toFixed(0)}ms)`);
  } catch (e) {
    failed++;
    err(`[webgl] ${c.name} ... FAILED: ${(e as Error).message}`);
  }
}
for (const line of deviationReport().split("\n")) out(line);
out(`${passed} passed | ${failed} failed`);
exit(failed ? 1 : 0);
