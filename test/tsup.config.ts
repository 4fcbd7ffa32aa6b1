import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "tsup";

const here = dirname(fileURLToPath(import.meta.url));
const kernels = join(here, "..", "packages", "runtime", "kernels");

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
    // the workerd host, bundled as wrangler would: runtime inlined through its "workerd"
    // entry, .wasm files kept as sibling modules for workerd's CompiledWasm rule
    entry: { worker: "workerd/worker.ts" },
    format: ["esm"],
    target: "es2022",
    platform: "browser",
    clean: false,
    noExternal: [/.*/],
    esbuildOptions(o) {
      o.conditions = ["workerd", "worker", "browser", "import"];
    },
    esbuildPlugins: [
      {
        name: "wasm-sibling-modules",
        setup(build) {
          build.onResolve({ filter: /\.wasm$/ }, (a) => ({ path: `./${basename(a.path)}`, external: true }));
        },
      },
    ],
    async onSuccess() {
      mkdirSync(join(here, "dist"), { recursive: true });
      for (const f of readdirSync(kernels).filter((f) => f.endsWith(".wasm"))) copyFileSync(join(kernels, f), join(here, "dist", f));
    },
  },
]);
