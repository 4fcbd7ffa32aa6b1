/**
 * --backend auto|wasm|webgpu. Node has no navigator.gpu: WebGPU comes from the optional `webgpu`
 * package (Dawn), imported only when asked for, so the CLI runs without it.
 */
import type { BackendChoice, LlamaModel, LoadOptions } from "@edgespec/models";
import { BackendUnavailableError, nodeWebGPU } from "@edgespec/runtime";
import { UsageError } from "./usage";

const BACKENDS = ["auto", "wasm", "webgpu"] as const;

/** navigator.gpu's type, as the models package declares it (the CLI does not depend on the WebGPU types itself) */
type Gpu = NonNullable<LoadOptions["gpu"]>;

/** LoadOptions for --backend (none when it is not given: the loader's default, wasm). */
export async function backendOptions(flag: string | undefined): Promise<Pick<LoadOptions, "backend" | "gpu">> {
  if (flag === undefined) return {};
  if (!(BACKENDS as readonly string[]).includes(flag)) throw new UsageError(`--backend must be one of ${BACKENDS.join(", ")}, got ${JSON.stringify(flag)}`);
  const backend = flag as (typeof BACKENDS)[number];
  if (backend === "wasm") return { backend };
  const gpu = await nodeGpu();
  if (typeof gpu === "string") {
    if (backend === "webgpu") throw new BackendUnavailableError(`--backend webgpu: ${gpu}`);
    // "auto" goes on without a GPU: the loader records the reason and picks wasm
    return { backend };
  }
  return { backend, gpu };
}

/** A WebGPU entry point from the `webgpu` package, or why there is none. */
async function nodeGpu(): Promise<Gpu | string> {
  try {
    return (await nodeWebGPU()) as Gpu;
  } catch (e) {
    if (e instanceof BackendUnavailableError) return e.message;
    throw e;
  }
}

/** One line for --stats: which backend ran and why. */
export function backendLine(choice: BackendChoice): string {
  const ms = (name: string, v: number | undefined) => (v === undefined ? "" : `, ${name} ${v.toFixed(2)} ms/step`);
  return `[backend ${choice.backend}: ${choice.reason}${ms("wasm", choice.wasmMs)}${ms("webgpu", choice.webgpuMs)}]\n`;
}

/** A WebGPU device can keep Node running: destroy it when the command is done. */
export function releaseBackend(model: LlamaModel): void {
  (model.backend as { destroy?: () => void }).destroy?.();
}
