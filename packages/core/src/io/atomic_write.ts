/**
 * Atomic file replacement for checkpoints: the bytes go to a temporary file in the target's
 * directory, are flushed to disk, and the file is then renamed over the target. A rename
 * within one directory is atomic, so a process killed at any moment leaves either the
 * previous file or the complete new one, never a torn mix.
 */

/** A fresh temporary name beside `path`: same directory, so the rename cannot cross devices. */
function tempPathFor(path: string): string {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1;
  const random = Math.random().toString(36).slice(2, 10);
  return `${path.slice(0, cut)}.${path.slice(cut)}.${Deno.pid}.${random}.tmp`;
}

function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === "string" ? new TextEncoder().encode(data) : data;
}

/** Replaces the file at `path` with `data` atomically; on failure the old file is untouched. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = tempPathFor(path);
  const bytes = toBytes(data);
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
    await Deno.rename(tmp, path);
  } catch (err) {
    // The temp file may never have been created; the original error is the one to report.
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

/** The synchronous form of {@link writeFileAtomic}. */
export function writeFileAtomicSync(path: string, data: Uint8Array | string): void {
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
    throw err;
  }
}
