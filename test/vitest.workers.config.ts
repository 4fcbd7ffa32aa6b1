import { readFile } from "node:fs/promises";
import { dirname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

const compatibilityDate = "2026-04-01";
const here = dirname(fileURLToPath(import.meta.url));
const shared = resolve(process.env.EDGESPEC_FIXTURES ?? join(here, "..", "..", "shared"));

/** The shared fixture folder over a service binding (read in Node), for the WebGPU fallback check. */
async function fixtures(request: Request): Promise<Response> {
  const path = normalize(decodeURIComponent(new URL(request.url).pathname));
  const file = join(shared, path);
  if (!file.startsWith(`${shared}/`)) return new Response("forbidden", { status: 403 });
  try {
    return new Response(await readFile(file), { headers: { "content-type": "application/octet-stream" } });
  } catch {
    return new Response(`not found: ${file}`, { status: 404 });
  }
}

export default defineConfig({
  plugins: [
    cloudflareTest({
      miniflare: {
        compatibilityDate,
        serviceBindings: { CONFORMANCE: "edgespec-conformance" },
        // The Worker under test, built by `pnpm build` (tsup) into dist/worker.js with its
        // .wasm siblings. workerd compiles those at startup (CompiledWasm), as it does for a
        // deployed Worker; it cannot compile wasm bytes at run time.
        workers: [
          {
            name: "edgespec-conformance",
            modules: true,
            scriptPath: "dist/worker.js",
            modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
            compatibilityDate,
            serviceBindings: { FIXTURES: fixtures },
          },
        ],
      },
    }),
  ],
  test: {
    include: ["workerd/**/*.test.ts"],
    testTimeout: 120_000,
  },
});
