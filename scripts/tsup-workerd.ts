/**
 * tsup options that bundle a Worker as wrangler would: everything inlined through the
 * "workerd" export conditions, and the runtime's .wasm kernels kept as sibling modules (copied
 * next to the bundle) that workerd loads as CompiledWasm. Used by the Worker app and the
 * conformance Worker.
 */
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Options } from "tsup";

const kernels = join(dirname(fileURLToPath(import.meta.url)), "..", "packages", "runtime", "kernels");

export function workerdBundle(entry: Record<string, string>, outDir: string, extra: Options = {}): Options {
  return {
    entry,
    format: ["esm"],
    target: "es2022",
    platform: "browser",
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
      mkdirSync(outDir, { recursive: true });
      for (const f of readdirSync(kernels).filter((f) => f.endsWith(".wasm"))) copyFileSync(join(kernels, f), join(outDir, f));
    },
    ...extra,
  };
}
