// Which WebGPU adapters Dawn finds here (default and high-performance), as JSON on stdout.
import { create, globals } from "webgpu";

Object.assign(globalThis, globals);
// Dawn's own options, space-separated, as bench webgpu takes them (e.g. "backend=opengles")
const flags = (process.env.EDGESPEC_DAWN_FLAGS ?? "").split(" ").filter(Boolean);
const gpu = create(flags);
// the Vulkan driver Dawn was pointed at (webgpu-check.sh sets these; no turbo task reads them)
const env = { ...process.env };
const out = { dawn_flags: flags, vk_icd_filenames: env.VK_ICD_FILENAMES ?? null, vk_driver_files: env.VK_DRIVER_FILES ?? null, adapters: {} };
for (const powerPreference of [undefined, "high-performance", "low-power"]) {
  try {
    const a = await gpu.requestAdapter(powerPreference ? { powerPreference } : undefined);
    out.adapters[powerPreference ?? "default"] = a
      ? {
          vendor: a.info.vendor,
          architecture: a.info.architecture,
          device: a.info.device,
          description: a.info.description,
          isFallbackAdapter: a.isFallbackAdapter ?? a.info.isFallbackAdapter ?? null,
          features: [...a.features].sort(),
          maxStorageBufferBindingSize: a.limits.maxStorageBufferBindingSize,
          maxBufferSize: a.limits.maxBufferSize,
          maxComputeWorkgroupStorageSize: a.limits.maxComputeWorkgroupStorageSize,
          maxComputeInvocationsPerWorkgroup: a.limits.maxComputeInvocationsPerWorkgroup,
        }
      : null;
  } catch (e) {
    out.adapters[powerPreference ?? "default"] = { error: String(e?.message ?? e) };
  }
}
process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(0));
