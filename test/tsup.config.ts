import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "tsup";
import { workerdBundle } from "../scripts/tsup-workerd";

const here = dirname(fileURLToPath(import.meta.url));

export default defineConfig([
  {
    // the vectors, shared by every host; the runtime stays an import
    entry: { harness: "src/harness.ts" },
    format: ["esm"],
    target: "es2022",
    platform: "neutral",
    clean: false,
    external: ["@edgespec/runtime"],
  },
  {
    // the WebGPU suite (Node, Deno, Chromium): the model loader is bundled in, the runtime stays
    // an import so the host's createBackend and the loader share one runtime
    entry: { webgpu: "src/webgpu.ts" },
    format: ["esm"],
    target: "es2022",
    platform: "browser",
    clean: false,
    external: ["@edgespec/runtime"],
    noExternal: [/^@huggingface\//],
  },
  // the workerd host, bundled as wrangler would (runtime inlined through its "workerd" entry)
  workerdBundle({ worker: "workerd/worker.ts" }, join(here, "dist"), { clean: false }),
]);
