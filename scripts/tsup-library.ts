/**
 * tsup options every published @edgespec package builds with: ESM + CJS + .d.ts, sourcemaps,
 * ES2022, and import.meta.url shimmed in the CJS build (kernel and fixture file URLs).
 */
import type { Options } from "tsup";

export function libraryBuild(entry: Record<string, string>, extra: Options = {}): Options {
  return { entry, format: ["esm", "cjs"], dts: true, sourcemap: true, clean: true, shims: true, target: "es2022", ...extra };
}
