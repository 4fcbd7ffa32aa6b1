// `wrangler dev` serves the model folders of ./models as static assets (the MODEL_FILES
// binding). This links the shared fixture models there (symlinks, never copies: the weights
// stay out of the repository). EDGESPEC_FIXTURES overrides ../shared.
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const shared = resolve(process.env.EDGESPEC_FIXTURES ?? join(here, "..", "..", "..", "..", "shared"));
const from = join(shared, "models");
if (!existsSync(from)) {
  console.error(`link-models: ${from} is missing (set EDGESPEC_FIXTURES to the shared fixture folder)`);
  process.exit(1);
}
const to = join(here, "..", "models");
mkdirSync(to, { recursive: true });
for (const name of readdirSync(from)) {
  const link = join(to, name);
  rmSync(link, { force: true, recursive: false });
  symlinkSync(join(from, name), link, "dir");
  console.log(`models/${name} -> ${join(from, name)}`);
}
