import { copyFileSync, mkdirSync } from "node:fs";
import { defineConfig } from "tsup";

// kernels.ts is a script; the others are also imported by the CLI, with their types
const libraries = {
  decode: "src/decode.ts",
  peers: "src/peers.ts",
  spec: "src/spec.ts",
  transplant: "src/transplant.ts",
  retrieval: "src/retrieval.ts",
  load: "src/load.ts",
  webgpu: "src/webgpu.ts",
};

export default defineConfig({
  entry: { kernels: "src/kernels.ts", ...libraries },
  format: ["esm"],
  target: "node20",
  platform: "node",
  sourcemap: true,
  clean: true,
  dts: { entry: libraries },
  // keep workspace packages external so the runtime finds its kernel files in its own package
  external: [/^@edgespec\//, "webgpu"],
  // the wllama peer's child process (run by another Node binary) ships as plain .mjs files
  async onSuccess() {
    mkdirSync("dist/peers", { recursive: true });
    for (const f of ["wllama-child.mjs", "worker-shim.mjs"]) copyFileSync(`src/peers/${f}`, `dist/peers/${f}`);
  },
});
