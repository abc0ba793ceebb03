/**
 * Page-side half of `runInChromium` (see chromium.ts). A browser entry imports these helpers:
 *
 *   import { args, exit, out } from "@rnnkit/backend-webgl/page";
 *   out(`epoch 1 loss ${loss}`); // one line to the terminal's stdout, as it happens
 *   exit(0);                     // ends the run; runInChromium resolves with this code
 *
 * Transport: each call becomes one `console.debug(TAG, kind, text)`. The runner watches the
 * DevTools `Runtime.consoleAPICalled` events of the page, which arrive in call order while the
 * page runs, so output streams instead of arriving at the end. Plain console.log/warn output of
 * the page (e.g. tfjs warnings) is forwarded too, to stdout/stderr like Deno would.
 * An uncaught error or unhandled rejection is printed on stderr and ends the run with code 1.
 */

/** First argument of every protocol message, so the runner can tell them from plain logs. */
export const TAG = "__rnnkit_page__";

/** The `args` given to runInChromium (empty when the page runs elsewhere). */
export function args(): string[] {
  // Set by a script in the HTML page that runInChromium serves, before the entry runs.
  return (globalThis as { RNNKIT_ARGS?: string[] }).RNNKIT_ARGS ?? [];
}

/** Writes one line (or several, split at "\n") to the terminal's stdout. */
export function out(line: string): void {
  console.debug(TAG, "out", String(line));
}

/** Writes one line (or several, split at "\n") to the terminal's stderr. */
export function err(line: string): void {
  console.debug(TAG, "err", String(line));
}

/** Ends the run with this exit code; output written after it is dropped. */
export function exit(code = 0): void {
  console.debug(TAG, "exit", String(code));
}
