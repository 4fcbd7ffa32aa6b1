// Builds the two kernel modules: kernels.wasm (simd128, the baseline every host gets)
// and kernels-relaxed.wasm (adds relaxed-SIMD FMA; loaded only where the host validates it).
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const asc = join(dirname(require.resolve("assemblyscript/package.json")), "bin", "asc.js");
mkdirSync(join(here, "build"), { recursive: true });

const common = ["assembly/index.ts", "-O3", "--noAssert", "--runtime", "stub", "--importMemory", "--initialMemory", "1", "--use", "abort=", "--enable"];
for (const [name, features] of [
  ["kernels", "simd"],
  ["kernels-relaxed", "simd,relaxed-simd"],
]) {
  execFileSync(process.execPath, [asc, ...common, features, "-o", `build/${name}.wasm`, "-t", `build/${name}.wat`], {
    cwd: here,
    stdio: "inherit",
  });
  const size = readFileSync(join(here, "build", `${name}.wasm`)).length;
  console.log(`built build/${name}.wasm (${size} bytes)`);
}
