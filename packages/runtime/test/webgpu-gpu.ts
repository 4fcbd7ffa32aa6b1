/**
 * A WebGPU entry point in Node: Dawn from the `webgpu` package on SwiftShader (Chromium's
 * Vulkan ICD; apt packages chromium and libvulkan1). A missing adapter is an error, never a
 * skip: CI installs both.
 */
import { existsSync } from "node:fs";
import { create, globals } from "webgpu";

export const SWIFTSHADER_ICD = "/usr/lib/chromium/vk_swiftshader_icd.json";

let gpu: GPU | undefined;

/** One Dawn instance per process (a second one in the same process can abort it). */
export function nodeGpu(): GPU {
  if (gpu) return gpu;
  if (!process.env.VK_ICD_FILENAMES) {
    if (!existsSync(SWIFTSHADER_ICD))
      throw new Error(`no Vulkan driver for the WebGPU tests: ${SWIFTSHADER_ICD} is missing (apt-get install chromium libvulkan1)`);
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  Object.assign(globalThis, globals);
  gpu = create([]) as GPU;
  return gpu;
}
