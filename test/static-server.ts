/**
 * A minimal static file server for the browser runs, restricted to a few folders of the repo,
 * plus `mounts`: URL prefixes served from folders outside it (the shared model fixtures).
 */
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { extname, join, normalize, sep } from "node:path";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".map": "application/json",
};

export async function serve(root: string, allowed: string[], mounts: Record<string, string> = {}): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname)).replace(/^[/\\]+/, "");
    const mount = Object.keys(mounts).find((m) => path.startsWith(`${m}/`));
    if (path.split(sep).includes("..") || (!mount && !allowed.some((a) => path === a || path.startsWith(`${a}/`)))) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(mount ? join(mounts[mount], path.slice(mount.length + 1)) : join(root, path));
      res.writeHead(200, { "content-type": TYPES[extname(path)] ?? "application/octet-stream", "cache-control": "no-store" }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((ok) => server.close(() => ok())) };
}
