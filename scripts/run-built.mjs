// Builds the workspace if needed (turbo caches, so this is quick once built), then runs a
// built script with the remaining arguments. Build output is shown only when the build
// fails, so `pnpm --silent edgespec generate ... --json` prints nothing but JSON.
// EDGESPEC_NO_BUILD=1 runs what is built as it is (the CLI tests, already inside a build).
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const [script, ...args] = process.argv.slice(2);
const turbo = join(root, "node_modules", ".bin", "turbo");
const skip = process.env.EDGESPEC_NO_BUILD === "1";
const build = skip
  ? { status: 0 }
  : spawnSync(turbo, ["run", "build", "--output-logs=errors-only"], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 64 << 20,
      env: { ...process.env, TURBO_TELEMETRY_DISABLED: "1", DO_NOT_TRACK: "1" },
    });
if (build.status !== 0) {
  process.stderr.write(build.stdout);
  process.stderr.write(build.stderr);
  console.error(`build failed (exit ${build.status}); see the output above`);
  process.exit(build.status ?? 1);
}
// node flags given to this script (e.g. --experimental-wasm-relaxed-simd) go to the child too
const run = spawnSync(process.execPath, [...process.execArgv, join(root, script), ...args], { cwd: root, stdio: "inherit" });
process.exit(run.status ?? 1);
