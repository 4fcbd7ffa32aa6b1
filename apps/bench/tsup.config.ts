import { defineConfig } from "tsup";

export default defineConfig({
  entry: { kernels: "src/kernels.ts" },
  format: ["esm"],
  target: "node20",
  platform: "node",
  sourcemap: true,
  clean: true,
  // keep the runtime external so its kernel files resolve from its own package
  external: ["@edgespec/runtime"],
});
