/**
 * `edgespec serve`: the Worker's HTTP API (@edgespec/server) on a local Node server. The
 * model loads on the first request that needs it (or at start with --preload) and stays.
 */
import { loadCausalLM, WEIGHT_DTYPES, type WeightDType } from "@edgespec/models";
import { resolveModelSource, terminalProgress } from "@edgespec/models/node";
import { loadDupMaeEncoder, loadSpladeEncoder } from "@edgespec/retrieval";
import { createHandler, type RetrievalOptions } from "@edgespec/server";
import { serveNode } from "@edgespec/server/node";
import { openIndexFolder } from "./retrieval";
import { intOption, parseOptions, threadsOption, UsageError } from "./usage";

export async function serveCommand(argv: string[]): Promise<number> {
  const v = parseOptions(argv, {
    model: { type: "string" },
    tokenizer: { type: "string" },
    id: { type: "string" },
    dtype: { type: "string" },
    threads: { type: "string" },
    host: { type: "string" },
    port: { type: "string" },
    "max-tokens": { type: "string" },
    "max-concurrent": { type: "string" },
    "max-queued": { type: "string" },
    "max-body-bytes": { type: "string" },
    preload: { type: "boolean" },
    splade: { type: "string" },
    dupmae: { type: "string" },
    index: { type: "string" },
  }) as Record<string, string | boolean | undefined>;
  if (typeof v.model !== "string") throw new UsageError("serve needs --model");
  const modelRef = v.model;
  const dtype = v.dtype as WeightDType | undefined;
  if (dtype !== undefined && !WEIGHT_DTYPES.includes(dtype)) throw new UsageError(`--dtype must be one of ${WEIGHT_DTYPES.join(", ")}`);
  const threads = threadsOption(v.threads as string | undefined);
  const host = typeof v.host === "string" ? v.host : "127.0.0.1";
  const port = intOption("port", v.port as string | undefined, 8787, 0, 65535);
  const limits = {
    maxTokens: intOption("max-tokens", v["max-tokens"] as string | undefined, 512, 1, 1 << 20),
    maxConcurrent: intOption("max-concurrent", v["max-concurrent"] as string | undefined, 4, 1, 1024),
    maxQueued: intOption("max-queued", v["max-queued"] as string | undefined, 64, 0, 1 << 16),
    maxBodyBytes: intOption("max-body-bytes", v["max-body-bytes"] as string | undefined, 1 << 20, 1024, 1 << 30),
  };
  const id = typeof v.id === "string" ? v.id : (modelRef.split(/[\\/]/).filter(Boolean).pop() ?? modelRef);
  const onProgress = terminalProgress();
  const load = async () => {
    const source = await resolveModelSource(modelRef, { onProgress });
    const tok = typeof v.tokenizer === "string" ? await resolveModelSource(v.tokenizer, { onProgress }) : undefined;
    if (tok && !tok.entry) throw new UsageError("--tokenizer must name a file");
    const loaded = await loadCausalLM(source, { dtype, threads, onProgress, tokenizer: tok ? { source: tok, file: tok.entry as string } : undefined });
    return { model: loaded.model, tokenizer: loaded.tokenizer };
  };
  let preloaded: ReturnType<typeof load> | undefined;
  if (v.preload) {
    preloaded = load();
    await preloaded;
  }
  const handler = createHandler({ models: [{ id, load: () => preloaded ?? load() }], limits, retrieval: retrievalOptions(v) });
  const server = await serveNode(handler, { host, port });
  const address = server.address();
  const where = typeof address === "object" && address ? `http://${address.address}:${address.port}` : `http://${host}:${port}`;
  process.stderr.write(`edgespec serve: ${id} on ${where} (POST /v1/completions, /v1/chat/completions; GET /v1/models, /healthz); Ctrl-C stops\n`);
  await new Promise<void>((resolve) => {
    const stop = () => server.close(() => resolve());
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  return 0;
}

/**
 * /v1/embeddings and /v1/search: --splade / --dupmae name encoder folders; --index an
 * `edgespec index build` folder, whose encoder (and pruning) it brings unless given.
 */
function retrievalOptions(v: Record<string, string | boolean | undefined>): RetrievalOptions {
  const index = typeof v.index === "string" ? v.index : undefined;
  const opened = index ? openIndexFolder(index) : undefined;
  const spladeRef = typeof v.splade === "string" ? v.splade : undefined;
  const dupmaeRef = typeof v.dupmae === "string" ? v.dupmae : undefined;
  return {
    splade:
      spladeRef || opened?.meta.mode === "splade"
        ? async () => (await openedEncoder(opened, "splade", spladeRef)) as Awaited<ReturnType<typeof loadSpladeEncoder>>
        : undefined,
    dupmae:
      dupmaeRef || opened?.meta.mode === "dupmae"
        ? async () => (await openedEncoder(opened, "dupmae", dupmaeRef)) as Awaited<ReturnType<typeof loadDupMaeEncoder>>
        : undefined,
    search: opened ? async () => opened.load() : undefined,
  };
}

async function openedEncoder(opened: ReturnType<typeof openIndexFolder> | undefined, mode: "splade" | "dupmae", ref: string | undefined) {
  if (opened && opened.meta.mode === mode) return opened.encoder(ref);
  const source = await resolveModelSource(ref as string);
  return mode === "splade" ? loadSpladeEncoder(source) : loadDupMaeEncoder(source);
}
