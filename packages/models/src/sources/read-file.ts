/** Whole-file reads for the Node sources. Node only. */
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { IntegrityError, ModelNotFoundError } from "./errors";
import type { SizedStream } from "./types";

const CHUNK = 16 << 20;

function isMissing(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}

/** Rethrows "no such file" as ModelNotFoundError, everything else unchanged. */
export function rethrowMissing(error: unknown, path: string): never {
  if (isMissing(error)) throw new ModelNotFoundError(`not found: ${path}`, { cause: error });
  throw error;
}

/** Reads a file into one Uint8Array. Unlike fs.readFile it has no 2 GiB limit, which big checkpoints exceed. */
export async function readWholeFile(path: string, signal?: AbortSignal): Promise<Uint8Array> {
  const handle = await open(path, "r").catch((e) => rethrowMissing(e, path));
  try {
    const { size } = await handle.stat();
    const bytes = new Uint8Array(size);
    let offset = 0;
    while (offset < size) {
      signal?.throwIfAborted();
      const { bytesRead } = await handle.read(bytes, offset, Math.min(CHUNK, size - offset), offset);
      if (bytesRead === 0) throw new IntegrityError(`${path} shrank while being read (${offset} of ${size} bytes)`);
      offset += bytesRead;
    }
    return bytes;
  } finally {
    await handle.close();
  }
}

export async function streamFile(path: string, signal?: AbortSignal): Promise<SizedStream> {
  const { size } = await stat(path).catch((e) => rethrowMissing(e, path));
  const nodeStream = createReadStream(path, { signal });
  return { stream: Readable.toWeb(nodeStream) as ReadableStream<Uint8Array>, size };
}

/** Feeds a file's first `length` bytes (all of it when omitted) into `hash`, streaming. */
export async function hashFile(hash: Hash, path: string, length?: number): Promise<void> {
  if (length === 0) return;
  for await (const chunk of createReadStream(path, length === undefined ? {} : { end: length - 1 })) hash.update(chunk as Buffer);
}

export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  await hashFile(hash, path);
  return hash.digest("hex");
}
