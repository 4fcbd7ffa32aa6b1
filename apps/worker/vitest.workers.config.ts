import { readFileSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { loadCausalLM } from "@edgespec/models";
import { resolveModelSource } from "@edgespec/models/node";
import { loadSpladeEncoder, SparseIndex } from "@edgespec/retrieval";
import { createHandler } from "@edgespec/server";
import { defineConfig } from "vitest/config";
import { writeEncoderFixture } from "../../packages/retrieval/test/fixtures/encoders";

const here = dirname(fileURLToPath(import.meta.url));
const compatibilityDate = "2026-04-01";
const shared = resolve(process.env.EDGESPEC_FIXTURES ?? join(here, "..", "..", "..", "shared"));

/**
 * Stands in for the static-assets binding: serves ../shared/models/<path> from Node, as
 * Cloudflare serves a Worker's assets (GET and HEAD, Content-Length, 404 when missing).
 */
/** A random-weight SPLADE checkpoint and an index built from it in Node, under /retrieval/. */
const retrievalDir = await mkdtemp(join(tmpdir(), "edgespec-worker-retrieval-"));
process.once("exit", () => rmSync(retrievalDir, { recursive: true, force: true }));
const DOCS = ["The cat sat on the mat.", "Dogs like to run in the park.", "A small red boat sailed across the lake.", "Sparse retrieval reads like keywords."];
const PRUNE = { topK: 64, queryTopK: 16 };

async function buildRetrievalFixture(): Promise<void> {
  await writeEncoderFixture("splade-tiny", join(retrievalDir, "splade"));
  const enc = await loadSpladeEncoder(await resolveModelSource(join(retrievalDir, "splade")), { topK: PRUNE.topK, query: { topK: PRUNE.queryTopK } });
  const index = await SparseIndex.create();
  DOCS.forEach((text, id) => {
    index.add(id, enc.encodeDocument(text));
  });
  await mkdir(join(retrievalDir, "index"), { recursive: true });
  await writeFile(join(retrievalDir, "index", "index.bin"), index.save());
  await writeFile(join(retrievalDir, "index", "docs.jsonl"), `${DOCS.map((text, id) => JSON.stringify({ id, text })).join("\n")}\n`);
  await writeFile(
    join(retrievalDir, "index", "meta.json"),
    JSON.stringify({ format: "edgespec-index-folder/1", mode: "splade", prune: PRUNE, documents: DOCS.length }),
  );
}

async function modelFiles(request: Request): Promise<Response> {
  const path = normalize(decodeURIComponent(new URL(request.url).pathname)).replace(/^(\.\.[/\\])+/, "");
  const inRetrieval = path.startsWith("/retrieval/");
  const root = inRetrieval ? retrievalDir : shared;
  const file = join(root, inRetrieval ? path.slice("/retrieval".length) : path);
  if (!file.startsWith(root)) return new Response("forbidden", { status: 403 });
  try {
    const info = await stat(file);
    const headers = { "content-length": String(info.size), "content-type": "application/octet-stream" };
    if (request.method === "HEAD") return new Response(null, { headers });
    return new Response(await readFile(file), { headers });
  } catch {
    return new Response("not found", { status: 404 });
  }
}

/** A case of apps/deno/cases.json, the cases every host must answer alike, in generate()'s names. */
interface Case {
  prompt: string;
  maxTokens: number;
  temperature: number;
  topP?: number;
  seed?: number;
  drafter?: string;
  draftBudget?: number;
}
const CASES = (JSON.parse(readFileSync(join(here, "..", "deno", "cases.json"), "utf8")) as { cases: Case[] }).cases;

/** The same case as an OpenAI request body with the API's drafter extension. */
function requestOf(c: Case): Record<string, unknown> {
  return {
    prompt: c.prompt,
    max_tokens: c.maxTokens,
    temperature: c.temperature,
    ...(c.topP === undefined ? {} : { top_p: c.topP }),
    ...(c.seed === undefined ? {} : { seed: c.seed }),
    ...(c.drafter === undefined ? {} : { drafter: c.drafter }),
    ...(c.draftBudget === undefined ? {} : { draft_budget: c.draftBudget }),
  };
}

/**
 * The requests the tests send, answered first by the same API in Node: workerd must give the
 * same bytes. The shared cases, then what only the HTTP API takes (stop strings).
 */
export const CROSS_HOST_REQUESTS: Record<string, unknown>[] = [
  ...CASES.map(requestOf),
  { prompt: "The little dog", max_tokens: 40, temperature: 0.7, top_p: 0.9, seed: 11, stop: ["."], drafter: "recycling" },
];

/** Each request without its drafter fields (null for requests that have none). */
function withoutDrafter(r: Record<string, unknown>): Record<string, unknown> | null {
  if (r.drafter === undefined) return null;
  const { drafter: _d, draft_budget: _b, ...rest } = r;
  return rest;
}

interface NodeAnswers {
  completions: string[];
  /** the same requests without their drafters, as answered in Node (null where there was none) */
  plain: (string | null)[];
  embeddings: unknown;
  search: unknown;
}

async function nodeAnswers(): Promise<NodeAnswers> {
  await buildRetrievalFixture();
  const splade = async () => loadSpladeEncoder(await resolveModelSource(join(retrievalDir, "splade")), { topK: PRUNE.topK, query: { topK: PRUNE.queryTopK } });
  const handler = createHandler({
    models: [{ id: "tinystories-656k", load: async () => loadCausalLM(await resolveModelSource(join(shared, "models", "tinystories-656k"))) }],
    retrieval: {
      splade,
      search: async () => ({
        mode: "splade",
        index: await SparseIndex.load(new Uint8Array(await readFile(join(retrievalDir, "index", "index.bin")))),
        texts: new Map(DOCS.map((t, i) => [i, t])),
      }),
    },
  });
  const post = async (path: string, body: unknown) =>
    (await handler(new Request(`http://node${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }))).json();
  const answer = async (body: Record<string, unknown>) => {
    const r = await post("/v1/completions", body);
    if (!r.choices) throw new Error(`Node answered ${JSON.stringify(body)} with ${JSON.stringify(r)}`);
    return r.choices[0].text as string;
  };
  const completions: string[] = [];
  const plain: (string | null)[] = [];
  for (const body of CROSS_HOST_REQUESTS) {
    completions.push(await answer(body));
    const bare = withoutDrafter(body);
    plain.push(bare ? await answer(bare) : null);
  }
  return {
    completions,
    plain,
    embeddings: (await post("/v1/embeddings", { input: ["the cat", "a boat"], encoding: "splade" })).data,
    search: (await post("/v1/search", { query: "a cat on a mat", k: 3 })).data,
  };
}

export default defineConfig(async () => ({
  plugins: [
    cloudflareTest({
      miniflare: {
        compatibilityDate,
        serviceBindings: { EDGE: "edgespec-worker", QUEUED: "edgespec-queued" },
        bindings: { CROSS_HOST: JSON.stringify({ requests: CROSS_HOST_REQUESTS, node: await nodeAnswers() }) },
        // the Worker under test, built by `pnpm build` into dist/worker.js with its .wasm
        // siblings, loaded as a deployment would be (CompiledWasm modules)
        workers: [
          {
            name: "edgespec-worker",
            modules: true,
            scriptPath: "dist/worker.js",
            modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
            compatibilityDate,
            serviceBindings: { MODEL_FILES: modelFiles },
            bindings: {
              MODEL_PATH: "/models/tinystories-656k",
              MAX_CONCURRENT: "2",
              MAX_QUEUED: "0",
              MAX_TOKENS: "256",
              SPLADE_PATH: "/retrieval/splade",
              INDEX_PATH: "/retrieval/index",
            },
          },
          // the same Worker with one generation at a time and a queue: requests wait on
          // promises other requests settle, which workerd must not take for a hang
          {
            name: "edgespec-queued",
            modules: true,
            scriptPath: "dist/worker.js",
            modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
            compatibilityDate,
            serviceBindings: { MODEL_FILES: modelFiles },
            bindings: { MODEL_PATH: "/models/tinystories-656k", MAX_CONCURRENT: "1", MAX_QUEUED: "32", MAX_TOKENS: "256" },
          },
        ],
      },
    }),
  ],
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
  },
}));
