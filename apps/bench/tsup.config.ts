import { defineConfig } from "tsup";

export default defineConfig({
  entry: {
    kernels: "src/kernels.ts",
    decode: "src/decode.ts",
    spec: "src/spec.ts",
    transplant: "src/transplant.ts",
    retrieval: "src/retrieval.ts",
    load: "src/load.ts",
  },
  format: ["esm"],
  target: "node20",
  platform: "node",
  sourcemap: true,
  clean: true,
  dts: { entry: { decode: "src/decode.ts", spec: "src/spec.ts", transplant: "src/transplant.ts", retrieval: "src/retrieval.ts", load: "src/load.ts" } },
  // keep workspace packages external so the runtime finds its kernel files in its own package
  external: [/^@edgespec\//],
});
