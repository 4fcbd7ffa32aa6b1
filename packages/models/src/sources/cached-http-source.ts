/**
 * Remote model files through a disk cache: the first open() downloads (resumable, verified),
 * later ones read the cached copy without touching the network. Node only.
 */
import { stat } from "node:fs/promises";
import { cachePathFor, defaultCacheDir } from "./cache-paths";
import { downloadFile } from "./download";
import { HttpModelSource, type HttpSourceOptions, remoteHeaders } from "./http-source";
import type { RemoteLocation } from "./model-ref";
import { bothListeners } from "./progress-stream";
import { readWholeFile, streamFile } from "./read-file";
import { combineSignals } from "./signals";
import type { ModelSource, ReadOptions, SizedStream } from "./types";

export interface CachedHttpSourceOptions extends HttpSourceOptions {
  /** Cache root; default $EDGESPEC_CACHE, else ~/.cache/edgespec. */
  cacheDir?: string;
  /** Network breaks one download survives by resuming; default 3. */
  retries?: number;
  /** Wait before the first retry, doubled each time; default 500 ms. */
  retryDelayMs?: number;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

export class CachedHttpModelSource implements ModelSource {
  readonly location: string;
  readonly entry: string | undefined;
  readonly cacheDir: string;
  /** Listing, existence checks and URLs are the plain HTTP source's job. */
  private readonly http: HttpModelSource;

  constructor(
    readonly remote: RemoteLocation,
    private readonly options: CachedHttpSourceOptions = {},
  ) {
    this.http = new HttpModelSource(remote, options);
    this.location = this.http.location;
    this.entry = this.http.entry;
    this.cacheDir = options.cacheDir ?? defaultCacheDir();
  }

  fileUrl(file: string): string {
    return this.http.fileUrl(file);
  }

  /** Where the file is (or will be) cached. */
  cachePath(file: string): string {
    const url = this.fileUrl(file);
    return cachePathFor(this.cacheDir, this.remote, file, url);
  }

  list(): Promise<string[] | undefined> {
    return this.http.list();
  }

  async has(file: string): Promise<boolean> {
    return (await isFile(this.cachePath(file))) || this.http.has(file);
  }

  /**
   * Makes sure the file is in the cache and returns its path. A cached file is trusted as is:
   * it was size- and hash-checked when it was downloaded.
   */
  async download(file: string, opts: ReadOptions = {}): Promise<string> {
    const url = this.fileUrl(file);
    const dest = cachePathFor(this.cacheDir, this.remote, file, url);
    if (await isFile(dest)) return dest;
    await downloadFile(url, dest, {
      fetch: this.options.fetch,
      headers: remoteHeaders(this.remote, this.options),
      signal: combineSignals(this.options.signal, opts.signal),
      sha256: opts.sha256,
      onProgress: bothListeners(opts.onProgress, this.options.onProgress),
      file,
      retries: this.options.retries,
      retryDelayMs: this.options.retryDelayMs,
      errorContext: { hub: this.remote.kind === "hub", notFoundHint: this.options.notFoundHint },
    });
    return dest;
  }

  async open(file: string, opts: ReadOptions = {}): Promise<Uint8Array> {
    return readWholeFile(await this.download(file, opts), combineSignals(this.options.signal, opts.signal));
  }

  async stream(file: string, opts: ReadOptions = {}): Promise<SizedStream> {
    return streamFile(await this.download(file, opts), combineSignals(this.options.signal, opts.signal));
  }
}
