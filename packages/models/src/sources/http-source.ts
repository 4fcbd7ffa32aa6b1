/**
 * Model files straight from HTTP with fetch and nothing else, so it runs in browsers and
 * Cloudflare Workers. No cache: every open() downloads again (the browser's HTTP cache may help).
 */
import { normalizeSha256, sha256Hex, sha256MismatchError } from "./digest";
import { ModelSourceError } from "./errors";
import { assertRelativeFile } from "./file-names";
import { httpStatusError } from "./http-errors";
import { bodyLength, hubAuthHeaders, sha256FromHeaders } from "./http-headers";
import { listHubFiles } from "./hub-api";
import { describeLocation, type RemoteLocation, remoteFileUrl } from "./model-ref";
import { bothListeners, countingStream, readAll } from "./progress-stream";
import { combineSignals } from "./signals";
import type { ModelSource, ProgressCallback, ReadOptions, SizedStream } from "./types";

export interface HttpSourceOptions {
  /** fetch to use; default globalThis.fetch. */
  fetch?: typeof fetch;
  /** Extra headers for every request. */
  headers?: Record<string, string>;
  /** Hugging Face token for hub locations; default env HF_TOKEN where the host has an environment. */
  token?: string;
  /** Aborts every request of this source (combine with a per-call signal in ReadOptions). */
  signal?: AbortSignal;
  onProgress?: ProgressCallback;
  /** Appended to "not found" errors, e.g. to explain why a reference was read as a repo id. */
  notFoundHint?: string;
}

/** The request headers a location needs: the caller's own plus the hub token where it applies. */
export function remoteHeaders(remote: RemoteLocation, options: Pick<HttpSourceOptions, "headers" | "token">): Record<string, string> {
  return { ...options.headers, ...(remote.kind === "hub" ? hubAuthHeaders(options.token) : {}) };
}

/** fetch followed a redirect to another origin (the hub's CDN, say). */
function answeredElsewhere(response: Response, url: string): boolean {
  if (!response.redirected || !response.url) return false;
  return new URL(response.url).origin !== new URL(url).origin;
}

export class HttpModelSource implements ModelSource {
  readonly location: string;
  readonly entry: string | undefined;
  private readonly fetch: typeof fetch;

  constructor(
    readonly remote: RemoteLocation,
    private readonly options: HttpSourceOptions = {},
  ) {
    this.location = describeLocation(remote);
    this.entry = remote.entry;
    // Calling an unbound window.fetch throws "Illegal invocation" in browsers.
    this.fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** The URL a file is fetched from. */
  fileUrl(file: string): string {
    assertRelativeFile(file);
    return remoteFileUrl(this.remote, file);
  }

  async list(): Promise<string[] | undefined> {
    if (this.remote.kind !== "hub") return undefined;
    return listHubFiles(this.remote, { fetch: this.fetch, headers: remoteHeaders(this.remote, this.options), signal: this.options.signal });
  }

  async has(file: string): Promise<boolean> {
    const url = this.fileUrl(file);
    let response = await this.request(url, "HEAD", this.options.signal);
    // Some servers and signed-URL stores refuse HEAD; a one-byte GET answers the same question.
    if (response.status === 405 || response.status === 501) response = await this.request(url, "GET", this.options.signal, { range: "bytes=0-0" });
    await response.body?.cancel();
    if (response.ok) return true;
    if (response.status === 404) return false;
    throw this.statusError(response, url);
  }

  async open(file: string, opts: ReadOptions = {}): Promise<Uint8Array> {
    const url = this.fileUrl(file);
    const { response, size } = await this.get(url, opts);
    const expected = opts.sha256 ? normalizeSha256(opts.sha256) : sha256FromHeaders(response.headers, answeredElsewhere(response, url));
    const progress = this.progress(opts.onProgress);
    // With a hash to check, the final "done" report waits until the check has passed.
    const bodyProgress: ProgressCallback =
      expected === undefined
        ? progress
        : (event) => {
            if (!event.done) progress(event);
          };
    const bytes = await readAll(this.counted(response, file, url, size, bodyProgress));
    if (expected !== undefined) {
      const actual = await sha256Hex(bytes);
      if (actual !== expected) throw sha256MismatchError(url, expected, actual);
      progress({ file, loaded: bytes.byteLength, total: bytes.byteLength, done: true });
    }
    return bytes;
  }

  /** Streams the body as it arrives; length is checked, sha256 is not (WebCrypto cannot hash incrementally). */
  async stream(file: string, opts: ReadOptions = {}): Promise<SizedStream> {
    const url = this.fileUrl(file);
    const { response, size } = await this.get(url, opts);
    return { stream: this.counted(response, file, url, size, this.progress(opts.onProgress)), size };
  }

  private async get(url: string, opts: ReadOptions): Promise<{ response: Response; size: number | undefined }> {
    const response = await this.request(url, "GET", combineSignals(this.options.signal, opts.signal));
    if (!response.ok) {
      await response.body?.cancel();
      throw this.statusError(response, url);
    }
    return { response, size: bodyLength(response.headers) };
  }

  private counted(response: Response, file: string, url: string, total: number | undefined, onProgress: ProgressCallback): ReadableStream<Uint8Array> {
    const body = response.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() });
    return body.pipeThrough(countingStream({ file, url, total, onProgress }));
  }

  private progress(perCall: ProgressCallback | undefined): ProgressCallback {
    return bothListeners(perCall, this.options.onProgress) ?? (() => {});
  }

  private async request(url: string, method: string, signal: AbortSignal | undefined, extra: Record<string, string> = {}): Promise<Response> {
    try {
      return await this.fetch(url, { method, headers: { ...remoteHeaders(this.remote, this.options), ...extra }, signal });
    } catch (error) {
      // fetch reports DNS failures, refused connections and resets as a bare TypeError("fetch failed")
      if (!(error instanceof TypeError) || signal?.aborted) throw error;
      const cause = error.cause instanceof Error ? ` (${error.cause.message})` : "";
      const hint = this.options.notFoundHint ? `; ${this.options.notFoundHint}` : "";
      throw new ModelSourceError(`could not reach ${url}: ${error.message}${cause}${hint}`, { cause: error });
    }
  }

  private statusError(response: Response, url: string) {
    return httpStatusError(response.status, response.statusText, url, { hub: this.remote.kind === "hub", notFoundHint: this.options.notFoundHint });
  }
}
