/**
 * For the tests that open pages in headless Chromium: whether they run here, and
 * `deno task serve` started as a user would, with the task's own permissions.
 */
import { CHROMIUM_NOT_FOUND } from "@rnnkit/backend-webgl/chromium";
import { backendMissing } from "./run_cli.ts";

const root = new URL("../..", import.meta.url).pathname;

/** Whether to ignore the Chromium tests (see `backendMissing`: never under CI). */
export const ignoreChromium = await backendMissing("webgl");
/** Said in the names of the ignored tests (Deno.test has no skip reason). */
export const ignoredWhy = ignoreChromium ? ` (ignored: ${CHROMIUM_NOT_FOUND})` : "";

/** A running `deno task serve`. */
export interface Serving {
  /** The URL it printed. */
  url: string;
  /** Stops it and waits until it has exited. */
  close(): Promise<void>;
}

/** The command line of `deno task serve`, read from deno.json, with `args` added. */
export function serveCommand(args: string[]): string[] {
  const task: string = JSON.parse(Deno.readTextFileSync(`${root}deno.json`)).tasks.serve;
  const [deno, ...rest] = task.split(" ");
  if (deno !== "deno") throw new Error(`unexpected serve task: ${task}`);
  return [...rest, ...args];
}

/** Starts `deno task serve ...args`; resolves with the URL once it prints it. */
export async function startServe(args: string[]): Promise<Serving> {
  const child = new Deno.Command(Deno.execPath(), {
    args: serveCommand(args),
    cwd: root,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  let url: string | undefined;
  while (url === undefined) {
    const { value, done } = await lines.read();
    if (done) {
      await child.status;
      throw new Error(`deno task serve exited before printing a URL:\n${out}${await stderr}`);
    }
    out += value;
    url = out.match(/(http:\/\/\S+\/)/)?.[1];
  }
  const drained = (async () => {
    while (!(await lines.read()).done) { /* nothing else is printed; keep the pipe open */ }
  })();
  return {
    url,
    async close() {
      child.kill("SIGTERM");
      await child.status;
      await drained;
      await stderr;
    },
  };
}
