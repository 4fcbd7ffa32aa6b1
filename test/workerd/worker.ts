/**
 * A Worker that runs the conformance vectors and answers with the JSON report. It is
 * bundled like a deployment (esbuild, "workerd" export condition) and its .wasm imports are
 * loaded by workerd as CompiledWasm modules: the production path, byte for byte.
 * GET /webgpu-fallback answers what the WebGPU paths do here, where there is no navigator.gpu.
 */
import { createBackend, createOmpSolver, ropeFrequencies } from "@edgespec/runtime";
import { runConformance } from "../src/harness";
import { type FixtureFetcher, webgpuFallback } from "../src/webgpu-fallback";

export default {
  async fetch(req: Request, env: { FIXTURES: FixtureFetcher }): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname === "/webgpu-fallback") return Response.json(await webgpuFallback(env.FIXTURES));
    const simd = url.searchParams.get("simd") === "relaxed" ? "relaxed" : "baseline";
    const report = await runConformance({ createBackend, createOmp: createOmpSolver, ropeFrequencies } as never, "workerd", simd);
    return Response.json(report);
  },
};
