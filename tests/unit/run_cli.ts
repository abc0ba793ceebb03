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
