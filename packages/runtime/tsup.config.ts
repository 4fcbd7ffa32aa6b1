import { defineConfig } from "tsup";

export default defineConfig({
  entry: { index: "src/index.ts", workerd: "src/hosts/workerd.ts" },
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  // import.meta.url in the CJS build (kernel file URLs)
  shims: true,
  target: "es2022",
  // .wasm imports stay imports: Workers bundlers turn them into compiled modules
  external: [/\.wasm$/],
});
