// Copies the built .wasm files of kernels/as and kernels/rust into ./kernels, where the
// runtime's loader finds them (see src/kernel-files.ts).
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const root = join(here, "..", "..");
const files = [
  ["kernels/as/build/kernels.wasm", "kernels.wasm"],
  ["kernels/as/build/kernels-relaxed.wasm", "kernels-relaxed.wasm"],
  ["kernels/as/build/kernels-mt.wasm", "kernels-mt.wasm"],
  ["kernels/as/build/kernels-relaxed-mt.wasm", "kernels-relaxed-mt.wasm"],
  ["kernels/rust/build/edgespec-rs.wasm", "edgespec-rs.wasm"],
];
mkdirSync(join(here, "kernels"), { recursive: true });
for (const [from, to] of files) {
  const src = join(root, from);
  if (!existsSync(src)) {
    console.error(`runtime: ${from} is missing; build the kernels first (pnpm build)`);
    process.exit(1);
  }
  copyFileSync(src, join(here, "kernels", to));
}
console.log(`runtime: copied ${files.length} kernel modules`);
