import { readFile, stat } from "node:fs/promises";
import { dirname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { loadCausalLM } from "@edgespec/models";
import { resolveModelSource } from "@edgespec/models/node";
import { createHandler } from "@edgespec/server";
import { defineConfig } from "vitest/config";

const here = dirname(fileURLToPath(import.meta.url));
const compatibilityDate = "2026-04-01";
const shared = resolve(process.env.EDGESPEC_FIXTURES ?? join(here, "..", "..", "..", "shared"));

/**
 * Stands in for the static-assets binding: serves ../shared/models/<path> from Node, as
 * Cloudflare serves a Worker's assets (GET and HEAD, Content-Length, 404 when missing).
 */
async function modelFiles(request: Request): Promise<Response> {
  const path = normalize(decodeURIComponent(new URL(request.url).pathname)).replace(/^(\.\.[/\\])+/, "");
  const file = join(shared, path);
  if (!file.startsWith(shared)) return new Response("forbidden", { status: 403 });
  try {
    const info = await stat(file);
    const headers = { "content-length": String(info.size), "content-type": "application/octet-stream" };
    if (request.method === "HEAD") return new Response(null, { headers });
    return new Response(await readFile(file), { headers });
  } catch {
    return new Response("not found", { status: 404 });
  }
}

/** The requests the tests send, answered first by the same API in Node: workerd must give the same bytes. */
export const CROSS_HOST_REQUESTS = [
  { prompt: "Once upon a time", max_tokens: 24, temperature: 0 },
  { prompt: "Once upon a time", max_tokens: 40, temperature: 1, seed: 7 },
  { prompt: "The little dog", max_tokens: 40, temperature: 0.7, top_p: 0.9, seed: 11, stop: ["."] },
];

async function nodeAnswers(): Promise<string[]> {
  const handler = createHandler({
    models: [{ id: "tinystories-656k", load: async () => loadCausalLM(await resolveModelSource(join(shared, "models", "tinystories-656k"))) }],
  });
  const out: string[] = [];
  for (const body of CROSS_HOST_REQUESTS) {
    const res = await handler(
      new Request("http://node/v1/completions", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
    );
    out.push((await res.json()).choices[0].text);
  }
  return out;
}

export default defineConfig(async () => ({
  plugins: [
    cloudflareTest({
      miniflare: {
        compatibilityDate,
        serviceBindings: { EDGE: "edgespec-worker" },
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
            bindings: { MODEL_PATH: "/models/tinystories-656k", MAX_CONCURRENT: "2", MAX_QUEUED: "0", MAX_TOKENS: "256" },
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
