/**
 * The edgespec HTTP API as one fetch-style handler, `(Request) => Promise<Response>`, so the
 * same code serves a Cloudflare Worker, `edgespec serve` (Node) and Deno:
 *   GET  /healthz              liveness, loaded models, running generations, wasm memory
 *   GET  /v1/models            the models offered
 *   POST /v1/completions       OpenAI-compatible text completion (SSE with stream: true)
 *   POST /v1/chat/completions  OpenAI-compatible chat completion (the model's chat template)
 *   POST /v1/embeddings        SPLADE / DupMAE vectors ({indices, values} sparse parts)
 *   POST /v1/search            exact top k of the server's index
 * Every error is JSON with a 4xx/5xx status; CORS is open so browser pages can call it.
 */
import { completions } from "./completions";
import { errorResponse, HttpError } from "./errors";
import { ConcurrencyGate, DEFAULT_LIMITS, type Limits, readJsonBody } from "./limits";
import { type MemoryEntry, type MemoryHolder, type MemoryPart, memoryReport, snapshot } from "./memory";
import { type ModelEntry, ModelRegistry } from "./registry";
import { embeddings, once, type RetrievalOptions, search } from "./retrieval";

export interface ServerOptions {
  models: readonly ModelEntry[];
  limits?: Partial<Limits>;
  /** encoders for /v1/embeddings and the index for /v1/search (both optional) */
  retrieval?: RetrievalOptions;
  /**
   * More wasm memories for /healthz beside the loaded models' backends (which are found by
   * themselves): encoders' backends, an index. Called on every /healthz.
   */
  memory?: () => Iterable<MemoryEntry>;
}

/**
 * What a host offers beyond the request. Workers pass their ExecutionContext: a request whose
 * client went away is otherwise abandoned mid-generation (no finally runs, its slot would
 * leak); under waitUntil the generation runs to its next token, sees the closed stream and
 * ends cleanly.
 */
export interface HostContext {
  waitUntil?(promise: Promise<unknown>): void;
}

export type Handler = (req: Request, host?: HostContext) => Promise<Response>;

const CORS = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, POST, OPTIONS",
  "access-control-allow-headers": "content-type, authorization",
};

/** The backend as a memory holder when it is a wasm one (the reference backend has no memory). */
function wasmHolder(backend: unknown): MemoryHolder | undefined {
  const b = backend as Partial<MemoryHolder> | undefined;
  return b && typeof b.memory?.buffer?.byteLength === "number" ? (b as MemoryHolder) : undefined;
}

export function createHandler(opts: ServerOptions): Handler {
  const limits: Limits = { ...DEFAULT_LIMITS, ...opts.limits };
  // each model's memory the moment its load finished: the peak the load reached
  const atLoad = new Map<string, MemoryPart>();
  const registry = new ModelRegistry(
    opts.models.map((e) => ({
      id: e.id,
      load: async () => {
        const served = await e.load();
        const holder = wasmHolder(served.model.backend);
        if (holder) atLoad.set(e.id, snapshot(holder));
        return served;
      },
    })),
  );
  const gate = new ConcurrencyGate(limits.maxConcurrent, limits.maxQueued);
  const ctx = { registry, limits, acquire: (signal?: AbortSignal) => gate.acquire(signal), headers: CORS };
  const r = opts.retrieval ?? {};
  const retrieval: RetrievalOptions = {
    ...r,
    splade: r.splade && once(r.splade, "the SPLADE encoder"),
    dupmae: r.dupmae && once(r.dupmae, "the DupMAE encoder"),
    search: r.search && once(r.search, "the search index"),
  };
  const routes: Record<string, Partial<Record<"GET" | "POST", (req: Request, host?: HostContext) => Promise<Response>>>> = {
    "/healthz": {
      GET: async () =>
        Response.json(
          {
            status: "ok",
            models: registry.entries.map((e) => ({ id: e.id, loaded: registry.isLoaded(e.id) })),
            active_generations: gate.active,
            queued_generations: gate.queued,
            memory: memoryReport([
              ...registry.loadedModels().map(([id, m]): MemoryEntry => [`model:${id}`, wasmHolder(m.model.backend), atLoad.get(id)]),
              ...(opts.memory?.() ?? []),
            ]),
          },
          { headers: CORS },
        ),
    },
    "/v1/models": {
      GET: async () =>
        Response.json(
          { object: "list", data: registry.entries.map((e) => ({ id: e.id, object: "model", created: 0, owned_by: "edgespec" })) },
          { headers: CORS },
        ),
    },
    "/v1/completions": { POST: async (req, host) => completions(await readJsonBody(req, limits.maxBodyBytes), false, { ...ctx, host }, req.signal) },
    "/v1/chat/completions": { POST: async (req, host) => completions(await readJsonBody(req, limits.maxBodyBytes), true, { ...ctx, host }, req.signal) },
    "/v1/embeddings": { POST: async (req) => embeddings(await readJsonBody(req, limits.maxBodyBytes), retrieval, CORS) },
    "/v1/search": { POST: async (req) => search(await readJsonBody(req, limits.maxBodyBytes), retrieval, CORS) },
  };
  return async (req, host) => {
    try {
      const path = new URL(req.url).pathname.replace(/\/+$/, "") || "/";
      const route = routes[path];
      if (!route) throw new HttpError(404, `no route ${path}; the routes are ${Object.keys(routes).join(", ")}`, "invalid_request_error", null, "not_found");
      if (req.method === "OPTIONS") return new Response(null, { status: 204, headers: CORS });
      const run = route[req.method as "GET" | "POST"];
      if (!run) {
        return errorResponse(new HttpError(405, `${req.method} is not allowed on ${path}; use ${Object.keys(route).join(" or ")}`), {
          ...CORS,
          allow: Object.keys(route).join(", "),
        });
      }
      return await run(req, host);
    } catch (e) {
      if (e instanceof HttpError) return errorResponse(e, CORS);
      return errorResponse(new HttpError(500, `internal error: ${(e as Error)?.message ?? String(e)}`), CORS);
    }
  };
}
