import { BACKENDS } from "@rnnkit/backends";
/** Runs one of the CLI's programs as a user would; returns its exit code and output. */
const root = new URL("../..", import.meta.url).pathname;

export function runCli(program: string, ...args: string[]) {
  return runCliWith({}, program, ...args);
}

/** runCli with extra environment variables. */
export async function runCliWith(env: Record<string, string>, program: string, ...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `apps/cli/${program}`, ...args],
    cwd: root,
    env: { NO_COLOR: "1", ...env },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Deno's own cache: kept when a test points XDG_CACHE_HOME (its default parent) elsewhere. */
const info = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
const { denoDir } = JSON.parse(new TextDecoder().decode(info.stdout));

/**
 * Runs TypeScript `script` in a fresh `deno run --no-prompt <permissions> -` from the
 * repository root (so the workspace's imports resolve), with `env` added.
 */
export async function runScript(
  script: string,
  permissions: string[],
  env: Record<string, string> = {},
) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...permissions, "-"],
    cwd: root,
    env: { NO_COLOR: "1", DENO_DIR: denoDir, ...env },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdin = child.stdin.getWriter();
  await stdin.write(new TextEncoder().encode(script));
  await stdin.close();
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A few KB of word salad, the same for the same seed. */
export function sampleText(seed = 12345, words = 800): string {
  const vocab = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "to", "its", "home"];
  let x = seed;
  const out: string[] = [];
  for (let i = 0; i < words; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out.push(vocab[x % vocab.length] + (i % 9 === 8 ? ".\n" : " "));
  }
  return out.join("");
}

/** A small LSTM char-LM for `train --text`: trains in a fraction of a second. */
export const TINY = [
  "--hidden-size",
  "16",
  "--embedding-size",
  "8",
  "--seq-len",
  "16",
  "--batch-size",
  "8",
];

/**
 * Whether to ignore backend `name`'s tests: only where its dependencies are missing (the
 * registry's `missing`), and never under CI (`CI` set), which installs everything, so there
 * a missing one makes them fail. One that is installed and fails to load is a failure too.
 */
export async function backendMissing(name: string): Promise<boolean> {
  if (Deno.env.get("CI")) return false;
  return (await BACKENDS.find((b) => b.name === name)!.missing?.()) !== undefined;
}
