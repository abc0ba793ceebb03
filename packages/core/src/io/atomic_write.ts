/**
 * Atomic file replacement for checkpoints: the bytes go to a temporary file in the target's
 * directory, are flushed to disk, and the file is then renamed over the target. A rename
 * within one directory is atomic, so a process killed at any moment leaves either the
 * previous file or the complete new one, never a torn mix.
 *
 * Temporary files never outlive the process that made them when it can help it: a failed
 * write removes its own, SIGINT and SIGTERM during a write remove it before the process
 * exits, and each write removes the ones a killed process (SIGKILL, power loss) left beside
 * the same target. Every error names the file.
 */

/** Temporary files being written now, removed if a signal ends the process. */
const inFlight = new Set<string>();
const SIGNALS = ["SIGINT", "SIGTERM"] as const;
let listening = false;

function onSignal(signal: typeof SIGNALS[number]) {
  for (const tmp of inFlight) {
    try {
      Deno.removeSync(tmp);
    } catch {
      // Already renamed or removed.
    }
  }
  // As if the signal had not been caught: the shell's exit status for it.
  Deno.exit(signal === "SIGINT" ? 130 : 143);
}

const listeners = { SIGINT: () => onSignal("SIGINT"), SIGTERM: () => onSignal("SIGTERM") };

function track(tmp: string) {
  inFlight.add(tmp);
  if (!listening && Deno.build.os !== "windows") {
    for (const s of SIGNALS) Deno.addSignalListener(s, listeners[s]);
    listening = true;
  }
}

function untrack(tmp: string) {
  inFlight.delete(tmp);
  if (inFlight.size === 0 && listening) {
    // Listeners keep a process alive and replace the default exit: only while writing.
    for (const s of SIGNALS) Deno.removeSignalListener(s, listeners[s]);
    listening = false;
  }
}

/** The directory part of `path` ("" for a bare name) and the file name. */
function split(path: string): [string, string] {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1;
  return [path.slice(0, cut), path.slice(cut)];
}

/** A fresh temporary name beside `path`: same directory, so the rename cannot cross devices. */
function tempPathFor(path: string): string {
  const [dir, name] = split(path);
  const random = crypto.getRandomValues(new Uint32Array(2)).join("");
  return `${dir}.${name}.${Deno.pid}.${random}.tmp`;
}

/** A temporary file this old belongs to no write in progress (a save takes seconds). */
const STALE_MS = 10 * 60_000;

/** Whether process `pid` is gone; without the permission to look (Linux's /proc), unknown. */
function gone(pid: number): boolean | undefined {
  try {
    Deno.statSync(`/proc/${pid}`);
    return false;
  } catch (e) {
    return e instanceof Deno.errors.NotFound && Deno.build.os === "linux" ? true : undefined;
  }
}

/**
 * Removes the temporary files of `path` that other processes left: those of processes no
 * longer running, or older than STALE_MS where that cannot be told.
 */
function removeStale(path: string): void {
  const [dir, name] = split(path);
  const prefix = `.${name}.`;
  try {
    for (const entry of Deno.readDirSync(dir || ".")) {
      const pid = Number(entry.name.slice(prefix.length).match(/^(\d+)\.\d+\.tmp$/)?.[1]);
      if (!entry.isFile || !entry.name.startsWith(prefix) || !pid || pid === Deno.pid) continue;
      const file = `${dir}${entry.name}`;
      const old = Date.now() - (Deno.statSync(file).mtime?.getTime() ?? Date.now()) > STALE_MS;
      if (gone(pid) ?? old) Deno.removeSync(file);
    }
  } catch {
    // Best effort: the write itself reports a directory that cannot be used.
  }
}

function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === "string" ? new TextEncoder().encode(data) : data;
}

/**
 * The error of a failed write, of the same class (NotFound, PermissionDenied, ...), its
 * message naming the file and saying "disk full" plainly.
 */
function writeError(path: string, e: unknown): unknown {
  if (!(e instanceof Error)) return e;
  const why = /No space left|ENOSPC|os error 28/.test(e.message) ? "the disk is full" : e.message;
  e.message = `rnnkit: cannot write ${path}: ${why}`;
  return e;
}

/**
 * Test-only: with RNNKIT_TEST_WRITE_PAUSE_MS set, a write announces its temporary file on
 * stderr and waits that long before renaming it, so a test can kill the process mid-save.
 */
function testPause(): number {
  try {
    return Number(Deno.env.get("RNNKIT_TEST_WRITE_PAUSE_MS") ?? 0);
  } catch {
    return 0; // no --allow-env: no pause
  }
}

/** Replaces the file at `path` with `data` atomically; on failure the old file is untouched. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  removeStale(path);
  const tmp = tempPathFor(path);
  const bytes = toBytes(data);
  track(tmp);
  try {
    // createNew: never write through a stale temp file or a link someone planted there.
    const file = await Deno.open(tmp, { write: true, createNew: true });
    try {
      // write() may write only part of the buffer.
      for (let at = 0; at < bytes.length;) at += await file.write(bytes.subarray(at));
      // Flush before the rename, or a crash could leave the new name on unwritten data.
      await file.sync();
    } finally {
      file.close();
    }
    const pause = testPause();
    if (pause > 0) {
      console.error(`rnnkit: test pause: ${tmp} written, renaming in ${pause} ms`);
      await new Promise((r) => setTimeout(r, pause));
    }
    await Deno.rename(tmp, path);
  } catch (err) {
    // The temp file may never have been created; the original error is the one to report.
    await Deno.remove(tmp).catch(() => {});
    throw writeError(path, err);
  } finally {
    untrack(tmp);
  }
}

/** The synchronous form of {@link writeFileAtomic}. */
export function writeFileAtomicSync(path: string, data: Uint8Array | string): void {
  removeStale(path);
  const tmp = tempPathFor(path);
  const bytes = toBytes(data);
  try {
    const file = Deno.openSync(tmp, { write: true, createNew: true });
    try {
      for (let at = 0; at < bytes.length;) at += file.writeSync(bytes.subarray(at));
      file.syncSync();
    } finally {
      file.close();
    }
    Deno.renameSync(tmp, path);
  } catch (err) {
    try {
      Deno.removeSync(tmp);
    } catch {
      // As above: report the original error.
    }
    throw writeError(path, err);
  }
}
