/**
 * Compiles kernels.c into a shared library with the system's C compiler (`$CC`, else
 * `cc`) on first use and caches it under `$XDG_CACHE_HOME/rnnkit` (else `~/.cache/rnnkit`),
 * named by a hash of the source, the flags, the compiler's name and the CPU, so an edit, a
 * new `$CC` or another machine sharing the home directory builds its own. A cached library
 * is loaded without running anything (no `--allow-run`), so a compiler upgrade does not
 * rebuild it: delete the cache folder to force that. The file appears atomically (compiled
 * to a temporary name, then renamed), so concurrent first uses cannot load half a library.
 */

/** -march=native: the library is built on, and for, the machine that runs it. */
const FLAGS = ["-O3", "-march=native", "-fno-math-errno", "-fPIC", "-shared"];

function cacheDir(): string {
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  const home = Deno.env.get("HOME");
  if (xdg) return `${xdg}/rnnkit`;
  if (home) return `${home}/.cache/rnnkit`;
  throw new Error(
    'rnnkit: backend "native" needs HOME or XDG_CACHE_HOME for its build cache',
  );
}

/** The CPU that -march=native targets: its model and instruction set extensions. */
function cpu(): string {
  const target = `${Deno.build.os}/${Deno.build.arch}`;
  if (Deno.build.os !== "linux") return target;
  // "Features" is ARM's "flags".
  const lines = readCpuinfo().split("\n")
    .filter((line) => /^(model name|flags|Features)\s*:/.test(line));
  return [target, ...new Set(lines)].join("\n");
}

/**
 * /proc/cpuinfo, read through libc: Deno reads /proc only with --allow-all, and the backend
 * needs --allow-ffi anyway. Deno's Linux builds link glibc, so libc.so.6 is there.
 */
function readCpuinfo(): string {
  const libc = Deno.dlopen("libc.so.6", {
    open: { parameters: ["buffer", "i32"], result: "i32" },
    read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
    close: { parameters: ["i32"], result: "i32" },
  });
  try {
    const { open, read, close } = libc.symbols;
    const fd = open(new TextEncoder().encode("/proc/cpuinfo\0"), 0);
    if (fd < 0) throw new Error('rnnkit: backend "native" cannot read /proc/cpuinfo');
    const buf = new Uint8Array(1 << 16);
    const text = new TextDecoder();
    let info = "";
    for (let n; (n = Number(read(fd, buf, BigInt(buf.length)))) > 0;) {
      info += text.decode(buf.subarray(0, n), { stream: true });
    }
    close(fd);
    return info;
  } finally {
    libc.close();
  }
}

async function hash(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].slice(0, 8)
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    // Anything else, a missing --allow-read included, is the caller's to report.
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Compiles `source` into `lib`. Throws NotCapable without --allow-run or --allow-write. */
async function compile(cc: string, source: string, lib: string): Promise<void> {
  const tmp = `${lib}.${Deno.pid}.tmp`;
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cc, {
      args: [...FLAGS, "-o", tmp, source, "-lm"],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable) throw e;
    throw new Error(
      `rnnkit: backend "native" needs a C compiler to build its kernels ($CC or cc; ` +
        `Debian: apt-get install gcc): ${e instanceof Error ? e.message : e}`,
    );
  }
  if (!out.success) {
    await Deno.remove(tmp).catch(() => {});
    const text = new TextDecoder();
    throw new Error(
      `rnnkit: backend "native": compiling kernels.c failed:\n` +
        text.decode(out.stdout) + text.decode(out.stderr),
    );
  }
  await Deno.rename(tmp, lib);
}

/** The path of the compiled kernels, building them if needed. */
export async function buildKernels(): Promise<string> {
  const source = new URL("./kernels.c", import.meta.url);
  const cc = Deno.env.get("CC") ?? "cc";
  const key = [await Deno.readTextFile(source), FLAGS.join(" "), cc, cpu()];
  const dir = cacheDir();
  const lib = `${dir}/kernels-${await hash(key.join("\0"))}.so`;
  if (await exists(lib)) return lib;
  try {
    await Deno.mkdir(dir, { recursive: true });
    await compile(cc, source.pathname, lib);
  } catch (e) {
    // Deno 2 reports a missing permission as NotCapable (PermissionDenied is the OS's).
    if (!(e instanceof Deno.errors.NotCapable)) throw e;
    throw new Error(
      `rnnkit: backend "native": its kernels are not built yet (${lib}); building them ` +
        `once needs --allow-run (to run ${cc}) and --allow-write (for ${dir}); ` +
        `later runs need only --allow-ffi --allow-read --allow-env`,
    );
  }
  return lib;
}
