export {
  type AttentionMask,
  type AttentionOptions,
  Backend,
  type BackendName,
  type MatmulWeightDType,
  type RopeOptions,
  type RopeStyle,
  type SharedMatmul,
  type TensorData,
  type TensorOptions,
  type TopK,
} from "./backend";
export { byteSize, DTYPES, type DType, dtypeInfo, isDType, isQuantized, numel, QK } from "./dtype";
export * from "./errors";
export { f16ArrayToF32, f16ToF32, f32ArrayToF16, f32ToF16 } from "./half";
export { compileWasm, hostSupportsRelaxedSimd, hostSupportsSimd, type KernelFile, kernelFileUrl, type WasmSource } from "./kernel-files";
export { ompReference } from "./omp/reference";
export { type OmpOptions, type OmpResult, OmpSolver } from "./omp/solver";
export { splitmix32 } from "./random";
export { ReferenceBackend } from "./reference/backend";
export { type RopeFrequencies, type RopeScaling, ropeFrequencies } from "./rope-freq";
export { type Layout, Tensor } from "./tensor";
export { type ArenaStats, TensorArena } from "./wasm/arena";
export { type SimdVariant, WasmBackend, type WasmBackendOptions } from "./wasm/backend";
export type { KernelExports } from "./wasm/kernels";
export { type WebGPUAdapterSummary, WebGPUBackend, type WebGPUBackendOptions, WebGPUError, webgpuUnavailableReason } from "./webgpu/backend";
export { nodeWebGPU } from "./webgpu/node-gpu";

import type { Backend } from "./backend";
import { ReferenceBackend } from "./reference/backend";
import { WasmBackend, type WasmBackendOptions } from "./wasm/backend";
import { WebGPUBackend, type WebGPUBackendOptions } from "./webgpu/backend";

/**
 * The wasm backend (fast on CPUs), the reference backend (plain TypeScript ground truth) or
 * the WebGPU backend (BackendUnavailableError where the host has no WebGPU adapter).
 */
export async function createBackend(name: "wasm" | "reference" | "webgpu" = "wasm", opts: WasmBackendOptions & WebGPUBackendOptions = {}): Promise<Backend> {
  if (name === "reference") return new ReferenceBackend();
  if (name === "wasm") return WasmBackend.create(opts);
  if (name === "webgpu") return WebGPUBackend.create(opts);
  throw new TypeError(`unknown backend ${JSON.stringify(name)}; expected "wasm", "reference" or "webgpu"`);
}
