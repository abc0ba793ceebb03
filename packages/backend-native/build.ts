/**
 * Compiles kernels.c into a shared library with the system's C compiler (`$CC`, else
 * `cc`) on first use and caches it under `$XDG_CACHE_HOME/rnnkit` (else `~/.cache/rnnkit`),
 * named by a hash of the source, the flags, the compiler's name and the CPU, so an edit, a
 * new `$CC` or another machine sharing the home directory builds its own. A cached library
 * is loaded without running anything (no `--allow-run`), so a compiler upgrade does not
 * rebuild it: delete the cache folder to force that. The file appears atomically (compiled
 * to a temporary name unique to the process and call, then renamed), so concurrent first
 * uses cannot load half a library. One that does not load (truncated, corrupt, missing a
 * symbol: `damaged` and dlopen say) is deleted and built again, once (kernels.ts).
 *
 * kernels.c is read next to this module: from disk for a `file:` URL, with `fetch` for an
 * `http(s):` one (the package imported from JSR or another server). A remote source is
 * named in the key by its URL, not its text, so that a built library loads without
 * fetching anything; JSR's versioned URLs never change.
 */

/**
 * -march=native: the library is built on, and for, the machine that runs it.
 * -fno-trapping-math: no code here reads floating-point exception flags; without it GCC
 * does not vectorise the clamped exp/tanh/sigmoid loops. NaN and infinity are unchanged.
 */
const FLAGS = [
  "-O3",
  "-march=native",
  "-fno-math-errno",
  "-fno-trapping-math",
  "-fPIC",
  "-shared",
  "-pthread",
];

/** Where kernels.c is. */
const SOURCE = new URL("./kernels.c", import.meta.url);

function cacheDir(): string {
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  const home = Deno.env.get("HOME");
  if (xdg) return `${xdg}/rnnkit`;
  if (home) return `${home}/.cache/rnnkit`;
  throw new Error(
    'rnnkit: backend "native" needs HOME or XDG_CACHE_HOME for its build cache',
  );
}

/** The C compiler the build runs: `$CC`, else `cc`. */
export function compilerName(): string {
  return Deno.env.get("CC") ?? "cc";
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

const isRemote = (url: URL) => url.protocol === "http:" || url.protocol === "https:";

/** kernels.c's text: from disk (`file:`) or over the network (`http(s):`). */
export async function readSource(url: URL = SOURCE): Promise<string> {
  if (url.protocol === "file:") return await Deno.readTextFile(url);
  if (!isRemote(url)) {
    throw new Error(`rnnkit: backend "native" cannot read its kernels from ${url}`);
  }
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable) {
      throw new Error(
        `rnnkit: backend "native": building its kernels the first time needs ` +
          `--allow-net=${url.host} (to fetch ${url})`,
      );
    }
    throw new Error(
      `rnnkit: backend "native" cannot fetch ${url}: ${e instanceof Error ? e.message : e}`,
    );
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(
      `rnnkit: backend "native" cannot fetch ${url}: ${response.status} ${response.statusText}`,
    );
  }
  return await response.text();
}

/** Where the library built from this source, flags, compiler and CPU is (or will be). */
async function libraryPath(): Promise<{ lib: string; dir: string; cc: string; text?: string }> {
  const cc = compilerName();
  // Remote: the URL stands for the text, so a built library loads with no --allow-net.
  const text = isRemote(SOURCE) ? undefined : await readSource();
  const key = [text ?? SOURCE.href, FLAGS.join(" "), cc, cpu()];
  const dir = cacheDir();
  return { lib: `${dir}/kernels-${await hash(key.join("\0"))}.so`, dir, cc, text };
}

/** The cached library for this source, flags, compiler and CPU, if it is there. */
export async function cachedKernels(): Promise<string | undefined> {
  const { lib } = await libraryPath();
  return await exists(lib) ? lib : undefined;
}

/**
 * Compiles `source` (the text, through the compiler's stdin) into `lib`. Throws NotCapable
 * without --allow-run or --allow-write.
 */
async function compile(cc: string, source: string, lib: string): Promise<void> {
  // pid and a random part: unique across processes, and across calls of one process.
  const tmp = `${lib}.${Deno.pid}-${crypto.randomUUID()}.tmp`;
  let out: Deno.CommandOutput;
  try {
    const child = new Deno.Command(cc, {
      args: [...FLAGS, "-o", tmp, "-x", "c", "-", "-lm"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stdin = child.stdin.getWriter();
    // A compiler that exits early (a bad flag) closes its stdin: its output says why.
    await stdin.write(new TextEncoder().encode(source)).catch(() => {});
    await stdin.close().catch(() => {});
    out = await child.output();
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
      `rnnkit: backend "native": compiling ${SOURCE.href} failed (${cc}):\n` +
        text.decode(out.stdout) + text.decode(out.stderr),
    );
  }
  try {
    await Deno.rename(tmp, lib);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/**
 * Why the library file at `path` cannot be loaded safely, or undefined when it looks whole:
 * a truncated ELF file (program or section headers reaching past its end) would crash the
 * process with SIGBUS inside dlopen rather than fail it, so it is caught here first.
 * Only 64-bit little-endian ELF (Linux on x86-64 and ARM64) is checked; other formats pass.
 */
export async function damaged(path: string): Promise<string | undefined> {
  const bytes = await Deno.readFile(path);
  const elf = bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
  if (!elf) return Deno.build.os === "linux" ? "not an ELF file" : undefined;
  if (bytes[4] !== 2 || bytes[5] !== 1) return undefined; // not ELF64 little-endian
  if (bytes.length < 64) return `truncated: ${bytes.length} bytes`;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u64 = (at: number) => Number(view.getBigUint64(at, true));
  const u16 = (at: number) => view.getUint16(at, true);
  const [phoff, shoff] = [u64(0x20), u64(0x28)];
  const [phsize, phnum, shsize, shnum] = [u16(0x36), u16(0x38), u16(0x3a), u16(0x3c)];
  const size = bytes.length;
  if (phoff + phnum * phsize > size || shoff + shnum * shsize > size) {
    return `truncated: ${size} bytes, its headers reach past the end`;
  }
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phsize;
    // p_offset + p_filesz of each segment (ELF64 program header: offset 8, filesz 32).
    if (u64(at + 8) + u64(at + 32) > size) {
      return `truncated: ${size} bytes, segment ${i} reaches past the end`;
    }
  }
  return undefined;
}

/** Options of `buildKernels`. */
export interface BuildOptions {
  /**
   * The cached library did not load, for this reason: delete it and build it again.
   * Default: none (a cached library is used as it is).
   */
  rebuild?: string;
}

/** The path of the compiled kernels, building them if needed. */
export async function buildKernels(options: BuildOptions = {}): Promise<string> {
  const { lib, dir, cc, text } = await libraryPath();
  if (options.rebuild === undefined && await exists(lib)) return lib;
  // Outside the try: a missing --allow-net (a remote source) is not about run or write.
  const source = text ?? await readSource();
  try {
    if (options.rebuild !== undefined) await Deno.remove(lib).catch(notFoundIsFine);
    await Deno.mkdir(dir, { recursive: true });
    await compile(cc, source, lib);
  } catch (e) {
    // Deno 2 reports a missing permission as NotCapable (PermissionDenied is the OS's).
    if (!(e instanceof Deno.errors.NotCapable)) throw e;
    const needs = `--allow-run (to run ${cc}) and --allow-write (for ${dir})`;
    throw new Error(
      options.rebuild !== undefined
        ? `rnnkit: backend "native": its cached kernels (${lib}) do not load ` +
          `(${options.rebuild}); deleting and building them again needs ${needs}`
        : `rnnkit: backend "native": its kernels are not built yet (${lib}); building them ` +
          `once needs ${needs}; later runs need only --allow-ffi --allow-read --allow-env`,
    );
  }
  return lib;
}

function notFoundIsFine(e: unknown): void {
  // Another process may have deleted it first.
  if (!(e instanceof Deno.errors.NotFound)) throw e;
}
