// Deno host: runs the conformance vectors and prints the report as JSON on stdout.
//   deno run --allow-read --allow-env test/deno/run.js [baseline|relaxed]
// @edgespec/runtime resolves through the workspace's node_modules (Deno's package.json support).
import { createBackend, OmpSolver, ropeFrequencies } from "@edgespec/runtime";
import { runConformance } from "../dist/harness.js";

const simd = Deno.args[0] === "relaxed" ? "relaxed" : "baseline";
const report = await runConformance({ createBackend, createOmp: () => OmpSolver.create(), ropeFrequencies }, `deno ${Deno.version.deno}`, simd);
console.log(JSON.stringify(report));
