/// <reference types="@webgpu/types" />
/**
 * WebGPU for Node, which has none of its own: Dawn from the optional `webgpu` package,
 * imported only when asked for. Its globals (GPUBufferUsage, GPUMapMode, ...) are installed
 * because WebGPU code expects them. Keep the returned object referenced while its devices
 * live (WebGPUBackend does): Dawn frees its instance when that object is collected.
 */
import { BackendUnavailableError } from "../errors";

/** Dawn's entry point; `flags` are its own options (e.g. "backend=opengles"). */
export async function nodeWebGPU(flags: readonly string[] = []): Promise<GPU> {
  // a variable specifier: neither TypeScript nor a bundler must resolve this optional native package
  const name = "webgpu";
  let mod: { create(flags: string[]): GPU; globals: object };
  try {
    mod = await import(name);
  } catch (e) {
    throw new BackendUnavailableError(
      `Node has no WebGPU of its own and the optional \`webgpu\` package (Dawn) is not installed; install it with \`npm install webgpu\` (${(e as Error).message.split("\n")[0]})`,
    );
  }
  Object.assign(globalThis, mod.globals);
  return mod.create([...flags]);
}
