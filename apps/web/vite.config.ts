import { createReadStream, existsSync, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { dirname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vite";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "../..");
/** Shared test data (real weights), read in place: $EDGESPEC_FIXTURES, default ../shared beside the repo. */
export const fixturesDir = resolve(repoRoot, process.env.EDGESPEC_FIXTURES ?? "../shared");
export const modelsDir = join(fixturesDir, "models");
/** A SPLADE checkpoint folder for the retrieval demo, served at /splade/ when set (the e2e test writes a random-weight one). */
export const spladeDir = process.env.EDGESPEC_SPLADE_DIR ? resolve(process.env.EDGESPEC_SPLADE_DIR) : undefined;

const TYPES: Record<string, string> = {
  ".json": "application/json",
  ".safetensors": "application/octet-stream",
  ".bin": "application/octet-stream",
  ".gguf": "application/octet-stream",
  ".txt": "text/plain; charset=utf-8",
};

/**
 * Serves the folder `root` at `prefix` (GET and HEAD with byte ranges, read-only), so the page
 * can load model folders over HTTP without copying them into the repository or the build.
 * Without a root every request under `prefix` is answered 404.
 */
export function servedFolder(prefix: string, root: string | undefined, name: string): Plugin {
  const handler = (req: IncomingMessage, res: ServerResponse, next: () => void) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (!url.pathname.startsWith(prefix)) return next();
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.statusCode = 405;
      res.setHeader("Allow", "GET, HEAD");
      return res.end();
    }
    if (!root) {
      res.statusCode = 404;
      return res.end(`nothing is served at ${prefix} (set the folder's environment variable)`);
    }
    const rel = decodeURIComponent(url.pathname.slice(prefix.length));
    const file = resolve(root, rel);
    if (!(file + sep).startsWith(root + sep) || file === root || !existsSync(file) || !statSync(file).isFile()) {
      res.statusCode = 404;
      return res.end("not found");
    }
    const size = statSync(file).size;
    const ext = file.slice(file.lastIndexOf("."));
    res.setHeader("Content-Type", TYPES[ext] ?? "application/octet-stream");
    res.setHeader("Accept-Ranges", "bytes");
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    let start = 0;
    let end = size - 1;
    if (range) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start > end || start >= size) {
        res.statusCode = 416;
        res.setHeader("Content-Range", `bytes */${size}`);
        return res.end();
      }
      res.statusCode = 206;
      res.setHeader("Content-Range", `bytes ${start}-${end}/${size}`);
    }
    res.setHeader("Content-Length", String(end - start + 1));
    if (req.method === "HEAD" || size === 0) return res.end();
    createReadStream(file, { start, end }).pipe(res);
  };
  return {
    name,
    configureServer(server) {
      server.middlewares.use(handler);
    },
    configurePreviewServer(server) {
      server.middlewares.use(handler);
    },
  };
}

/** $EDGESPEC_FIXTURES/models at /models/. */
export function sharedModels(root = modelsDir): Plugin {
  return servedFolder("/models/", root, "edgespec-shared-models");
}

/** $EDGESPEC_SPLADE_DIR at /splade/ (404 when unset). */
export function spladeModel(root = spladeDir): Plugin {
  return servedFolder("/splade/", root, "edgespec-splade-model");
}

/** Cross-origin isolation: SharedArrayBuffer, and with it the kernels' worker threads. */
const isolation = { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" };

export default defineConfig({
  plugins: [sharedModels(), spladeModel()],
  // the runtime finds its kernels by new URL("../kernels/x.wasm", import.meta.url): keep the
  // @edgespec packages out of pre-bundling so that URL stays next to the package's files
  optimizeDeps: {
    exclude: ["@edgespec/runtime", "@edgespec/models", "@edgespec/decoding", "@edgespec/drafters", "@edgespec/retrieval"],
    include: ["@edgespec/models > @huggingface/jinja", "@edgespec/models > @huggingface/tokenizers"],
  },
  server: { fs: { allow: [repoRoot, fixturesDir] }, headers: isolation },
  preview: { headers: isolation },
  build: { target: "es2022" },
  worker: { format: "es" },
});
