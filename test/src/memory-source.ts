/**
 * A model source over files already in memory: every host reads the fixture its own way
 * (Node and Deno from disk, Chromium over HTTP, workerd through a service binding) and hands
 * the bytes to the same loader.
 */
import type { ModelSource, SizedStream } from "../../packages/models/src/sources/types";

export class MemoryModelSource implements ModelSource {
  readonly entry = undefined;

  constructor(
    readonly location: string,
    private readonly files: Record<string, Uint8Array>,
  ) {}

  async list(): Promise<string[]> {
    return Object.keys(this.files).sort();
  }

  async has(file: string): Promise<boolean> {
    return file in this.files;
  }

  async open(file: string): Promise<Uint8Array> {
    const f = this.files[file];
    if (!f) throw new Error(`${this.location}: no file ${file}`);
    return f;
  }

  async stream(file: string): Promise<SizedStream> {
    const bytes = await this.open(file);
    const chunk = 1 << 20;
    let at = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (at >= bytes.length) return c.close();
        c.enqueue(bytes.subarray(at, at + chunk));
        at += chunk;
      },
    });
    return { stream, size: bytes.length };
  }
}

/** The files of TinyStories-656K that the loader reads (weights, config; the tokenizer is not needed). */
export const TINYSTORIES_FILES = ["config.json", "model.safetensors"] as const;
