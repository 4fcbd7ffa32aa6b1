/**
 * Files picked in the browser (a folder or several files) as an in-memory ModelSource, so
 * loadCausalLM reads them as it reads a folder on disk or a base URL.
 */
import type { ModelSource, ReadOptions, SizedStream } from "@edgespec/models";

/** The parts of a File this source uses (a Blob plus its name), so tests can build one. */
export interface PickedFile extends Blob {
  readonly name: string;
  readonly webkitRelativePath?: string;
}

/** File names relative to the picked folder: a common first path segment is dropped. */
export function relativeNames(files: readonly PickedFile[]): string[] {
  const paths = files.map((f) => (f.webkitRelativePath || f.name).replace(/\\/g, "/"));
  const first = paths.map((p) => (p.includes("/") ? p.slice(0, p.indexOf("/")) : undefined));
  const common = first.every((s) => s !== undefined && s === first[0]);
  return common ? paths.map((p) => p.slice(p.indexOf("/") + 1)) : paths;
}

export class FilesModelSource implements ModelSource {
  readonly location: string;
  readonly entry: string | undefined;
  private readonly files = new Map<string, PickedFile>();

  constructor(files: readonly PickedFile[], location = "picked files") {
    if (files.length === 0) throw new Error("no files picked");
    const names = relativeNames(files);
    for (const [i, n] of names.entries()) this.files.set(n, files[i]);
    this.location = location;
    this.entry = pickEntry([...this.files.keys()]);
  }

  /** A llama2.c tokenizer among the files (tokenizer.bin, tok512.bin...), for a llama2.c checkpoint. */
  get llama2cTokenizer(): string | undefined {
    return [...this.files.keys()].find(isTokenizerBin);
  }

  async list(): Promise<string[]> {
    return [...this.files.keys()];
  }

  async has(file: string): Promise<boolean> {
    return this.files.has(file);
  }

  async open(file: string, opts: ReadOptions = {}): Promise<Uint8Array> {
    const f = this.get(file);
    opts.signal?.throwIfAborted();
    const bytes = new Uint8Array(await f.arrayBuffer());
    if (opts.sha256) {
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
      const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
      if (hex !== opts.sha256.toLowerCase()) throw new Error(`${file}: sha256 ${hex} does not match the expected ${opts.sha256}`);
    }
    opts.onProgress?.({ file, loaded: bytes.length, total: bytes.length, done: true });
    return bytes;
  }

  async stream(file: string, opts: ReadOptions = {}): Promise<SizedStream> {
    if (opts.sha256) {
      // verify first, then stream the checked bytes
      const bytes = await this.open(file, opts);
      return { stream: new Blob([bytes as BlobPart]).stream(), size: bytes.length };
    }
    const f = this.get(file);
    opts.signal?.throwIfAborted();
    let loaded = 0;
    const progress = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, ctl) {
        loaded += chunk.length;
        opts.onProgress?.({ file, loaded, total: f.size, done: false });
        ctl.enqueue(chunk);
      },
      flush() {
        opts.onProgress?.({ file, loaded, total: f.size, done: true });
      },
    });
    return { stream: f.stream().pipeThrough(progress), size: f.size };
  }

  private get(file: string): PickedFile {
    const f = this.files.get(file);
    if (!f) throw new Error(`${this.location}: no file ${JSON.stringify(file)} among the picked files`);
    return f;
  }
}

function isTokenizerBin(name: string): boolean {
  return /(^|\/)(tokenizer|tok\d*)\.bin$/.test(name);
}

/** config.json means a Hugging Face folder (the loader decides); otherwise one .gguf or a llama2.c .bin. */
function pickEntry(names: string[]): string | undefined {
  if (names.includes("config.json")) return undefined;
  const ggufs = names.filter((n) => n.endsWith(".gguf"));
  if (ggufs.length === 1) return ggufs[0];
  const bins = names.filter((n) => n.endsWith(".bin") && !isTokenizerBin(n));
  if (bins.length === 1) return bins[0];
  return undefined;
}
