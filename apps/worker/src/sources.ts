/**
 * Model files for a Worker, as @edgespec/models ModelSources: from a Fetcher (the static
 * assets binding, or any service) under a path prefix, or from an R2 bucket under a key
 * prefix. Both stream, so weights never sit whole in the isolate's 128 MB.
 */
import { type ModelSource, ModelSourceError, type ReadOptions, type SizedStream } from "@edgespec/models";

export interface FetcherLike {
  fetch(input: Request | string, init?: RequestInit): Promise<Response>;
}

export interface R2ObjectBodyLike {
  body: ReadableStream<Uint8Array>;
  size: number;
  arrayBuffer(): Promise<ArrayBuffer>;
}

export interface R2BucketLike {
  get(key: string): Promise<R2ObjectBodyLike | null>;
  head(key: string): Promise<{ size: number } | null>;
}

function joinPath(prefix: string, file: string): string {
  return `${prefix.replace(/\/+$/, "")}/${file}`;
}

/** Files at `https://assets.local/<prefix>/<file>` of a Fetcher binding (Workers static assets). */
export class FetcherModelSource implements ModelSource {
  readonly entry = undefined;
  constructor(
    private readonly fetcher: FetcherLike,
    private readonly prefix: string,
  ) {}

  get location(): string {
    return `assets:${this.prefix}`;
  }

  async list(): Promise<undefined> {
    return undefined;
  }

  async has(file: string): Promise<boolean> {
    const res = await this.fetcher.fetch(this.url(file), { method: "HEAD" });
    return res.ok;
  }

  async open(file: string, opts: ReadOptions = {}): Promise<Uint8Array> {
    return new Uint8Array(await (await this.get(file, opts)).arrayBuffer());
  }

  async stream(file: string, opts: ReadOptions = {}): Promise<SizedStream> {
    const res = await this.get(file, opts);
    const length = Number(res.headers.get("content-length") ?? Number.NaN);
    if (!res.body) throw new ModelSourceError(`${this.location}/${file} has no body`);
    return { stream: res.body, size: Number.isFinite(length) ? length : undefined };
  }

  private url(file: string): string {
    return `https://assets.local${joinPath(this.prefix.startsWith("/") ? this.prefix : `/${this.prefix}`, file)}`;
  }

  private async get(file: string, opts: ReadOptions): Promise<Response> {
    const res = await this.fetcher.fetch(this.url(file), { signal: opts.signal });
    if (!res.ok) throw new ModelSourceError(`${this.location}/${file}: HTTP ${res.status}`);
    return res;
  }
}

/** Files at `<prefix>/<file>` keys of an R2 bucket. */
export class R2ModelSource implements ModelSource {
  readonly entry = undefined;
  constructor(
    private readonly bucket: R2BucketLike,
    private readonly prefix: string,
  ) {}

  get location(): string {
    return `r2:${this.prefix}`;
  }

  async list(): Promise<undefined> {
    return undefined;
  }

  async has(file: string): Promise<boolean> {
    return (await this.bucket.head(joinPath(this.prefix, file))) !== null;
  }

  async open(file: string): Promise<Uint8Array> {
    return new Uint8Array(await (await this.object(file)).arrayBuffer());
  }

  async stream(file: string): Promise<SizedStream> {
    const o = await this.object(file);
    return { stream: o.body, size: o.size };
  }

  private async object(file: string): Promise<R2ObjectBodyLike> {
    const o = await this.bucket.get(joinPath(this.prefix, file));
    if (!o) throw new ModelSourceError(`${this.location}/${file} does not exist in the bucket`);
    return o;
  }
}
