// Node WebGPU host: the `webgpu` package (Dawn) on whatever Vulkan driver VK_ICD_FILENAMES
// names (the orchestrator uses Chromium's SwiftShader ICD). Prints the WebGPU conformance
// report as JSON, then exits: Dawn's device threads can keep the process alive.
//   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json EDGESPEC_FIXTURES=../../shared node node-webgpu.mjs
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as runtime from "@edgespec/runtime";
import { runWebGPUConformance } from "./dist/webgpu.js";

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = resolve(process.env.EDGESPEC_FIXTURES ?? join(here, "..", "..", "shared"));
const only = process.argv[2];
const gpu = await runtime.nodeWebGPU();
const report = await runWebGPUConformance(
  {
    createBackend: runtime.createBackend,
    ropeFrequencies: runtime.ropeFrequencies,
    unavailableReason: runtime.webgpuUnavailableReason,
    gpu,
    readModelFile: async (f) => new Uint8Array(await readFile(join(fixtures, "models", "tinystories-656k", f))),
  },
  `node ${process.versions.node} (webgpu ${JSON.parse(await readFile(join(here, "node_modules", "webgpu", "package.json"), "utf8")).version})`,
  { only },
);
process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit(0));
