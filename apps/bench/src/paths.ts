/** Where the benchmarks find the repository and the shared fixture models. */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** the repository root (this file is bundled to apps/bench/dist/) */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

/** A path in ../shared (or $EDGESPEC_FIXTURES); an error naming the benchmark when it is missing. */
export function fixtures(bench: string, ...parts: string[]): string {
  const p = join(resolve(process.env.EDGESPEC_FIXTURES ?? join(repoRoot, "..", "shared")), ...parts);
  if (!existsSync(p)) throw new Error(`bench ${bench} needs ${p} (set EDGESPEC_FIXTURES to the shared fixture folder)`);
  return p;
}
