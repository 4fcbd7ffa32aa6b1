/** Byte counting for response bodies: progress reports, and a check that the body was as long as announced. */
import { IntegrityError } from "./errors";
import type { ProgressCallback } from "./types";

export interface CountingOptions {
  file: string;
  url: string;
  total: number | undefined;
  onProgress: ProgressCallback | undefined;
}

/** One listener that reports to both (the per-call and the source-wide one); undefined when neither is set. */
export function bothListeners(a: ProgressCallback | undefined, b: ProgressCallback | undefined): ProgressCallback | undefined {
  if (!a || !b) return a ?? b;
  return (event) => {
    a(event);
    b(event);
  };
}

/** Passes chunks through, reporting progress, and errors the stream if it ends short of or past `total`. */
export function countingStream(opts: CountingOptions): TransformStream<Uint8Array, Uint8Array> {
  let loaded = 0;
  const { file, url, total, onProgress } = opts;
  return new TransformStream({
    start() {
      onProgress?.({ file, loaded, total, done: false });
    },
    transform(chunk, controller) {
      loaded += chunk.byteLength;
      if (total !== undefined && loaded > total) throw new IntegrityError(`${url} sent more than the announced ${total} bytes`);
      controller.enqueue(chunk);
      onProgress?.({ file, loaded, total, done: false });
    },
    flush() {
      if (total !== undefined && loaded !== total) throw new IntegrityError(`${url} ended after ${loaded} of ${total} bytes`);
      onProgress?.({ file, loaded, total: total ?? loaded, done: true });
    },
  });
}

/** Concatenates a stream into one array. */
export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    length += value.byteLength;
  }
  if (chunks.length === 1 && chunks[0].byteLength === chunks[0].buffer.byteLength) return chunks[0];
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
