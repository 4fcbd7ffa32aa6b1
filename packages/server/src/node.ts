/**
 * The handler on a Node http server (`edgespec serve`): requests become fetch Requests with
 * an AbortSignal that fires when the client disconnects, responses stream back as they are
 * produced (server-sent events flush per chunk).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { Readable } from "node:stream";
import type { Handler } from "./handler";

export interface ListenOptions {
  host?: string;
  port?: number;
}

export function serveNode(handler: Handler, opts: ListenOptions = {}): Promise<Server> {
  const server = createServer((req, res) => {
    void respond(handler, req, res);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 8787, opts.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

async function respond(handler: Handler, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const gone = new AbortController();
  // "close" on the response fires when the connection ends, finished or not
  res.on("close", () => {
    if (!res.writableFinished) gone.abort();
  });
  try {
    const url = `http://${req.headers.host ?? "127.0.0.1"}${req.url ?? "/"}`;
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const request = new Request(url, {
      method: req.method,
      headers: Object.entries(req.headers).flatMap(([k, v]) =>
        v === undefined ? [] : Array.isArray(v) ? v.map((x) => [k, x] as [string, string]) : [[k, v] as [string, string]],
      ),
      body: hasBody ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : undefined,
      signal: gone.signal,
      // @ts-expect-error Node's fetch needs duplex for a streamed request body
      duplex: "half",
    });
    const response = await handler(request);
    const headers: Record<string, string> = {};
    response.headers.forEach((v, k) => {
      headers[k] = v;
    });
    res.writeHead(response.status, headers);
    if (!response.body) {
      res.end();
      return;
    }
    const reader = response.body.getReader();
    gone.signal.addEventListener("abort", () => void reader.cancel().catch(() => {}), { once: true });
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) await new Promise((r) => res.once("drain", r));
    }
    res.end();
  } catch (e) {
    if (!res.headersSent) {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: `internal error: ${(e as Error).message}`, type: "server_error" } }));
    } else res.destroy();
  }
}
