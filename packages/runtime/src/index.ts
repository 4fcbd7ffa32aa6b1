export {
  Backend,
  type AttentionMask,
  type AttentionOptions,
  type BackendName,
  type MatmulWeightDType,
  type RopeOptions,
  type RopeStyle,
  type TensorData,
  type TopK,
} from "./backend";
export { type DType, DTYPES, QK, byteSize, dtypeInfo, isDType, isQuantized, numel } from "./dtype";
export * from "./errors";
export { f16ToF32, f32ToF16, f16ArrayToF32, f32ArrayToF16 } from "./half";
export { type KernelFile, type WasmSource, compileWasm, hostSupportsRelaxedSimd, hostSupportsSimd, kernelFileUrl } from "./kernel-files";
export { OmpSolver, type OmpOptions, type OmpResult } from "./omp/solver";
export { ompReference } from "./omp/reference";
export { ReferenceBackend } from "./reference/backend";
export { type RopeFrequencies, type RopeScaling, ropeFrequencies } from "./rope-freq";
export { Tensor, type Layout } from "./tensor";
export { type ArenaStats, TensorArena } from "./wasm/arena";
export { type SimdVariant, WasmBackend, type WasmBackendOptions } from "./wasm/backend";
export type { KernelExports } from "./wasm/kernels";

import type { Backend } from "./backend";
import { ReferenceBackend } from "./reference/backend";
import { WasmBackend, type WasmBackendOptions } from "./wasm/backend";

/** The wasm backend (fast) or the reference backend (plain TypeScript ground truth). */
export async function createBackend(name: "wasm" | "reference" = "wasm", opts: WasmBackendOptions = {}): Promise<Backend> {
  if (name === "reference") return new ReferenceBackend();
  if (name === "wasm") return WasmBackend.create(opts);
  throw new TypeError(`unknown backend ${JSON.stringify(name)}; expected "wasm" or "reference"`);
}
