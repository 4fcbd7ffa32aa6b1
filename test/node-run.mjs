// Node host: prints the conformance report as JSON. The orchestrator also runs it with
// --experimental-wasm-relaxed-simd to cover the relaxed-SIMD build on Node 20.
import { createBackend, OmpSolver, ropeFrequencies } from "@edgespec/runtime";
import { runConformance } from "./dist/harness.js";

const simd = process.argv[2] === "relaxed" ? "relaxed" : "baseline";
const report = await runConformance({ createBackend, createOmp: () => OmpSolver.create(), ropeFrequencies }, `node ${process.versions.node}`, simd);
process.stdout.write(`${JSON.stringify(report)}\n`);
