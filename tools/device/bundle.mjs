// Bundles `edgespec bench webgpu` (apps/bench/dist/webgpu.js and everything it imports, the
// `webgpu` package excepted) into one ESM file for the GPU machine, which has no node_modules.
//   node tools/device/bundle.mjs <out.mjs>
// The runtime finds its kernels at ../kernels/ beside the bundle (prepare.sh copies them there).
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
// esbuild comes with tsup (a root devDependency)
const esbuild = createRequire(createRequire(join(root, "package.json")).resolve("tsup"))("esbuild");
const outfile = process.argv[2];
const entry = process.argv[3] ?? "bench-entry.mjs";
if (!outfile) throw new Error("usage: node tools/device/bundle.mjs <out.mjs> [entry in tools/device, default bench-entry.mjs]");
await esbuild.build({
  entryPoints: [join(here, entry)],
  outfile,
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external: ["webgpu"],
  // CommonJS dependencies bundled into ESM may call require()
  banner: { js: 'import { createRequire as __cr } from "node:module"; const require = __cr(import.meta.url);' },
  logLevel: "warning",
});
