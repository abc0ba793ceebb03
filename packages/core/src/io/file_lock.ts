/**
 * An exclusive claim on a path for as long as a process works on it, so that two training
 * runs never save over each other: an advisory OS lock on `<path>.lock`, which the OS drops
 * when the process ends however it ends (even SIGKILL), so a crashed run never blocks the
 * next one.
 */

/** A held lock; `release()` gives it up (and removes the lock file). */
export interface FileLock {
  /** The lock file, `<path>.lock`. */
  readonly path: string;
  /** Unlocks and removes the lock file. Safe to call twice. */
  release(): void;
}

/**
 * Locks `path` for this process, or throws naming the lock file when another process
 * holds it (e.g. another run saving to the same checkpoint).
 */
export async function lockPath(path: string): Promise<FileLock> {
  const lockFile = `${path}.lock`;
  for (;;) {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(lockFile, { write: true, create: true });
    } catch (e) {
      throw new Error(`rnnkit: cannot create the lock file ${lockFile} (${(e as Error).message})`);
    }
    if (!(await file.tryLock(true))) {
      file.close();
      throw new Error(
        `rnnkit: ${path} is in use by another process (it holds ${lockFile}); wait for it ` +
          "to finish, or use another path",
      );
    }
    // The holder before us may have removed the file after we opened it: then this lock
    // is on a file no one else can see, so start over.
    const current = await Deno.stat(lockFile).catch(() => null);
    if (current?.ino !== (await file.stat()).ino) {
      file.close();
      continue;
    }
    await file.truncate();
    await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
    let held = true;
    return {
      path: lockFile,
      release() {
        if (!held) return;
        held = false;
        // Removed while still locked, so that no one locks a file that is about to go.
        Deno.removeSync(lockFile);
        file.close();
      },
    };
  }
}
