// Builds the kernel modules: kernels.wasm (simd128, the baseline every host gets),
// kernels-relaxed.wasm (adds relaxed-SIMD FMA; loaded only where the host validates it),
// and their -mt twins, the same code over an imported *shared* memory, which the worker
// pool's threads instantiate side by side (a module declares its memory shared or not, so
// one file cannot serve both).
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
const shared = ["--sharedMemory", "--maximumMemory", "65535"];
for (const [name, features, extra] of [
  ["kernels", "simd", []],
  ["kernels-relaxed", "simd,relaxed-simd", []],
  ["kernels-mt", "simd,threads", shared],
  ["kernels-relaxed-mt", "simd,relaxed-simd,threads", shared],
]) {
  execFileSync(process.execPath, [asc, ...common, features, ...extra, "-o", `build/${name}.wasm`, "-t", `build/${name}.wat`], {
    cwd: here,
    stdio: "inherit",
  });
  const size = readFileSync(join(here, "build", `${name}.wasm`)).length;
  console.log(`built build/${name}.wasm (${size} bytes)`);
}
