/**
 * Compiles kernels.c into a shared library with the system's C compiler (`$CC`, else
 * `cc`) on first use and caches it under `$XDG_CACHE_HOME/rnnkit` (else `~/.cache/rnnkit`),
 * named by a hash of the source, the flags and the compiler's version, so an edit or a new
 * compiler rebuilds it. The file appears atomically (compiled to a temporary name, then
 * renamed), so concurrent first uses cannot load half a library.
 */

/** -march=native: the library is built on, and for, the machine that runs it. */
const FLAGS = ["-O3", "-march=native", "-fno-math-errno", "-fPIC", "-shared"];

async function run(
  cmd: string,
  args: string[],
): Promise<{ ok: boolean; out: string }> {
  try {
    const r = await new Deno.Command(cmd, {
      args,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder();
    return {
      ok: r.success,
      out: text.decode(r.stdout) + text.decode(r.stderr),
    };
  } catch (e) {
    return { ok: false, out: e instanceof Error ? e.message : String(e) };
  }
}

function cacheDir(): string {
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  const home = Deno.env.get("HOME");
  if (xdg) return `${xdg}/rnnkit`;
  if (home) return `${home}/.cache/rnnkit`;
  throw new Error(
    'rnnkit: backend "native" needs HOME or XDG_CACHE_HOME for its build cache',
  );
}

/** The path of the compiled kernels, building them if needed. */
export async function buildKernels(): Promise<string> {
  const source = new URL("./kernels.c", import.meta.url);
  const code = await Deno.readTextFile(source);
  const cc = Deno.env.get("CC") ?? "cc";
  const version = await run(cc, ["--version"]);
  if (!version.ok) {
    throw new Error(
      `rnnkit: backend "native" needs a C compiler to build its kernels ($CC or cc; ` +
        `Debian: apt-get install gcc): ${version.out.trim()}`,
    );
  }
  const key = [code, cc, FLAGS.join(" "), version.out].join("\0");
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(key),
  );
  const hash = [...new Uint8Array(digest)].slice(0, 8)
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  const dir = cacheDir();
  const lib = `${dir}/kernels-${hash}.so`;
  try {
    await Deno.stat(lib);
    return lib;
  } catch {
    // Not built yet.
  }
  await Deno.mkdir(dir, { recursive: true });
  const tmp = `${lib}.${Deno.pid}.tmp`;
  const built = await run(cc, [...FLAGS, "-o", tmp, source.pathname, "-lm"]);
  if (!built.ok) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(
      `rnnkit: backend "native": compiling kernels.c failed:\n${built.out}`,
    );
  }
  await Deno.rename(tmp, lib);
  return lib;
}
