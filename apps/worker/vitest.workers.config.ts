import { readFileSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { loadCausalLM } from "@edgespec/models";
import { resolveModelSource } from "@edgespec/models/node";
import { HybridIndex, loadDupMaeEncoder, loadSpladeEncoder, SparseIndex } from "@edgespec/retrieval";
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
/**
 * Random-weight SPLADE and DupMAE checkpoints (the retrieval package's fixtures, written from
 * their seeds; tokenizers linked from ../shared) and an index built from each in Node, under
 * /retrieval/: splade + index (SparseIndex), dupmae + index-dupmae (HybridIndex).
 */
const retrievalDir = await mkdtemp(join(tmpdir(), "edgespec-worker-retrieval-"));
process.once("exit", () => rmSync(retrievalDir, { recursive: true, force: true }));
const DOCS = ["The cat sat on the mat.", "Dogs like to run in the park.", "A small red boat sailed across the lake.", "Sparse retrieval reads like keywords."];
const PRUNE = { topK: 64, queryTopK: 16 };

async function writeIndexFolder(folder: string, bytes: Uint8Array, mode: "splade" | "dupmae", prune: Record<string, number>): Promise<void> {
  await mkdir(join(retrievalDir, folder), { recursive: true });
  await writeFile(join(retrievalDir, folder, "index.bin"), bytes);
  await writeFile(join(retrievalDir, folder, "docs.jsonl"), `${DOCS.map((text, id) => JSON.stringify({ id, text })).join("\n")}\n`);
  await writeFile(join(retrievalDir, folder, "meta.json"), JSON.stringify({ format: "edgespec-index-folder/1", mode, prune, documents: DOCS.length }));
}

/** DupMAE's index keeps the default 256 bag-of-words terms (what `edgespec index build --mode dupmae` does without --top-k). */
const DUPMAE_PRUNE = {};

async function buildRetrievalFixture(): Promise<void> {
  await writeEncoderFixture("dupmae-tiny", join(retrievalDir, "dupmae"));
  const dupmae = await loadDupMaeEncoder(await resolveModelSource(join(retrievalDir, "dupmae")));
  let hybrid: HybridIndex | undefined;
  for (const [id, text] of DOCS.entries()) {
    const v = dupmae.encode(text);
    hybrid ??= await HybridIndex.create({ vocab: dupmae.model.config.vocabSize, dim: v.dense.length });
    hybrid.add(id, { dense: v.dense, sparse: v.sparse });
  }
  await writeIndexFolder("index-dupmae", (hybrid as HybridIndex).save(), "dupmae", DUPMAE_PRUNE);
  dupmae.model.free();
  await writeEncoderFixture("splade-tiny", join(retrievalDir, "splade"));
  const enc = await loadSpladeEncoder(await resolveModelSource(join(retrievalDir, "splade")), { topK: PRUNE.topK, query: { topK: PRUNE.queryTopK } });
  const index = await SparseIndex.create();
  DOCS.forEach((text, id) => {
    index.add(id, enc.encodeDocument(text));
  });
  await writeIndexFolder("index", index.save(), "splade", PRUNE);
}

/** The files of a folder, recursively, as paths relative to it (a test copies them into R2). */
async function filesUnder(root: string, sub = ""): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(root, sub), { withFileTypes: true })) {
    const rel = sub ? `${sub}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await filesUnder(root, rel)));
    else out.push(rel);
  }
  return out.sort();
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

/** The DupMAE embeddings request workerd answers as Node does (the whole response). */
export const DUPMAE_REQUEST = { input: ["the cat", "a boat"], encoding: "dupmae" };

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
  /** the whole /v1/embeddings response for encoding "dupmae" */
  dupmae: unknown;
  /** /v1/search's hits on the DupMAE (hybrid) index */
  searchDupmae: unknown;
}

async function nodeAnswers(): Promise<NodeAnswers> {
  await buildRetrievalFixture();
  const splade = async () => loadSpladeEncoder(await resolveModelSource(join(retrievalDir, "splade")), { topK: PRUNE.topK, query: { topK: PRUNE.queryTopK } });
  const dupmae = async () => loadDupMaeEncoder(await resolveModelSource(join(retrievalDir, "dupmae")));
  const handler = createHandler({
    models: [{ id: "tinystories-656k", load: async () => loadCausalLM(await resolveModelSource(join(shared, "models", "tinystories-656k"))) }],
    retrieval: {
      splade,
      dupmae,
      search: async () => ({
        mode: "splade",
        index: await SparseIndex.load(new Uint8Array(await readFile(join(retrievalDir, "index", "index.bin")))),
        texts: new Map(DOCS.map((t, i) => [i, t])),
      }),
    },
  });
  // the DupMAE index as the CLI's `edgespec serve --index` serves it
  const dupmaeHandler = createHandler({
    models: [{ id: "unused", load: () => Promise.reject(new Error("no model")) }],
    retrieval: {
      dupmae,
      search: async () => ({
        mode: "dupmae",
        index: await HybridIndex.load(new Uint8Array(await readFile(join(retrievalDir, "index-dupmae", "index.bin")))),
        texts: new Map(DOCS.map((t, i) => [i, t])),
      }),
    },
  });
  const postTo = async (h: typeof handler, path: string, body: unknown) =>
    (await h(new Request(`http://node${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }))).json();
  const post = (path: string, body: unknown) => postTo(handler, path, body);
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
    dupmae: await post("/v1/embeddings", DUPMAE_REQUEST),
    searchDupmae: (await postTo(dupmaeHandler, "/v1/search", { query: "a cat on a mat", k: 3 })).data,
  };
}

/** the bucket the R2 Worker reads; the test runner binds it too and fills it */
const R2_BUCKET = "edgespec-worker-test-models";

export default defineConfig(async () => ({
  plugins: [
    cloudflareTest({
      miniflare: {
        compatibilityDate,
        serviceBindings: { EDGE: "edgespec-worker", QUEUED: "edgespec-queued", R2EDGE: "edgespec-r2", MODEL_FILES: modelFiles },
        r2Buckets: { WEIGHTS: R2_BUCKET },
        bindings: {
          CROSS_HOST: JSON.stringify({ requests: CROSS_HOST_REQUESTS, dupmaeRequest: DUPMAE_REQUEST, node: await nodeAnswers() }),
          // what the R2 test copies from MODEL_FILES into the bucket: the model, the DupMAE
          // checkpoint and its index (paths as MODEL_FILES serves them, and as R2 keys without the /)
          R2_FILES: JSON.stringify([
            ...(await filesUnder(join(shared, "models", "tinystories-656k"))).map((f) => `/models/tinystories-656k/${f}`),
            ...(await filesUnder(join(retrievalDir, "dupmae"))).map((f) => `/retrieval/dupmae/${f}`),
            ...(await filesUnder(join(retrievalDir, "index-dupmae"))).map((f) => `/retrieval/index-dupmae/${f}`),
          ]),
        },
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
              DUPMAE_PATH: "/retrieval/dupmae",
              INDEX_PATH: "/retrieval/index",
            },
          },
          // the same Worker with everything in an R2 bucket (WEIGHTS, no MODEL_FILES): the
          // model, and the DupMAE encoder with its hybrid index; the test fills the bucket
          {
            name: "edgespec-r2",
            modules: true,
            scriptPath: "dist/worker.js",
            modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
            compatibilityDate,
            r2Buckets: { WEIGHTS: R2_BUCKET },
            bindings: {
              MODEL_PATH: "models/tinystories-656k",
              MAX_TOKENS: "256",
              DUPMAE_PATH: "retrieval/dupmae",
              INDEX_PATH: "retrieval/index-dupmae",
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
