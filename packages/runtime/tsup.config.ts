import { defineConfig } from "tsup";
import { libraryBuild } from "../../scripts/tsup-library";

export default defineConfig(
  libraryBuild(
    { index: "src/index.ts", workerd: "src/hosts/workerd.ts" },
    // .wasm imports stay imports: Workers bundlers turn them into compiled modules
    { external: [/\.wasm$/] },
  ),
);
