import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

const compatibilityDate = "2026-04-01";

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
