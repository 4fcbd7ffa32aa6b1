import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "tsup";

const here = dirname(fileURLToPath(import.meta.url));
const kernels = join(here, "..", "..", "packages", "runtime", "kernels");

// Bundled as wrangler would: everything inlined through the "workerd" export conditions, the
// kernels' .wasm files kept as sibling modules that workerd loads as CompiledWasm.
export default defineConfig({
  entry: { worker: "src/worker.ts" },
  format: ["esm"],
  target: "es2022",
  platform: "browser",
  clean: true,
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
});
