/**
 * A Worker that runs the conformance vectors and answers with the JSON report. It is
 * bundled like a deployment (esbuild, "workerd" export condition) and its .wasm imports are
 * loaded by workerd as CompiledWasm modules: the production path, byte for byte.
 */
import { createBackend, createOmpSolver, ropeFrequencies } from "@edgespec/runtime";
import { runConformance } from "../src/harness";

export default {
  async fetch(req: Request): Promise<Response> {
    const simd = new URL(req.url).searchParams.get("simd") === "relaxed" ? "relaxed" : "baseline";
    const report = await runConformance({ createBackend, createOmp: createOmpSolver, ropeFrequencies } as never, "workerd", simd);
    return Response.json(report);
  },
};
