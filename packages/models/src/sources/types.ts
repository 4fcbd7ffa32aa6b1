/** The contract every model source implements, plus the option and progress types they share. */

/** One progress report for one file. `loaded` counts bytes of the whole file, resumed bytes included. */
export interface ProgressEvent {
  /** The file as the caller named it, relative to the source root. */
  file: string;
  loaded: number;
  /** Full size of the file when the server or disk says it; undefined for a chunked response. */
  total: number | undefined;
  /** True on the last report for this file, sent once the bytes are complete and verified. */
  done: boolean;
}

export type ProgressCallback = (event: ProgressEvent) => void;

/** A byte stream plus its length when known ahead of time (from disk or Content-Length). */
export interface SizedStream {
  stream: ReadableStream<Uint8Array>;
  size: number | undefined;
}

/** Per-call options of open() and stream(); they add to the options the source was created with. */
export interface ReadOptions {
  signal?: AbortSignal;
  /** Expected sha256 (64 hex) of the file; a mismatch is an IntegrityError. */
  sha256?: string;
  onProgress?: ProgressCallback;
}

/**
 * Where model files come from: a local folder, a base URL or a Hugging Face repo.
 * File names are relative paths with "/" separators ("config.json", "onnx/model.onnx").
 */
export interface ModelSource {
  /** What the user pointed at, for messages: a path, a URL or "hf:org/name@revision". */
  readonly location: string;
  /** The file the user named when they pointed at a single file rather than a folder, repo or base URL. */
  readonly entry: string | undefined;
  /** Every file of the source, or undefined where the source cannot enumerate (a plain base URL). */
  list(): Promise<string[] | undefined>;
  has(file: string): Promise<boolean>;
  /** The whole file in memory. */
  open(file: string, opts?: ReadOptions): Promise<Uint8Array>;
  stream(file: string, opts?: ReadOptions): Promise<SizedStream>;
}
