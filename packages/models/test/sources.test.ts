/** Model sources against a local HTTP server over the shared fixtures: resolution, download cache, resume, verification, errors. */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import {
  HttpModelSource,
  hubFileUrl,
  IntegrityError,
  ModelAccessError,
  ModelNotFoundError,
  ModelSourceError,
  type ProgressEvent,
  parseRemoteModelRef,
  resolveRemoteModelSource,
} from "../src/sources/index";
import {
  CachedHttpModelSource,
  LocalModelSource,
  lockPathFor,
  partialPathFor,
  type ResolveOptions,
  resolveModelSource,
  terminalProgress,
} from "../src/sources/node";
import { FixtureServer, fixturesRoot } from "./http-server";

const TINY = "models/tinystories-656k";
const HUB_ID = "raincandy-u/TinyStories-656K";
const WEIGHTS = "model.safetensors";

// Fails the whole file, loudly, when the fixtures are missing.
const root = fixturesRoot();
let server: FixtureServer;
/** A second server playing the CDN that the hub redirects to (another origin). */
let cdn: FixtureServer;
let cacheDir: string;

beforeAll(async () => {
  server = await new FixtureServer(root).start();
  server.hubRepos.set(HUB_ID, TINY);
  cdn = await new FixtureServer(root).start();
});

afterAll(async () => {
  await server?.close();
  await cdn?.close();
});

beforeEach(async () => {
  server.reset();
  cdn.reset();
  cacheDir = await mkdtemp(join(tmpdir(), "edgespec-sources-"));
  // The developer's own hub settings must not leak into the tests.
  vi.stubEnv("HF_TOKEN", "");
  vi.stubEnv("HF_ENDPOINT", "");
  vi.stubEnv("EDGESPEC_CACHE", "");
});

afterEach(async () => {
  vi.unstubAllEnvs();
  await rm(cacheDir, { recursive: true, force: true });
});

function fixture(file: string): Promise<Buffer> {
  return readFile(join(root, TINY, file));
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function bytesOf(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function hubSource(opts: ResolveOptions = {}): Promise<CachedHttpModelSource> {
  return resolveModelSource(HUB_ID, { endpoint: server.url, cacheDir, retryDelayMs: 10, ...opts }) as Promise<CachedHttpModelSource>;
}

function fileRequests(file: string) {
  return server.requests.filter((r) => r.path.endsWith(`/${file}`) && r.method === "GET");
}

function expectMonotone(events: ProgressEvent[], size: number): void {
  expect(events.length).toBeGreaterThan(1);
  for (let i = 1; i < events.length; i++) expect(events[i].loaded).toBeGreaterThanOrEqual(events[i - 1].loaded);
  expect(events.filter((e) => e.done)).toHaveLength(1);
  const last = events.at(-1)!;
  expect(last).toMatchObject({ file: WEIGHTS, loaded: size, total: size, done: true });
}

describe("reference parsing", () => {
  it("reads repo ids, revisions and the hf: prefix", () => {
    expect(parseRemoteModelRef("org/name")).toEqual({ kind: "hub", repo: "org/name", revision: "main", endpoint: "https://huggingface.co" });
    expect(parseRemoteModelRef("org/name@v1.0", { endpoint: "http://mirror/" })).toMatchObject({ revision: "v1.0", endpoint: "http://mirror" });
    expect(parseRemoteModelRef("hf:org/name@refs/pr/1")).toMatchObject({ repo: "org/name", revision: "refs/pr/1" });
    expect(parseRemoteModelRef("hf://org/name")).toMatchObject({ repo: "org/name" });
    for (const notRemote of ["a/b/c", "./org/name", "org", "org/na--me", "org/name@", "C:\\models\\x", "/abs/path"]) {
      expect(parseRemoteModelRef(notRemote), notRemote).toBeUndefined();
    }
    expect(() => parseRemoteModelRef("hf:not a repo")).toThrow(ModelSourceError);
  });

  it("takes the hub endpoint from HF_ENDPOINT and builds resolve URLs", () => {
    vi.stubEnv("HF_ENDPOINT", "http://hub.test/");
    expect(parseRemoteModelRef("org/name")).toMatchObject({ endpoint: "http://hub.test" });
    const refsPr = { endpoint: "http://hub.test", repo: "org/name", revision: "refs/pr/1" };
    expect(hubFileUrl(refsPr, "onnx/model file.onnx")).toBe("http://hub.test/org/name/resolve/refs%2Fpr%2F1/onnx/model%20file.onnx");
  });

  it("tells folder URLs from file URLs and recognises hub URLs", () => {
    expect(parseRemoteModelRef("http://h/models/tiny/")).toEqual({ kind: "url", base: "http://h/models/tiny/" });
    expect(parseRemoteModelRef("http://h/models/tiny")).toEqual({ kind: "url", base: "http://h/models/tiny/" });
    expect(parseRemoteModelRef("http://h/m/model.gguf?sig=1")).toEqual({
      kind: "url",
      base: "http://h/m/",
      entry: "model.gguf",
      entryUrl: "http://h/m/model.gguf?sig=1",
    });
    expect(parseRemoteModelRef("https://huggingface.co/org/name/resolve/main/onnx/model.onnx")).toMatchObject({
      kind: "hub",
      repo: "org/name",
      revision: "main",
      entry: "onnx/model.onnx",
    });
    expect(parseRemoteModelRef("https://huggingface.co/org/name")).toMatchObject({ kind: "hub", repo: "org/name", revision: "main" });
    expect(parseRemoteModelRef("https://huggingface.co/datasets/org/name")).toMatchObject({ kind: "url" });
  });
});

describe("local paths", () => {
  it("opens a folder: list, has, open and stream give the files byte for byte", async () => {
    const dir = join(root, TINY);
    const source = await resolveModelSource(dir);
    expect(source).toBeInstanceOf(LocalModelSource);
    expect(source.entry).toBeUndefined();
    expect(await source.list()).toEqual((await readdir(dir)).sort());
    expect(await source.has("config.json")).toBe(true);
    expect(await source.has("missing.json")).toBe(false);
    const original = await fixture(WEIGHTS);
    expect(Buffer.from(await source.open(WEIGHTS)).equals(original)).toBe(true);
    const { stream, size } = await source.stream(WEIGHTS);
    expect(size).toBe(original.length);
    expect((await bytesOf(stream)).equals(original)).toBe(true);
  });

  it("opens a single file as the entry of its folder, also as a file:// URL", async () => {
    const file = join(root, "models/stories260K/stories260K.bin");
    for (const ref of [file, `file://${file}`]) {
      const source = (await resolveModelSource(ref)) as LocalModelSource;
      expect(source.entry).toBe("stories260K.bin");
      expect(source.root).toBe(dirname(file));
      expect(Buffer.from(await source.open(source.entry!)).equals(await readFile(file))).toBe(true);
    }
  });

  it("prefers an existing relative path over a repo id of the same spelling", async () => {
    await mkdir(join(cacheDir, "acme/tiny"), { recursive: true });
    await writeFile(join(cacheDir, "acme/tiny/config.json"), "{}");
    const local = await resolveModelSource("acme/tiny", { baseDir: cacheDir });
    expect(local).toBeInstanceOf(LocalModelSource);
    expect(new TextDecoder().decode(await local.open("config.json"))).toBe("{}");
    const remote = await resolveModelSource("acme/other", { baseDir: cacheDir, cacheDir });
    expect(remote).toBeInstanceOf(CachedHttpModelSource);
    expect(remote.location).toBe("hf:acme/other@main");
  });

  it("rejects missing files, unsafe names, and references that are nothing at all", async () => {
    const source = await resolveModelSource(join(root, TINY));
    await expect(source.open("missing.json")).rejects.toThrow(ModelNotFoundError);
    await expect(source.open("../tinystories-656k/config.json")).rejects.toThrow(/invalid file name/);
    await expect(resolveModelSource("no/such/dir", { baseDir: cacheDir })).rejects.toThrow(/no such local path.*not an http\(s\) URL/);
  });

  it("checks an expected sha256 on open", async () => {
    const source = await resolveModelSource(join(root, TINY));
    const config = await fixture("config.json");
    await expect(source.open("config.json", { sha256: sha256(config) })).resolves.toHaveLength(config.length);
    await expect(source.open("config.json", { sha256: "0".repeat(64) })).rejects.toThrow(IntegrityError);
  });
});

describe("HTTP without cache (fetch only)", () => {
  it("serves a folder URL: open, stream, has, and no listing", async () => {
    const source = await resolveModelSource(server.fileUrl(`${TINY}/`), { cache: false });
    expect(source).toBeInstanceOf(HttpModelSource);
    const original = await fixture(WEIGHTS);
    expect(Buffer.from(await source.open(WEIGHTS)).equals(original)).toBe(true);
    const events: ProgressEvent[] = [];
    const { stream, size } = await source.stream(WEIGHTS, { onProgress: (e) => events.push(e) });
    expect(size).toBe(original.length);
    expect((await bytesOf(stream)).equals(original)).toBe(true);
    expectMonotone(events, original.length);
    expect(await source.has("config.json")).toBe(true);
    expect(await source.has("missing.json")).toBe(false);
    expect(await source.list()).toBeUndefined();
  });

  it("serves a file URL as the entry", async () => {
    const source = resolveRemoteModelSource(server.fileUrl(`${TINY}/config.json`));
    expect(source.entry).toBe("config.json");
    expect(Buffer.from(await source.open("config.json")).equals(await fixture("config.json"))).toBe(true);
  });

  it("verifies a sha256 ETag and rejects a wrong one", async () => {
    server.overrideEtag("config.json", `"${"ab".repeat(32)}"`);
    const source = resolveRemoteModelSource(server.fileUrl(`${TINY}/`));
    const error = await source.open("config.json").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntegrityError);
    expect(String(error)).toContain("ab".repeat(32));
    expect(String(error)).toContain(sha256(await fixture("config.json")));
  });

  it("sends HF_TOKEN to the hub only", async () => {
    vi.stubEnv("HF_TOKEN", "hf_secret");
    await resolveRemoteModelSource(server.fileUrl(`${TINY}/`)).open("config.json");
    await resolveRemoteModelSource(HUB_ID, { endpoint: server.url }).open("config.json");
    expect(server.requests.map((r) => [r.path, r.authorization])).toEqual([
      [`/files/${TINY}/config.json`, undefined],
      [`/${HUB_ID}/resolve/main/config.json`, "Bearer hf_secret"],
    ]);
  });
});

describe("Hugging Face hub ids", () => {
  it("resolves org/name to <endpoint>/org/name/resolve/main/<file> and lists the repo", async () => {
    const source = await hubSource();
    expect(source).toBeInstanceOf(CachedHttpModelSource);
    expect(source.location).toBe(`hf:${HUB_ID}@main`);
    expect(source.fileUrl("config.json")).toBe(`${server.url}/${HUB_ID}/resolve/main/config.json`);
    expect(Buffer.from(await source.open("config.json")).equals(await fixture("config.json"))).toBe(true);
    expect(fileRequests("config.json").map((r) => r.path)).toEqual([`/${HUB_ID}/resolve/main/config.json`]);
    expect(await source.list()).toEqual((await readdir(join(root, TINY))).sort());
  });

  it("uses HF_ENDPOINT when no endpoint is given", async () => {
    vi.stubEnv("HF_ENDPOINT", server.url);
    const source = await resolveModelSource(HUB_ID, { cacheDir });
    expect(Buffer.from(await source.open("config.json")).equals(await fixture("config.json"))).toBe(true);
  });

  it("follows the hub's redirect to another origin, checks X-Linked-Etag, and keeps the token off the CDN", async () => {
    vi.stubEnv("HF_TOKEN", "hf_secret");
    server.hubRedirect = true;
    server.redirectOrigin = cdn.url;
    cdn.sha256Etags = false;
    const source = await hubSource();
    const original = await fixture(WEIGHTS);
    expect(Buffer.from(await source.open(WEIGHTS)).equals(original)).toBe(true);
    expect(server.requests.map((r) => r.authorization)).toEqual(["Bearer hf_secret"]);
    expect(cdn.requests.map((r) => [r.path, r.authorization])).toEqual([[`/files/${TINY}/${WEIGHTS}`, undefined]]);

    // the hash announced on the redirect is the one that counts
    server.overrideEtag("config.json", `"${"cd".repeat(32)}"`);
    await expect(source.open("config.json")).rejects.toThrow(/sha256 mismatch.*cdcd/);
  });

  it("ignores a CDN's own ETag after a cross-origin redirect, in both HTTP sources", async () => {
    server.hubRedirect = true;
    server.redirectOrigin = cdn.url;
    server.linkedHeaders = false;
    cdn.overrideEtag("config.json", `"${"ef".repeat(32)}"`);
    const config = await fixture("config.json");
    expect(Buffer.from(await (await hubSource()).open("config.json")).equals(config)).toBe(true);
    expect(Buffer.from(await resolveRemoteModelSource(HUB_ID, { endpoint: server.url }).open("config.json")).equals(config)).toBe(true);
    // the same ETag from the server that was asked is checked
    await expect(resolveRemoteModelSource(cdn.fileUrl(`${TINY}/`)).open("config.json")).rejects.toThrow(IntegrityError);
  });

  it("explains a 404 for something read as a repo id", async () => {
    const source = await resolveModelSource("nobody/nothing", { endpoint: server.url, cacheDir, baseDir: cacheDir });
    const error = await source.open("config.json").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelNotFoundError);
    expect(String(error)).toContain(`not found: ${server.url}/nobody/nothing/resolve/main/config.json`);
    expect(String(error)).toContain("read as a Hugging Face repo id");
  });
});

describe("download cache", () => {
  it("downloads into <cache>/models--org--name/<revision>/<file>, byte for byte, with monotone progress", async () => {
    const source = await hubSource();
    const original = await fixture(WEIGHTS);
    const events: ProgressEvent[] = [];
    const bytes = await source.open(WEIGHTS, { onProgress: (e) => events.push(e) });
    expect(Buffer.from(bytes).equals(original)).toBe(true);
    expectMonotone(events, original.length);
    const cached = join(cacheDir, "models--raincandy-u--TinyStories-656K", "main", WEIGHTS);
    expect(source.cachePath(WEIGHTS)).toBe(cached);
    expect((await readFile(cached)).equals(original)).toBe(true);
    expect(await readdir(dirname(cached))).toEqual([WEIGHTS]); // no .partial or .lock left behind
  });

  it("keeps plain URLs under <cache>/url/<hash>/<basename>", async () => {
    const source = (await resolveModelSource(server.fileUrl(`${TINY}/config.json`), { cacheDir })) as CachedHttpModelSource;
    const path = source.cachePath("config.json");
    expect(path).toMatch(new RegExp(`^${cacheDir}/url/[0-9a-f]{16}/config\\.json$`));
    await source.open("config.json");
    expect((await readFile(path)).equals(await fixture("config.json"))).toBe(true);
  });

  it("serves a cached file without any request, also to a new source and as a stream", async () => {
    const original = await fixture(WEIGHTS);
    await (await hubSource()).open(WEIGHTS);
    server.requests.length = 0;
    const again = await hubSource();
    expect(Buffer.from(await again.open(WEIGHTS)).equals(original)).toBe(true);
    const { stream, size } = await again.stream(WEIGHTS);
    expect(size).toBe(original.length);
    expect((await bytesOf(stream)).equals(original)).toBe(true);
    expect(await again.has(WEIGHTS)).toBe(true);
    expect(server.requests).toEqual([]);
  });

  it("resumes a broken download with a Range request from the bytes on disk", async () => {
    const original = await fixture(WEIGHTS);
    const source = await hubSource({ retries: 0 });
    server.cutNext(WEIGHTS, 1_000_000);
    await expect(source.open(WEIGHTS)).rejects.toThrow(/failed after 1 attempt.*next try resumes/);
    const cached = source.cachePath(WEIGHTS);
    expect(existsSync(cached)).toBe(false);
    const kept = (await readFile(partialPathFor(cached))).length;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(1_000_000);

    server.requests.length = 0;
    const events: ProgressEvent[] = [];
    expect(Buffer.from(await source.open(WEIGHTS, { onProgress: (e) => events.push(e) })).equals(original)).toBe(true);
    expect(fileRequests(WEIGHTS).map((r) => r.range)).toEqual([`bytes=${kept}-`]);
    expect(events[0].loaded).toBe(kept);
    expectMonotone(events, original.length);
    expect(existsSync(partialPathFor(cached))).toBe(false);
  });

  it("resumes within one call when retries are allowed", async () => {
    const original = await fixture(WEIGHTS);
    const source = await hubSource();
    server.cutNext(WEIGHTS, 700_000);
    const events: ProgressEvent[] = [];
    expect(Buffer.from(await source.open(WEIGHTS, { onProgress: (e) => events.push(e) })).equals(original)).toBe(true);
    const ranges = fileRequests(WEIGHTS).map((r) => r.range);
    expect(ranges).toHaveLength(2);
    expect(ranges[0]).toBeUndefined();
    expect(ranges[1]).toMatch(/^bytes=[1-9]\d*-$/);
    expectMonotone(events, original.length);
  });

  it("starts over when the server ignores Range", async () => {
    const original = await fixture(WEIGHTS);
    const source = await hubSource({ retries: 0 });
    server.cutNext(WEIGHTS, 500_000);
    await expect(source.open(WEIGHTS)).rejects.toThrow(ModelSourceError);
    server.ignoreRange = true;
    expect(Buffer.from(await source.open(WEIGHTS)).equals(original)).toBe(true);
  });

  it("finishes a partial that already holds every byte (416 at its size)", async () => {
    const original = await fixture(WEIGHTS);
    const source = await hubSource();
    const cached = source.cachePath(WEIGHTS);
    await mkdir(dirname(cached), { recursive: true });
    await writeFile(partialPathFor(cached), original);
    server.requests.length = 0;
    expect(Buffer.from(await source.open(WEIGHTS)).equals(original)).toBe(true);
    expect(fileRequests(WEIGHTS).map((r) => r.range)).toEqual([`bytes=${original.length}-`]);
  });

  it("discards a download whose sha256 does not match the server's ETag", async () => {
    const wrong = "0123456789abcdef".repeat(4);
    server.overrideEtag(WEIGHTS, `"${wrong}"`);
    const source = await hubSource();
    const url = source.fileUrl(WEIGHTS);
    const error = await source.open(WEIGHTS).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntegrityError);
    const message = String(error);
    expect(message).toContain(url);
    expect(message).toContain(wrong);
    expect(message).toContain(sha256(await fixture(WEIGHTS)));
    const cached = source.cachePath(WEIGHTS);
    expect(existsSync(cached)).toBe(false);
    expect(existsSync(partialPathFor(cached))).toBe(false);
  });

  it("checks a sha256 the caller passes", async () => {
    const source = await hubSource();
    await expect(source.open("config.json", { sha256: "f".repeat(64) })).rejects.toThrow(IntegrityError);
    expect(existsSync(source.cachePath("config.json"))).toBe(false);
    const config = await fixture("config.json");
    expect(Buffer.from(await source.open("config.json", { sha256: sha256(config).toUpperCase() })).equals(config)).toBe(true);
  });

  it("reports 404 as not found, and 401/403 as gated or private with a pointer to HF_TOKEN", async () => {
    const source = await hubSource();
    await expect(source.open("nope.json")).rejects.toThrow(`not found: ${server.url}/${HUB_ID}/resolve/main/nope.json`);
    expect(await source.has("nope.json")).toBe(false);
    for (const status of [401, 403]) {
      server.forceStatus("config.json", status);
      const error = await source.open("config.json").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelAccessError);
      expect(String(error)).toMatch(new RegExp(`HTTP ${status}.*gated or private.*HF_TOKEN`));
    }
    expect(existsSync(source.cachePath("config.json"))).toBe(false);
  });

  it("retries server errors, then gives up with the URL in the message", async () => {
    server.forceStatus("config.json", 503);
    const source = await hubSource({ retries: 2 });
    await expect(source.open("config.json")).rejects.toThrow(/failed after 3 attempt\(s\): HTTP 503.*config\.json/);
    expect(fileRequests("config.json")).toHaveLength(3);
  });

  it("stops on abort and leaves no file in place of the real one", async () => {
    const controller = new AbortController();
    const source = await hubSource();
    const open = source.open(WEIGHTS, {
      signal: controller.signal,
      onProgress: (e) => {
        if (e.loaded > 0) controller.abort(new Error("user cancelled"));
      },
    });
    await expect(open).rejects.toThrow("user cancelled");
    const cached = source.cachePath(WEIGHTS);
    expect(existsSync(cached)).toBe(false);
    expect(existsSync(lockPathFor(cached))).toBe(false);
  });

  it("shares one transfer between concurrent opens of the same file", async () => {
    const source = await hubSource();
    const [a, b] = await Promise.all([source.open(WEIGHTS), source.open(WEIGHTS)]);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(fileRequests(WEIGHTS)).toHaveLength(1);
  });

  it("waits for another process that holds the download lock, then uses its file", async () => {
    const original = await fixture(WEIGHTS);
    const source = await hubSource();
    const cached = source.cachePath(WEIGHTS);
    await mkdir(dirname(cached), { recursive: true });
    await writeFile(lockPathFor(cached), "12345\n");
    const open = source.open(WEIGHTS);
    await new Promise((done) => setTimeout(done, 400));
    expect(fileRequests(WEIGHTS)).toEqual([]);
    await writeFile(cached, original);
    await rm(lockPathFor(cached));
    expect(Buffer.from(await open).equals(original)).toBe(true);
    expect(fileRequests(WEIGHTS)).toEqual([]);
  });

  it("takes over a lock that nobody refreshed", async () => {
    const source = await hubSource();
    const cached = source.cachePath("config.json");
    await mkdir(dirname(cached), { recursive: true });
    await writeFile(lockPathFor(cached), "12345\n");
    const minuteAgo = new Date(Date.now() - 60_000);
    await utimes(lockPathFor(cached), minuteAgo, minuteAgo);
    expect(Buffer.from(await source.open("config.json")).equals(await fixture("config.json"))).toBe(true);
    expect(existsSync(lockPathFor(cached))).toBe(false);
  });

  it("defaults the cache to $EDGESPEC_CACHE", async () => {
    vi.stubEnv("EDGESPEC_CACHE", cacheDir);
    const source = (await resolveModelSource(HUB_ID, { endpoint: server.url })) as CachedHttpModelSource;
    expect(source.cacheDir).toBe(cacheDir);
  });
});

describe("terminal progress display", () => {
  function fakeOutput(isTTY: boolean) {
    const writes: string[] = [];
    return { writes, output: { isTTY, columns: 100, write: (text: string) => writes.push(text) } };
  }

  it("redraws one line on a terminal, throttled, and ends it with a newline", () => {
    const { writes, output } = fakeOutput(true);
    let clock = 0;
    const report = terminalProgress({ output, intervalMs: 100, now: () => clock });
    for (let loaded = 0; loaded <= 1000; loaded += 100) {
      report({ file: WEIGHTS, loaded, total: 1000, done: false });
      clock += 30;
    }
    report({ file: WEIGHTS, loaded: 1000, total: 1000, done: true });
    expect(writes.length).toBeGreaterThan(2);
    expect(writes.length).toBeLessThan(7);
    expect(writes.every((w) => w.startsWith("\r"))).toBe(true);
    expect(writes.at(-1)).toMatch(/model\.safetensors.*100%.*\n$/);
  });

  it("prints only a summary line per file when stderr is not a terminal", () => {
    const { writes, output } = fakeOutput(false);
    const report = terminalProgress({ output });
    report({ file: WEIGHTS, loaded: 10, total: 2_626_168, done: false });
    report({ file: WEIGHTS, loaded: 2_626_168, total: 2_626_168, done: true });
    expect(writes).toEqual([expect.stringMatching(/^model\.safetensors: 2\.6 MB in .* s\n$/)]);
  });
});

describe("browser safety", () => {
  it("the host-neutral entry point imports nothing from node:", async () => {
    const seen = new Set<string>();
    const visit = async (path: string): Promise<void> => {
      if (seen.has(path)) return;
      seen.add(path);
      const text = await readFile(path, "utf8");
      expect(text, path).not.toMatch(/from\s+"node:|import\("node:|\bprocess\.(?!env)/);
      for (const [, spec] of text.matchAll(/from\s+"(\.[^"]+)"/g)) await visit(join(dirname(path), `${spec}.ts`));
    };
    await visit(fileURLToPath(new URL("../src/sources/index.ts", import.meta.url)));
    expect(seen.size).toBeGreaterThan(5);
  });
});
