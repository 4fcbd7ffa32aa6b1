/** Model files in a local folder (or one local file and its siblings). Node only. */
import { createHash } from "node:crypto";
import { readdir, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { normalizeSha256 } from "./digest";
import { IntegrityError } from "./errors";
import { assertRelativeFile } from "./file-names";
import { readWholeFile, rethrowMissing, streamFile } from "./read-file";
import type { ModelSource, ReadOptions, SizedStream } from "./types";

export class LocalModelSource implements ModelSource {
  readonly location: string;
  /** Absolute folder that file names are relative to. */
  readonly root: string;

  constructor(
    root: string,
    readonly entry: string | undefined = undefined,
  ) {
    this.root = resolve(root);
    this.location = entry === undefined ? this.root : join(this.root, entry);
  }

  /** A folder becomes the root; a file becomes the entry, with its folder as the root. */
  static async fromPath(path: string): Promise<LocalModelSource> {
    const absolute = resolve(path);
    const info = await stat(absolute).catch((e) => rethrowMissing(e, absolute));
    return info.isDirectory() ? new LocalModelSource(absolute) : new LocalModelSource(dirname(absolute), basename(absolute));
  }

  filePath(file: string): string {
    assertRelativeFile(file);
    return join(this.root, ...file.split("/"));
  }

  /** Every file under the root, recursively, skipping hidden entries (.git, .cache, ...). */
  async list(): Promise<string[]> {
    const files: string[] = [];
    const walk = async (dir: string, prefix: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        if (entry.name.startsWith(".")) continue;
        const name = prefix + entry.name;
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await walk(path, `${name}/`);
        else if (entry.isFile()) files.push(name);
        // linked files count (Hugging Face cache snapshots are links into a blob store); linked folders could cycle
        else if (entry.isSymbolicLink() && (await stat(path).catch(() => undefined))?.isFile()) files.push(name);
      }
    };
    await walk(this.root, "");
    return files.sort();
  }

  async has(file: string): Promise<boolean> {
    const path = this.filePath(file);
    try {
      return (await stat(path)).isFile();
    } catch {
      return false;
    }
  }

  async open(file: string, opts: ReadOptions = {}): Promise<Uint8Array> {
    const path = this.filePath(file);
    const bytes = await readWholeFile(path, opts.signal);
    if (opts.sha256 !== undefined) {
      const expected = normalizeSha256(opts.sha256);
      const actual = createHash("sha256").update(bytes).digest("hex");
      if (actual !== expected) throw new IntegrityError(`sha256 mismatch for ${path}: expected ${expected}, got ${actual}`);
    }
    return bytes;
  }

  /** Streams the file; an expected sha256 is not checked here (it would need a second pass). */
  stream(file: string, opts: ReadOptions = {}): Promise<SizedStream> {
    return streamFile(this.filePath(file), opts.signal);
  }
}
