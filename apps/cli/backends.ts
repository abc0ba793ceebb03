/** The CLI's --backend: a registered backend or "auto", started with one line on stderr. */
import { type Backend, setBackend } from "@rnnkit/core";
import { BACKEND_NAMES, createBestBackend, loadBackend } from "@rnnkit/backends";

/** What --backend accepts. */
export const BACKEND_CHOICES: readonly string[] = ["auto", ...BACKEND_NAMES];

/** Creates the chosen backend, makes it current and says which it is (and, for auto, why). */
export async function startBackend(choice: string): Promise<Backend> {
  const skipped: string[] = [];
  const backend = choice === "auto"
    ? await createBestBackend({ onSkip: (name, why) => skipped.push(`${name}: ${why}`) })
    : await loadBackend(choice);
  setBackend(backend);
  const how = choice !== "auto"
    ? ""
    : skipped.length
    ? ` (auto; not ${skipped.join("; ")})`
    : " (auto)";
  console.error(
    `rnnkit: backend ${backend.name}${how}${backend.description ? `: ${backend.description}` : ""}`,
  );
  return backend;
}
