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

export type KernelFile = "kernels.wasm" | "kernels-relaxed.wasm" | "edgespec-rs.wasm";

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
 * A tiny module whose one function uses f32x4.relaxed_madd. Hosts that validate it
 * run relaxed-SIMD code; the rest get the simd128 build.
 */
const RELAXED_PROBE = new Uint8Array([
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00,
  0x01,
  0x05,
  0x01,
  0x60,
  0x00,
  0x01,
  0x7b,
  0x03,
  0x02,
  0x01,
  0x00,
  0x0a,
  0x3d,
  0x01,
  0x3b,
  0x00,
  ...vconst(),
  ...vconst(),
  ...vconst(),
  0xfd,
  0x85,
  0x02,
  0x0b,
]);

function vconst(): number[] {
  return [0xfd, 0x0c, ...new Array(16).fill(0)];
}

export function hostSupportsRelaxedSimd(): boolean {
  try {
    return WebAssembly.validate(RELAXED_PROBE);
  } catch {
    return false;
  }
}

export function hostSupportsSimd(): boolean {
  try {
    // same module with a plain f32x4.add (0xfd 0xe4 0x01) instead of relaxed_madd; drop one operand
    const bytes = new Uint8Array([
      0x00,
      0x61,
      0x73,
      0x6d,
      0x01,
      0x00,
      0x00,
      0x00,
      0x01,
      0x05,
      0x01,
      0x60,
      0x00,
      0x01,
      0x7b,
      0x03,
      0x02,
      0x01,
      0x00,
      0x0a,
      0x2b,
      0x01,
      0x29,
      0x00,
      ...vconst(),
      ...vconst(),
      0xfd,
      0xe4,
      0x01,
      0x0b,
    ]);
    return WebAssembly.validate(bytes);
  } catch {
    return false;
  }
}
