import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    testTimeout: 120_000,
    projects: [
      { extends: true, test: { name: "node", include: ["test/**/*.test.ts"] } },
      {
        // the same op suite again with relaxed SIMD switched on in V8 (Node 20 needs the flag)
        extends: true,
        test: {
          name: "node-relaxed-simd",
          include: ["test/ops.test.ts"],
          execArgv: ["--experimental-wasm-relaxed-simd"],
          env: { EDGESPEC_SIMD: "relaxed" },
        },
      },
    ],
  },
});
