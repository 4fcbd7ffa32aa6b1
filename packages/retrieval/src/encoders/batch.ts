/** Encoding many texts with progress reports. */
import type { ProgressCallback } from "./types";

export interface BatchOptions {
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/**
 * `encode` over every text in order. Encoding is synchronous wasm work, so between texts the
 * loop yields to the event loop: progress bars redraw and an abort signal is seen.
 */
export async function encodeBatch<T>(texts: readonly string[], encode: (text: string) => T, opts: BatchOptions = {}): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < texts.length; i++) {
    opts.signal?.throwIfAborted();
    out.push(encode(texts[i]));
    opts.onProgress?.(i + 1, texts.length);
    if (i + 1 < texts.length) await new Promise<void>((resolve) => setTimeout(resolve, 0));
  }
  return out;
}
