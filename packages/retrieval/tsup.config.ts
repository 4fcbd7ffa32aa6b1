import { defineConfig } from "tsup";
import { libraryBuild } from "../../scripts/tsup-library";

export default defineConfig(libraryBuild({ index: "src/index.ts" }));
