/**
 * Where the packaged .wasm files live and how each host loads them.
 *
 * The build copies the kernels into <package>/kernels/. This file sits one folder below the
 * package root both as source (src/) and bundled (dist/), so the same relative URL finds
 * them from either. Node and Deno read the file; browsers fetch and compile it as it
 * streams. Cloudflare Workers cannot compile bytes at run time: their entry point
 * (hosts/workerd.ts) imports the modules at build time and passes them in.
 */
import { KernelLoadError } from "./errors";

export type KernelFile = "kernels.wasm" | "kernels-relaxed.wasm" | "kernels-mt.wasm" | "kernels-relaxed-mt.wasm" | "edgespec-rs.wasm";

/** Anything a .wasm module can come from. */
export type WasmSource = WebAssembly.Module | ArrayBuffer | ArrayBufferView | URL | string | Response | Promise<Response>;

export function kernelFileUrl(file: KernelFile): URL {
  return new URL(`../kernels/${file}`, import.meta.url);
}

declare const Deno: { readFile(path: URL | string): Promise<Uint8Array> } | undefined;

function hasDeno(): boolean {
  return typeof Deno !== "undefined" && typeof Deno?.readFile === "function";
}

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return !!p?.versions?.node && !hasDeno();
}

/** Compile a module from any source, with a message that says which source failed. */
export async function compileWasm(source: WasmSource, what: string): Promise<WebAssembly.Module> {
  try {
    if (source instanceof WebAssembly.Module) return source;
    if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return await WebAssembly.compile(source as BufferSource);
    if (typeof Response !== "undefined" && (source instanceof Response || source instanceof Promise)) return await compileResponse(source, what);
    const url = typeof source === "string" ? new URL(source, (globalThis as { location?: { href: string } }).location?.href) : (source as URL);
    return await compileUrl(url);
  } catch (e) {
    if (e instanceof KernelLoadError) throw e;
    throw new KernelLoadError(`could not load ${what}: ${(e as Error).message}`);
  }
}

async function compileUrl(url: URL): Promise<WebAssembly.Module> {
  if (url.protocol === "file:") {
    if (hasDeno()) return WebAssembly.compile((await (Deno as { readFile(p: URL): Promise<Uint8Array> }).readFile(url)) as BufferSource);
    if (isNode()) {
      // process.getBuiltinModule (Node >= 20.16) needs no import statement, so browser and
      // Worker bundlers never see node:fs
      const proc = (globalThis as { process?: { getBuiltinModule?(id: string): unknown } }).process;
      const fs = proc?.getBuiltinModule?.("node:fs") as { promises: { readFile(u: URL): Promise<Uint8Array> } } | undefined;
      if (!fs) throw new KernelLoadError("reading kernel files needs Node >= 20.16 (process.getBuiltinModule); or pass the module bytes");
      return WebAssembly.compile((await fs.promises.readFile(url)) as BufferSource);
    }
    throw new KernelLoadError(`cannot read ${url.href} on this host; pass the module or its bytes explicitly`);
  }
  return compileResponse(fetch(url), url.href);
}

async function compileResponse(res: Response | Promise<Response>, what: string): Promise<WebAssembly.Module> {
  const r = await res;
  if (!r.ok) throw new KernelLoadError(`could not fetch ${what}: HTTP ${r.status}`);
  if (typeof WebAssembly.compileStreaming === "function" && r.headers.get("content-type")?.startsWith("application/wasm")) {
    return WebAssembly.compileStreaming(r);
  }
  // servers that send another MIME type: compile from the bytes instead
  return WebAssembly.compile(await r.arrayBuffer());
}

/**
 * A one-function module `() -> v128` whose body is `ops` applied to `operands` zero
 * vectors: the smallest thing WebAssembly.validate can answer a feature question about.
 */
function probe(operands: number, ops: number[]): Uint8Array {
  const body = [0x00, ...Array.from({ length: operands }, () => [0xfd, 0x0c, ...new Array(16).fill(0)]).flat(), ...ops, 0x0b];
  const code = [0x01, body.length, ...body];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // magic, version 1
    ...[0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b], // type section: () -> v128
    ...[0x03, 0x02, 0x01, 0x00], // function section: one function of type 0
    ...[0x0a, code.length, ...code], // code section
  ]);
}

/** Hosts that validate f32x4.relaxed_madd run the relaxed-SIMD build when asked. */
export function hostSupportsRelaxedSimd(): boolean {
  return validates(probe(3, [0xfd, 0x85, 0x02]));
}

/** simd128 (f32x4.add) is the baseline edgespec needs. */
export function hostSupportsSimd(): boolean {
  return validates(probe(2, [0xfd, 0xe4, 0x01]));
}

function validates(bytes: Uint8Array): boolean {
  try {
    return WebAssembly.validate(bytes as BufferSource);
  } catch {
    return false;
  }
}
