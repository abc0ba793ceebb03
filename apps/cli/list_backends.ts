/**
 * `deno task backends`: which backends can run here, and why not where they cannot.
 * Each Deno backend is actually initialised, so "usable" means what it says.
 */
import { chromiumPath } from "@rnnkit/backend-webgl/chromium";
import { describeAdapter } from "@rnnkit/backend-webgpu";
import { AUTO_ORDER, DENO_BACKEND_NAMES, loadBackend } from "@rnnkit/backends";

/** Prints one line per backend: usable (with its description), or why not. */
export async function listBackends(): Promise<void> {
  const usable: string[] = [];
  for (const name of DENO_BACKEND_NAMES) {
    let status: string;
    try {
      const backend = await loadBackend(name);
      status = `usable${backend.description ? ` (${backend.description})` : ""}`;
      usable.push(name);
    } catch (e) {
      status = `not usable: ${(e as Error).message.replace(/^rnnkit: /, "")}`;
    }
    if (name === "webgpu" && status.startsWith("not")) status += `; ${await describeAdapter()}`;
    console.log(`${name.padEnd(7)} ${status}`);
  }
  const auto = AUTO_ORDER.find((name) => usable.includes(name));
  console.log(`auto    ${auto ? `picks ${auto}` : `not usable: none of ${AUTO_ORDER} loads`}`);
  const chromium = chromiumPath();
  console.log(
    `webgl   ${
      chromium
        ? `usable through headless Chromium (${chromium})`
        : "not usable: Chromium not found (apt-get install -y chromium)"
    }`,
  );
}

if (import.meta.main) await listBackends();
