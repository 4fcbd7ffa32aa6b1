/**
 * A local HTTP server over the read-only fixture folder, for the model-source tests. It serves
 * files with Range support and sha256 ETags, imitates the Hugging Face hub's resolve route and
 * file-list API, and injects faults on request: a body cut after N bytes, a forced status, a
 * wrong ETag, a server that ignores Range.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** The shared fixture folder: $EDGESPEC_FIXTURES, else `../shared` beside the repository. Throws when it is missing. */
export function fixturesRoot(): string {
  const root = resolve(process.env.EDGESPEC_FIXTURES ?? fileURLToPath(new URL("../../../../shared", import.meta.url)));
  if (!existsSync(join(root, "models"))) {
    throw new Error(
      `model-source tests need the shared fixture folder, but ${root}/models does not exist. ` +
        "Put the fixtures at ../shared beside the repository or point EDGESPEC_FIXTURES at them.",
    );
  }
  return root;
}

export interface RecordedRequest {
  method: string;
  path: string;
  range: string | undefined;
  authorization: string | undefined;
}

interface LoadedFile {
  bytes: Buffer;
  sha256: string;
}

export class FixtureServer {
  /** Every request, in order; tests clear it with `requests.length = 0`. */
  readonly requests: RecordedRequest[] = [];
  /** Hub repo id -> fixture folder relative to the root. */
  readonly hubRepos = new Map<string, string>();
  /** Hub files answer with a 302 to /files/... carrying X-Linked-Etag / X-Linked-Size, as the real hub does for LFS files. */
  hubRedirect = false;
  /** Hub redirects carry X-Linked-Etag / X-Linked-Size. */
  linkedHeaders = true;
  /** Origin that hub redirects point at (another server plays the CDN); default this server. */
  redirectOrigin: string | undefined = undefined;
  /** Send `ETag: "<sha256>"` with files. */
  sha256Etags = true;
  /** Answer every request with the whole file, as servers without Range support do. */
  ignoreRange = false;

  private readonly cuts = new Map<string, number>();
  private readonly statuses = new Map<string, number>();
  private readonly etags = new Map<string, string>();
  private readonly cache = new Map<string, LoadedFile>();
  private server: Server | undefined;
  private baseUrl = "";

  constructor(readonly root: string) {}

  get url(): string {
    return this.baseUrl;
  }

  /** The URL of a fixture file (or folder, with a trailing "/") served from the root. */
  fileUrl(path: string): string {
    return `${this.baseUrl}/files/${path}`;
  }

  /** The next response whose path ends with `suffix` stops after `bytes` body bytes and drops the connection. */
  cutNext(suffix: string, bytes: number): void {
    this.cuts.set(suffix, bytes);
  }

  /** Responses whose path ends with `suffix` get `status` until reset(). */
  forceStatus(suffix: string, status: number): void {
    this.statuses.set(suffix, status);
  }

  /** Responses whose path ends with `suffix` carry this ETag (and X-Linked-Etag on hub redirects). */
  overrideEtag(suffix: string, etag: string): void {
    this.etags.set(suffix, etag);
  }

  reset(): void {
    this.requests.length = 0;
    this.cuts.clear();
    this.statuses.clear();
    this.etags.clear();
    this.hubRedirect = false;
    this.redirectOrigin = undefined;
    this.linkedHeaders = true;
    this.sha256Etags = true;
    this.ignoreRange = false;
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((error) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end(String(error));
      });
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    this.server = server;
    this.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => done()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.baseUrl);
    const path = decodeURIComponent(url.pathname);
    this.requests.push({ method: req.method ?? "GET", path, range: req.headers.range, authorization: req.headers.authorization });

    const forced = [...this.statuses].find(([suffix]) => path.endsWith(suffix))?.[1];
    if (forced !== undefined) return this.sendText(res, forced, `forced status ${forced}`);

    if (path.startsWith("/files/")) return this.serveFixture(req, res, path.slice("/files/".length));
    const list = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(path);
    if (list) return this.serveHubList(res, list[1], list[2]);
    const hub = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    if (hub) return this.serveHubFile(req, res, hub[1], hub[2], hub[3]);
    return this.sendText(res, 404, "no such route");
  }

  /** The fixture folder a hub repo maps to, or undefined for unknown repos and revisions other than main. */
  private hubFolder(repo: string, revision: string): string | undefined {
    return revision === "main" ? this.hubRepos.get(repo) : undefined;
  }

  private async serveHubList(res: ServerResponse, repo: string, revision: string): Promise<void> {
    const folder = this.hubFolder(repo, revision);
    if (!folder) return this.sendText(res, 404, "Repository not found");
    const names = (await readdir(join(this.root, folder))).sort();
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ id: repo, sha: "0".repeat(40), siblings: names.map((rfilename) => ({ rfilename })) }));
  }

  private async serveHubFile(req: IncomingMessage, res: ServerResponse, repo: string, revision: string, file: string): Promise<void> {
    const folder = this.hubFolder(repo, revision);
    if (!folder) return this.sendText(res, 404, "Repository not found");
    const target = `${folder}/${file}`;
    if (!this.hubRedirect) return this.serveFixture(req, res, target);
    const loaded = await this.load(target);
    if (!loaded) return this.sendText(res, 404, "Entry not found");
    const etag = this.etagFor(`/${repo}/resolve/${revision}/${file}`, loaded) ?? `"${loaded.sha256}"`;
    const linked = this.linkedHeaders ? { "x-linked-etag": etag, "x-linked-size": String(loaded.bytes.length) } : {};
    res.writeHead(302, { location: `${this.redirectOrigin ?? ""}/files/${target}`, ...linked });
    res.end();
  }

  private async serveFixture(req: IncomingMessage, res: ServerResponse, relativePath: string): Promise<void> {
    const loaded = await this.load(relativePath);
    if (!loaded) return this.sendText(res, 404, "not found");
    const { bytes } = loaded;
    const headers: Record<string, string> = { "content-type": "application/octet-stream", "accept-ranges": "bytes" };
    const etag = this.etagFor(`/files/${relativePath}`, loaded);
    if (etag) headers.etag = etag;

    let start = 0;
    let end = bytes.length - 1;
    let status = 200;
    const range = this.ignoreRange ? undefined : /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? "");
    if (range) {
      if (range[1] === "") start = Math.max(bytes.length - Number(range[2]), 0);
      else {
        start = Number(range[1]);
        if (range[2] !== "") end = Math.min(Number(range[2]), end);
      }
      if (start >= bytes.length) {
        res.writeHead(416, { "content-range": `bytes */${bytes.length}` });
        res.end();
        return;
      }
      status = 206;
      headers["content-range"] = `bytes ${start}-${end}/${bytes.length}`;
    }
    const body = bytes.subarray(start, end + 1);
    headers["content-length"] = String(body.length);
    res.writeHead(status, headers);
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    const cut = this.takeCut(`/files/${relativePath}`);
    if (cut === undefined || cut >= body.length) {
      res.end(body);
      return;
    }
    // Give the client time to consume the bytes before the connection drops, so a resume offset is predictable.
    res.write(body.subarray(0, cut), () => setTimeout(() => res.destroy(), 100));
  }

  private etagFor(path: string, loaded: LoadedFile): string | undefined {
    const override = [...this.etags].find(([suffix]) => path.endsWith(suffix))?.[1];
    if (override !== undefined) return override;
    return this.sha256Etags ? `"${loaded.sha256}"` : undefined;
  }

  private takeCut(path: string): number | undefined {
    for (const [suffix, bytes] of this.cuts) {
      if (path.endsWith(suffix)) {
        this.cuts.delete(suffix);
        return bytes;
      }
    }
    return undefined;
  }

  private async load(relativePath: string): Promise<LoadedFile | undefined> {
    const absolute = resolve(this.root, relativePath);
    const inside = relative(this.root, absolute);
    if (inside.startsWith("..") || inside.startsWith(sep) || inside === "") return undefined;
    let loaded = this.cache.get(absolute);
    if (!loaded) {
      const bytes = await readFile(absolute).catch(() => undefined);
      if (!bytes) return undefined;
      loaded = { bytes, sha256: createHash("sha256").update(bytes).digest("hex") };
      this.cache.set(absolute, loaded);
    }
    return loaded;
  }

  private sendText(res: ServerResponse, status: number, text: string): void {
    res.writeHead(status, { "content-type": "text/plain" });
    res.end(text);
  }
}
