/**
 * A lock file that keeps two processes from downloading into the same `.partial` at once (one
 * would truncate what the other is writing). Node only. The holder refreshes the lock's mtime;
 * a lock nobody refreshed for `staleMs` belongs to a dead process and is taken over.
 */
import { open, rm, stat, utimes } from "node:fs/promises";
import { abortableDelay } from "./signals";

export interface FileLockOptions {
  signal?: AbortSignal;
  /** Age after which an unrefreshed lock counts as abandoned; default 30 s. */
  staleMs?: number;
  /** How often a waiter looks again; default 200 ms. */
  pollMs?: number;
}

async function tryCreate(lockPath: string): Promise<boolean> {
  try {
    const handle = await open(lockPath, "wx");
    await handle.writeFile(`${process.pid}\n`);
    await handle.close();
    return true;
  } catch (error) {
    if ((error as { code?: unknown }).code === "EEXIST") return false;
    throw error;
  }
}

/** Runs `work` while holding `lockPath`, waiting for (or taking over from) another holder first. */
export async function withFileLock<T>(lockPath: string, work: () => Promise<T>, opts: FileLockOptions = {}): Promise<T> {
  const staleMs = opts.staleMs ?? 30_000;
  const pollMs = opts.pollMs ?? 200;
  while (!(await tryCreate(lockPath))) {
    const age = await stat(lockPath).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0, // gone already: try again at once
    );
    if (age > staleMs) await rm(lockPath, { force: true });
    else await abortableDelay(pollMs, opts.signal);
  }
  const refresh = setInterval(() => {
    const now = new Date();
    utimes(lockPath, now, now).catch(() => {});
  }, staleMs / 4);
  refresh.unref?.();
  try {
    return await work();
  } finally {
    clearInterval(refresh);
    await rm(lockPath, { force: true });
  }
}
