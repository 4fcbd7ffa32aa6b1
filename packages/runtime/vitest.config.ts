import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    testTimeout: 120_000,
    projects: [
      // relaxed-q4 compares the two kernel builds, so it needs the relaxed one
      { extends: true, test: { name: "node", include: ["test/**/*.test.ts"], exclude: ["test/relaxed-q4.test.ts"] } },
      {
        // the same op suite again with relaxed SIMD switched on in V8 (Node 20 needs the flag)
        extends: true,
        test: {
          name: "node-relaxed-simd",
          include: ["test/ops.test.ts", "test/relaxed-q4.test.ts"],
          execArgv: ["--experimental-wasm-relaxed-simd"],
          env: { EDGESPEC_SIMD: "relaxed" },
        },
      },
    ],
  },
});
