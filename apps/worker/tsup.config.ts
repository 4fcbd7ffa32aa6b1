import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "tsup";
import { workerdBundle } from "../../scripts/tsup-workerd";

export default defineConfig(workerdBundle({ worker: "src/worker.ts" }, join(dirname(fileURLToPath(import.meta.url)), "dist"), { clean: true }));
