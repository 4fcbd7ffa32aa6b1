/**
 * The edgespec Cloudflare Worker: the OpenAI-compatible API of @edgespec/server over one
 * model whose files come from the static assets (or any Fetcher binding) or an R2 bucket.
 * The model loads on the first request that needs it and stays cached in the isolate; the
 * kernels' .wasm files are imported as modules (through @edgespec/runtime's "workerd"
 * entry), the only way Workers run wasm. GET /healthz reports the wasm memory of the model, the
 * SPLADE and DupMAE encoders and the index (each memory starts at 1 MiB and grows to what is loaded).
 *
 * Configuration (wrangler.toml [vars] and bindings):
 *   MODEL_FILES   Fetcher binding holding the model folder (e.g. the ASSETS binding), or
 *   WEIGHTS       R2 bucket binding holding it
 *   MODEL_PATH    folder of the model in MODEL_FILES / key prefix in WEIGHTS (default /models/tinystories-656k)
 *   MODEL_ID      the name clients send as "model" (default: the folder name)
 *   MODEL_DTYPE   f32 | f16 | q8_0 | q4_0: quantize on load to fit 128 MB (default: as stored)
 *   MAX_TOKENS, MAX_CONCURRENT, MAX_QUEUED, MAX_BODY_BYTES   request limits (defaults 512, 4, 64, 1 MiB)
 *   SPLADE_PATH   a SPLADE checkpoint folder in the same binding: POST /v1/embeddings
 *                 with encoding "splade" (the default)
 *   DUPMAE_PATH   a DupMAE checkpoint folder (BertForMaskedLM, optional sentence-transformers
 *                 Dense projection) in the same binding: POST /v1/embeddings with encoding "dupmae"
 *   INDEX_PATH    an `edgespec index build` folder (meta.json, index.bin, docs.jsonl) made with
 *                 one of those encoders: POST /v1/search, queries pruned as the index says
 */
import { loadCausalLM, type ModelSource, WEIGHT_DTYPES, type WeightDType } from "@edgespec/models";
import { type DupMaeEncoder, HybridIndex, loadDupMaeEncoder, loadSpladeEncoder, SparseIndex, type SpladeEncoder } from "@edgespec/retrieval";
import { createBackend, type WasmBackend } from "@edgespec/runtime";
import { rustModule } from "@edgespec/runtime/workerd";
import { createHandler, type Handler, type MemoryEntry, type RetrievalOptions, type SearchCorpus, snapshot } from "@edgespec/server";
import { type FetcherLike, FetcherModelSource, type R2BucketLike, R2ModelSource } from "./sources";

export interface Env {
  MODEL_FILES?: FetcherLike;
  WEIGHTS?: R2BucketLike;
  MODEL_PATH?: string;
  MODEL_ID?: string;
  MODEL_DTYPE?: string;
  MAX_TOKENS?: string;
  MAX_CONCURRENT?: string;
  MAX_QUEUED?: string;
  MAX_BODY_BYTES?: string;
  SPLADE_PATH?: string;
  DUPMAE_PATH?: string;
  INDEX_PATH?: string;
}

let handler: Handler | undefined;
let configError: string | undefined;
/** wasm memories beside the model's (the server finds that one itself), for /healthz */
const memories = new Map<string, MemoryEntry>();

/**
 * Where each wasm memory starts. The runtime's default (16 MiB) spares Node a few grow calls;
 * in a 128 MB isolate that floor would be charged to every backend however small its model
 * (TinyStories-656K needs 3 MB), so the memories start small and grow to what is loaded.
 */
const INITIAL_WASM_BYTES = 1 << 20;
const wasmBackend = async () => (await createBackend("wasm", { initialMemoryBytes: INITIAL_WASM_BYTES })) as WasmBackend;

function setup(env: Env): Handler {
  const path = env.MODEL_PATH ?? "/models/tinystories-656k";
  const id = env.MODEL_ID ?? path.split("/").filter(Boolean).pop() ?? "model";
  const dtype = env.MODEL_DTYPE as WeightDType | undefined;
  if (dtype !== undefined && !WEIGHT_DTYPES.includes(dtype))
    throw new Error(`MODEL_DTYPE must be one of ${WEIGHT_DTYPES.join(", ")}, got ${JSON.stringify(dtype)}`);
  const sourceAt = (folder: string): ModelSource => {
    if (env.MODEL_FILES) return new FetcherModelSource(env.MODEL_FILES, folder);
    if (env.WEIGHTS) return new R2ModelSource(env.WEIGHTS, folder);
    throw new Error("bind the model files: a Fetcher binding MODEL_FILES (e.g. static assets) or an R2 bucket WEIGHTS");
  };
  const source = sourceAt(path);
  const int = (name: keyof Env, fallback: number, min = 1) => {
    const v = env[name];
    if (v === undefined) return fallback;
    const n = Number(v);
    if (typeof v !== "string" || !Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    return n;
  };
  return createHandler({
    models: [
      {
        id,
        load: async () => {
          const loaded = await loadCausalLM(source, { backend: await wasmBackend(), dtype });
          return { model: loaded.model, tokenizer: loaded.tokenizer };
        },
      },
    ],
    retrieval: retrievalFrom(env, sourceAt),
    memory: () => memories.values(),
    limits: {
      maxTokens: int("MAX_TOKENS", 512),
      maxConcurrent: int("MAX_CONCURRENT", 4),
      maxQueued: int("MAX_QUEUED", 64, 0),
      maxBodyBytes: int("MAX_BODY_BYTES", 1 << 20),
    },
  });
}

interface IndexMeta {
  mode: string;
  prune?: { topK?: number; queryTopK?: number };
}

/**
 * The encoders and the index, each loaded on first use into its own wasm memory (reported by
 * /healthz) and kept for the isolate's life (the server loads each once). An encoder's pruning
 * comes from the index when the index was built with it (meta.json's mode and prune).
 */
function retrievalFrom(env: Env, sourceAt: (folder: string) => ModelSource): RetrievalOptions {
  const index = env.INDEX_PATH ? sourceAt(env.INDEX_PATH) : undefined;
  // read on first use, so a missing file is a request's 503, not a failed isolate
  let metaRead: Promise<IndexMeta | undefined> | undefined;
  const meta = () =>
    (metaRead ??= index
      ? index.open("meta.json").then(
          (b) => JSON.parse(new TextDecoder().decode(b)) as IndexMeta,
          (e: unknown) => {
            metaRead = undefined;
            throw e;
          },
        )
      : Promise.resolve(undefined));
  /** the index's pruning when it was built with this encoder */
  const pruneFor = async (mode: "splade" | "dupmae") => {
    const m = await meta();
    return m?.mode === mode ? (m.prune ?? {}) : {};
  };
  const encoder = <T>(name: "splade" | "dupmae", path: string | undefined, load: (source: ModelSource, backend: WasmBackend) => Promise<T>) =>
    path
      ? async (): Promise<T> => {
          const backend = await wasmBackend();
          memories.set(name, [name, backend]);
          const loaded = await load(sourceAt(path), backend);
          memories.set(name, [name, backend, snapshot(backend)]);
          return loaded;
        }
      : undefined;
  const splade = encoder("splade", env.SPLADE_PATH, async (source, backend): Promise<SpladeEncoder> => {
    const prune = await pruneFor("splade");
    return loadSpladeEncoder(source, { backend, topK: prune.topK, query: prune.queryTopK === undefined ? undefined : { topK: prune.queryTopK } });
  });
  const dupmae = encoder("dupmae", env.DUPMAE_PATH, async (source, backend): Promise<DupMaeEncoder> => {
    const prune = await pruneFor("dupmae");
    return loadDupMaeEncoder(source, { backend, topK: prune.topK });
  });
  const search = index
    ? async (): Promise<SearchCorpus> => {
        const m = await meta();
        const mode = m?.mode;
        if (mode !== "splade" && mode !== "dupmae") throw new Error(`INDEX_PATH holds a ${mode} index; this Worker serves splade and dupmae indexes`);
        const path = mode === "splade" ? "SPLADE_PATH" : "DUPMAE_PATH";
        if (!env[path]) throw new Error(`INDEX_PATH holds a ${mode} index, which needs its encoder in ${path}`);
        const texts = new Map<number, string>();
        for (const line of new TextDecoder().decode(await index.open("docs.jsonl")).split("\n")) {
          if (!line) continue;
          const d = JSON.parse(line) as { id: number; text: string };
          texts.set(d.id, d.text);
        }
        // Workers run only imported wasm: the index instantiates the module the runtime imported
        const bytes = await index.open("index.bin");
        if (mode === "splade") {
          const loaded = await SparseIndex.load(bytes, { wasm: rustModule });
          memories.set("index", ["index", loaded, snapshot(loaded)]);
          return { mode, index: loaded, texts };
        }
        // a hybrid index is a sparse and a dense index, each in its own instance of the module
        const loaded = await HybridIndex.load(bytes, { wasm: rustModule });
        memories.set("index", ["index", loaded.sparse, snapshot(loaded.sparse)]);
        memories.set("index:dense", ["index:dense", loaded.dense, snapshot(loaded.dense)]);
        return { mode, index: loaded, texts };
      }
    : undefined;
  return { splade, dupmae, search };
}

export default {
  async fetch(req: Request, env: Env, ctx: { waitUntil(p: Promise<unknown>): void }): Promise<Response> {
    if (!handler && !configError) {
      try {
        handler = setup(env);
      } catch (e) {
        configError = (e as Error).message;
      }
    }
    if (!handler) return Response.json({ error: { message: `the Worker is misconfigured: ${configError}`, type: "server_error" } }, { status: 500 });
    return handler(req, ctx);
  },
};
