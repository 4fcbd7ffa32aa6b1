// Deno WebGPU host: navigator.gpu (wgpu) on whatever Vulkan driver VK_ICD_FILENAMES names
// (the orchestrator uses Mesa's lavapipe, which has shader-f16). Prints the report as JSON.
//   VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json deno run --allow-read --allow-env test/deno/webgpu.js
import * as runtime from "@edgespec/runtime";
import { runWebGPUConformance } from "../dist/webgpu.js";

const fixtures = Deno.env.get("EDGESPEC_FIXTURES") ?? new URL("../../../shared", import.meta.url).pathname;
const report = await runWebGPUConformance(
  {
    createBackend: runtime.createBackend,
    ropeFrequencies: runtime.ropeFrequencies,
    unavailableReason: runtime.webgpuUnavailableReason,
    readModelFile: (f) => Deno.readFile(`${fixtures}/models/tinystories-656k/${f}`),
  },
  `deno ${Deno.version.deno}`,
  { only: Deno.args[0] },
);
console.log(JSON.stringify(report));
// wgpu's device can keep the event loop alive
Deno.exit(0);
