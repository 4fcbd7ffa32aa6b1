/**
 * GGUF writing, the Node-only parts: a file sink, atomic output (a temporary sibling renamed
 * into place once complete), random access to a local Hugging Face folder's safetensors, and
 * `convertHfFolderToGguf` which ties them to formats/gguf-write.ts.
 */
import { type FileHandle, open, realpath, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { ModelFormatError } from "./errors";
import { type GgufHeader, parseGgufHeader } from "./formats/gguf";
import {
  convertHfToGguf,
  type GgufFileDType,
  type GgufMetadataList,
  type GgufProgress,
  type GgufSink,
  ggufVocabFromHfTokenizer,
  ggufVocabFromMetadata,
  type HfCheckpoint,
  type LlamaGgufPlan,
} from "./formats/gguf-write";
import { parseSafetensorsHeader, parseSafetensorsHeaderLength } from "./formats/safetensors";
import type { StoredDType, StoredTensor } from "./formats/stored";
import type { LlamaConfig } from "./llama/config";
import { readJson, safetensorsShards } from "./load";
import { LocalModelSource } from "./sources/local-source";

/** Appends to an open file; chunks are written in order, each completely. */
export class FileSink implements GgufSink {
  private constructor(private readonly handle: FileHandle) {}

  /** A new file (`wx`: an existing one is an error, never truncated). */
  static async create(path: string): Promise<FileSink> {
    return new FileSink(await open(path, "wx"));
  }

  async write(chunk: Uint8Array): Promise<void> {
    let at = 0;
    while (at < chunk.length) {
      const { bytesWritten } = await this.handle.write(chunk, at, chunk.length - at);
      at += bytesWritten;
    }
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

export class OutputExistsError extends Error {
  override name = "OutputExistsError";
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Writes `path` through `write` atomically: into `.<name>.partial-<pid>` beside it, renamed over
 * `path` only when `write` has finished; on failure the partial file is removed. An existing
 * `path` is refused unless `force`.
 */
export async function writeFileAtomic<T>(path: string, write: (sink: GgufSink) => Promise<T>, opts: { force?: boolean } = {}): Promise<T> {
  const target = resolve(path);
  if (!opts.force && (await exists(target))) throw new OutputExistsError(`${target} exists; pass --force to replace it`);
  const partial = join(dirname(target), `.${basename(target)}.partial-${process.pid}`);
  await rm(partial, { force: true });
  const sink = await FileSink.create(partial);
  try {
    const result = await write(sink);
    await sink.close();
    await rename(partial, target);
    return result;
  } catch (e) {
    await sink.close().catch(() => {});
    await rm(partial, { force: true });
    throw e;
  }
}

/** A local Hugging Face folder's config and tensors, each tensor read from disk when asked for. */
export interface LocalHfCheckpoint extends HfCheckpoint {
  /** absolute paths of the files it reads */
  files: string[];
  close(): Promise<void>;
}

export async function openHfCheckpoint(dir: string): Promise<LocalHfCheckpoint> {
  const source = await LocalModelSource.fromPath(dir);
  if (source.entry !== undefined) throw new ModelFormatError(source.location, "is a file; a Hugging Face model is a folder with config.json");
  if (!(await source.has("config.json"))) throw new ModelFormatError(source.location, "has no config.json (not a Hugging Face model folder)");
  const config = await readJson(source, "config.json", {});
  const generation = (await source.has("generation_config.json")) ? await readJson(source, "generation_config.json", {}) : undefined;
  const shards = await safetensorsShards(source, {});
  const handles: FileHandle[] = [];
  const tensors = new Map<string, { dtype: StoredDType; shape: readonly number[] }>();
  const where = new Map<string, { handle: FileHandle; file: string; at: number; length: number }>();
  try {
    for (const shard of shards) {
      const file = source.filePath(shard);
      const handle = await open(file, "r");
      handles.push(handle);
      const size = (await handle.stat()).size;
      const first = new Uint8Array(8);
      await handle.read(first, 0, 8, 0);
      const len = parseSafetensorsHeaderLength(file, first, size);
      const json = new Uint8Array(len);
      await handle.read(json, 0, len, 8);
      const header = parseSafetensorsHeader(file, json, size - 8 - len);
      for (const e of header.entries) {
        if (tensors.has(e.name)) throw new ModelFormatError(file, "appears in two shards", e.name);
        tensors.set(e.name, { dtype: e.dtype, shape: e.shape });
        where.set(e.name, { handle, file, at: header.dataStart + e.begin, length: e.end - e.begin });
      }
    }
  } catch (e) {
    await Promise.all(handles.map((h) => h.close()));
    throw e;
  }
  return {
    label: source.location,
    config,
    generation,
    tensors,
    files: ["config.json", ...(generation ? ["generation_config.json"] : []), ...shards].map((f) => source.filePath(f)),
    async read(name: string): Promise<StoredTensor> {
      const w = where.get(name);
      const t = tensors.get(name);
      if (!w || !t) throw new ModelFormatError(source.location, "is missing", name);
      const data = new Uint8Array(w.length);
      let got = 0;
      while (got < w.length) {
        const { bytesRead } = await w.handle.read(data, got, w.length - got, w.at + got);
        if (bytesRead === 0) throw new ModelFormatError(w.file, `ends while reading its bytes (truncated?)`, name);
        got += bytesRead;
      }
      return { name, dtype: t.dtype, shape: [...t.shape], data };
    },
    async close(): Promise<void> {
      await Promise.all(handles.map((h) => h.close()));
    },
  };
}

/** The header of a GGUF file on disk, reading only as much of the file as the header takes. */
export async function readGgufHeaderFile(path: string): Promise<GgufHeader> {
  const handle = await open(path, "r");
  try {
    const size = (await handle.stat()).size;
    let want = Math.min(size, 1 << 20);
    for (;;) {
      const bytes = new Uint8Array(want);
      await handle.read(bytes, 0, want, 0);
      const header = parseGgufHeader(path, bytes, want >= size, size);
      if (header) return header;
      want = Math.min(size, want * 2);
    }
  } finally {
    await handle.close();
  }
}

export interface ConvertFolderOptions {
  dtype: GgufFileDType;
  /** tokenizer metadata; default: from the folder's tokenizer.json, else from `vocabFile` */
  vocab?: GgufMetadataList;
  /** a GGUF whose tokenizer.* keys to copy (a vocab-only GGUF or another model's file) */
  vocabFile?: string;
  /** general.name; default the folder's name */
  name?: string;
  /** replace an existing output file (never an input) */
  force?: boolean;
  onProgress?: (p: GgufProgress) => void;
}

/** A local Hugging Face Llama / Mistral / Qwen2 folder to one GGUF file. */
export async function convertHfFolderToGguf(
  dir: string,
  out: string,
  opts: ConvertFolderOptions,
): Promise<{ out: string; bytes: number; config: LlamaConfig; plan: LlamaGgufPlan }> {
  const target = resolve(out);
  const ckpt = await openHfCheckpoint(dir);
  try {
    const source = await LocalModelSource.fromPath(dir);
    const inputs = [...ckpt.files];
    let vocab = opts.vocab;
    if (!vocab && opts.vocabFile) {
      inputs.push(resolve(opts.vocabFile));
      vocab = ggufVocabFromMetadata((await readGgufHeaderFile(opts.vocabFile)).metadata);
    }
    if (!vocab) {
      if (!(await source.has("tokenizer.json")))
        throw new ModelFormatError(source.location, "has no tokenizer.json; name a GGUF whose vocabulary to copy (--vocab FILE.gguf)");
      const tokCfg = (await source.has("tokenizer_config.json")) ? await readJson(source, "tokenizer_config.json", {}) : {};
      vocab = ggufVocabFromHfTokenizer(await readJson(source, "tokenizer.json", {}), tokCfg, {
        vocabSize: typeof ckpt.config.vocab_size === "number" ? ckpt.config.vocab_size : undefined,
        config: ckpt.config,
        file: source.filePath("tokenizer.json"),
      });
      inputs.push(source.filePath("tokenizer.json"));
    }
    // --force replaces an old output, never a file this conversion reads
    if (await exists(target)) {
      const real = await realpath(target);
      for (const input of inputs) {
        if ((await realpath(input).catch(() => input)) === real) throw new OutputExistsError(`${target} is an input of this conversion; choose another output`);
      }
    }
    const result = await writeFileAtomic(
      target,
      (sink) =>
        convertHfToGguf(ckpt, sink, {
          dtype: opts.dtype,
          vocab: vocab as GgufMetadataList,
          name: opts.name ?? basename(source.root),
          onProgress: opts.onProgress,
          label: target,
        }),
      { force: opts.force },
    );
    return { out: target, ...result };
  } finally {
    await ckpt.close();
  }
}
