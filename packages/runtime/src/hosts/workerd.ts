/**
 * Entry point for Cloudflare Workers (the package's "workerd" export condition).
 * Workers may only run wasm that was imported at build time, so the kernel modules are
 * imported here and handed to the backends; everything else is the normal API.
 * The relaxed-SIMD build is not imported by default, keeping results bit-identical with
 * the other hosts; pass `relaxedModule` (imported the same way) and `simd: "auto"` to use it.
 */
import { type Backend, createBackend as createAny, OmpSolver, type WasmBackendOptions } from "../index";
// The .wasm paths are relative to dist/ (this file is bundled to dist/workerd.js).
import rustModule from "../kernels/edgespec-rs.wasm";
import kernelsModule from "../kernels/kernels.wasm";

export * from "../index";

export async function createBackend(name: "wasm" | "reference" = "wasm", opts: WasmBackendOptions = {}): Promise<Backend> {
  return createAny(name, { module: kernelsModule, ...opts, simd: opts.simd ?? "baseline" });
}

export function createOmpSolver(): Promise<OmpSolver> {
  return OmpSolver.create(rustModule);
}

export { kernelsModule, rustModule };
