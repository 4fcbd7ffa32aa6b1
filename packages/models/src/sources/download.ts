/**
 * Downloading one URL to one file, safely: bytes go to `<dest>.partial`, a break resumes with a
 * Range request, size and sha256 are checked, and only a complete, verified file is renamed to
 * `dest`. Node only.
 */
import { createHash, type Hash } from "node:crypto";
import { type FileHandle, mkdir, open, rename, rm, stat } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { normalizeSha256, sha256MismatchError } from "./digest";
import { IntegrityError, ModelSourceError } from "./errors";
import { withFileLock } from "./file-lock";
import { fetchFollowingRedirects } from "./follow-redirects";
import { type HttpErrorContext, httpStatusError, isRetryableStatus } from "./http-errors";
import { bodyLength, parseContentRange, sha256FromHeaders } from "./http-headers";
import { hashFile, sha256OfFile } from "./read-file";
import { abortableDelay } from "./signals";
import type { ProgressCallback } from "./types";

export interface DownloadOptions {
  /** fetch to use; default globalThis.fetch. */
  fetch?: typeof fetch;
  /** Request headers, e.g. Authorization; it is dropped when a redirect leaves the first origin. */
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Expected sha256; otherwise a 64-hex X-Linked-Etag or ETag from the server is checked. */
  sha256?: string;
  onProgress?: ProgressCallback;
  /** The name progress events carry; default the destination's basename. */
  file?: string;
  /** How many network breaks or 5xx answers one call survives, resuming each time; default 3. */
  retries?: number;
  /** Wait before the first retry, doubled for each further one; default 500 ms. */
  retryDelayMs?: number;
  /** Shapes error messages: hub advice on 401/403, a hint on 404. */
  errorContext?: HttpErrorContext;
}

/** A failure that resuming may cure: a dropped connection, a short body, a 5xx. */
class TransientDownloadError extends ModelSourceError {}

/** Downloads of the same destination in this process share one transfer; other processes are kept out by a lock file. */
const inFlight = new Map<string, Promise<void>>();

export function partialPathFor(dest: string): string {
  return `${dest}.partial`;
}

export function lockPathFor(dest: string): string {
  return `${dest}.lock`;
}

/**
 * Downloads `url` to `dest`, resuming a `.partial` left by an earlier attempt. Concurrent calls
 * for the same `dest` in this process join the first one (its options win); another process
 * downloading the same file is waited for, and its finished file is kept.
 */
export function downloadFile(url: string, dest: string, opts: DownloadOptions = {}): Promise<void> {
  const running = inFlight.get(dest);
  if (running) return running;
  const download = lockedDownload(url, dest, opts).finally(() => inFlight.delete(dest));
  inFlight.set(dest, download);
  return download;
}

async function lockedDownload(url: string, dest: string, opts: DownloadOptions): Promise<void> {
  await mkdir(dirname(dest), { recursive: true });
  await withFileLock(
    lockPathFor(dest),
    async () => {
      // Whoever held the lock before may have finished this very file.
      if ((await stat(dest).catch(() => undefined))?.isFile()) return;
      await downloadWithRetries(url, dest, opts);
    },
    { signal: opts.signal },
  );
}

async function downloadWithRetries(url: string, dest: string, opts: DownloadOptions): Promise<void> {
  const retries = opts.retries ?? 3;
  const firstDelay = opts.retryDelayMs ?? 500;
  for (let attempt = 0; ; attempt++) {
    try {
      return await downloadOnce(url, dest, opts);
    } catch (error) {
      const transient = !opts.signal?.aborted && (error instanceof TransientDownloadError || isNetworkError(error));
      if (!transient) throw error;
      if (attempt >= retries) {
        const kept = await fileSize(partialPathFor(dest));
        throw new ModelSourceError(
          `download of ${url} failed after ${attempt + 1} attempt(s): ${describe(error)}` +
            (kept > 0 ? `; ${kept} bytes are kept and the next try resumes from there` : ""),
          { cause: error },
        );
      }
      await abortableDelay(firstDelay * 2 ** attempt, opts.signal);
    }
  }
}

// fetch reports refused connections, resets and truncated bodies as TypeError ("fetch failed", "terminated").
function isNetworkError(error: unknown): boolean {
  return error instanceof TypeError;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error && error.cause.message !== error.message ? ` (${error.cause.message})` : "";
  return error.message + cause;
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** What the server agreed to send: body bytes start at `start` of a file of `total` bytes. */
interface BodyTransfer {
  kind: "body";
  response: Response;
  start: number;
  total: number | undefined;
  expectedSha256: string | undefined;
}

/** The server says the partial already holds the whole file (416 at exactly its size). */
interface PartialComplete {
  kind: "partial-complete";
  size: number;
  expectedSha256: string | undefined;
}

async function downloadOnce(url: string, dest: string, opts: DownloadOptions): Promise<void> {
  const partial = partialPathFor(dest);
  const file = opts.file ?? basename(dest);
  const transfer = await beginTransfer(url, partial, opts);
  if (transfer.kind === "partial-complete") {
    await finish(url, partial, dest, await sha256OfFile(partial), transfer.expectedSha256, true);
    opts.onProgress?.({ file, loaded: transfer.size, total: transfer.size, done: true });
    return;
  }
  const { response, start, total, expectedSha256 } = transfer;
  const hash = createHash("sha256");
  // Resuming: the bytes already on disk are part of the file's hash too.
  if (start > 0) await hashFile(hash, partial, start);
  const handle = await open(partial, start > 0 ? "r+" : "w");
  let loaded = start;
  try {
    await handle.truncate(start);
    opts.onProgress?.({ file, loaded, total, done: false });
    loaded = await writeBody(response, handle, hash, start, total, url, (n) => opts.onProgress?.({ file, loaded: n, total, done: false }));
    await handle.sync();
  } catch (error) {
    if (error instanceof IntegrityError) await rm(partial, { force: true });
    throw error;
  } finally {
    await handle.close();
  }
  if (total !== undefined && loaded < total) throw new TransientDownloadError(`connection closed after ${loaded} of ${total} bytes`);
  await finish(url, partial, dest, hash.digest("hex"), expectedSha256, start > 0);
  opts.onProgress?.({ file, loaded, total: loaded, done: true });
}

/** Sends the request (with Range when a partial exists) and works out where the body starts. */
async function beginTransfer(url: string, partial: string, opts: DownloadOptions): Promise<BodyTransfer | PartialComplete> {
  const fetchImpl = opts.fetch ?? globalThis.fetch;
  for (let restarted = false; ; restarted = true) {
    const offset = restarted ? 0 : await fileSize(partial);
    const headers: Record<string, string> = { ...opts.headers, "accept-encoding": "identity" };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    const { response, linkedSha256, linkedSize, crossOrigin } = await fetchFollowingRedirects(fetchImpl, url, { headers, signal: opts.signal });
    const expectedSha256 = opts.sha256 ? normalizeSha256(opts.sha256) : (linkedSha256 ?? sha256FromHeaders(response.headers, crossOrigin));

    if (response.status === 416 && offset > 0) {
      await response.body?.cancel();
      // "Range not satisfiable" at exactly the file size means the partial already holds every byte.
      const total = parseContentRange(response.headers.get("content-range"))?.total ?? linkedSize;
      if (total === offset) return { kind: "partial-complete", size: offset, expectedSha256 };
      await rm(partial, { force: true });
      continue;
    }
    if (!response.ok) {
      await response.body?.cancel();
      const error = httpStatusError(response.status, response.statusText, url, opts.errorContext ?? { hub: false });
      throw isRetryableStatus(response.status) ? new TransientDownloadError(error.message, { cause: error }) : error;
    }
    if (response.status === 206) {
      const range = parseContentRange(response.headers.get("content-range"));
      if (range?.start === offset) return { kind: "body", response, start: offset, total: range.total ?? linkedSize, expectedSha256 };
      // A range we did not ask for: throw the partial away and fetch the whole file.
      await response.body?.cancel();
      if (restarted) {
        const got = range ? `bytes from ${range.start}` : "no Content-Range";
        throw new ModelSourceError(`${url} answered a request for the whole file with a partial response (${got})`);
      }
      await rm(partial, { force: true });
      continue;
    }
    // 200: the server ignored Range (or none was sent), so the body is the whole file from byte 0.
    return { kind: "body", response, start: 0, total: bodyLength(response.headers) ?? linkedSize, expectedSha256 };
  }
}

/** Copies the body to the file from `start`, hashing as it goes; returns the file length reached. */
async function writeBody(
  response: Response,
  handle: FileHandle,
  hash: Hash,
  start: number,
  total: number | undefined,
  url: string,
  progress: (loaded: number) => void,
): Promise<number> {
  if (!response.body) return start;
  const reader = response.body.getReader();
  let position = start;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return position;
      if (total !== undefined && position + value.byteLength > total) throw new IntegrityError(`${url} sent more than the announced ${total} bytes`);
      await writeAll(handle, value, position);
      hash.update(value);
      position += value.byteLength;
      progress(position);
    }
  } catch (error) {
    await reader.cancel().catch(() => {});
    throw error;
  }
}

async function writeAll(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let written = 0;
  while (written < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, written, bytes.byteLength - written, position + written);
    written += bytesWritten;
  }
}

/** Verifies the finished partial and moves it into place; a bad one is deleted, never renamed. */
async function finish(url: string, partial: string, dest: string, actual: string, expected: string | undefined, resumed: boolean): Promise<void> {
  if (expected !== undefined && actual !== expected) {
    await rm(partial, { force: true });
    // After a resume the stale prefix is the likely culprit, so one fresh download is worth a try.
    if (resumed) throw new TransientDownloadError(`sha256 mismatch after resuming ${url}; downloading again from the start`);
    throw sha256MismatchError(url, expected, actual);
  }
  await rename(partial, dest);
}
