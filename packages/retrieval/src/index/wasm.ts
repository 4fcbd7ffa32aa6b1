/**
 * The Rust module (kernels/rust, packaged by @edgespec/runtime as edgespec-rs.wasm) for the
 * indexes. Every index gets its own instance: the module keeps one index in its globals and
 * its own allocator in its memory, and a dropped index frees all of it with the instance.
 * The compiled module is shared; on hosts that cannot compile at run time (Workers) pass it in.
 */
import { compileWasm, KernelLoadError, KernelTrapError, kernelFileUrl, OutOfRangeError, type WasmSource } from "@edgespec/runtime";

export interface IndexExports {
  memory: WebAssembly.Memory;
  ix_alloc(bytes: number): number;
  ix_free(ptr: number): void;
  sp_init(vocab: number): number;
  sp_detail(): number;
  sp_add(n: number, ext: number, off: number, terms: number, imps: number): number;
  sp_delete(ext: number): number;
  sp_contains(ext: number): number;
  sp_flush(): number;
  sp_optimize(): number;
  sp_search(terms: number, q: number, m: number, k: number, outId: number, outScore: number): number;
  sp_score(terms: number, q: number, m: number, ext: number, n: number, out: number): number;
  sp_stats(out: number): void;
  sp_segment_info(out: number): number;
  sp_load_begin(nDocs: number, nBlocks: number, payloadLen: number): number;
  sp_load_end(): number;
  dn_init(dim: number): number;
  dn_detail(): number;
  dn_add(n: number, ext: number, vecs: number): number;
  dn_contains(ext: number): number;
  dn_delete(ext: number): number;
  dn_search(q: number, k: number, outId: number, outScore: number): number;
  dn_score(q: number, ext: number, n: number, out: number): number;
  dn_compact(): number;
  dn_info(out: number): void;
  dn_load_begin(n: number): number;
  dn_load_end(n: number): number;
}

/** Status codes of the module (kernels/rust/src/sparse.rs, segment.rs). */
export const Status = {
  OK: 0,
  NOMEM: -1,
  ARGS: -2,
  DUPLICATE: -3,
  MISSING: -4,
  STATE: -5,
  TERM_COUNTS: -10,
  BLOCK_OFFSETS: -11,
  BLOCK_WIDTHS: -12,
  DOC_ORDER: -13,
  IMPACTS: -14,
  SKIP_DATA: -15,
  BLOCK_MAX: -16,
  DUPLICATE_ID: -17,
  RESERVED_ID: -18,
} as const;

let defaultModule: Promise<WebAssembly.Module> | undefined;

export async function instantiate(source: WasmSource | undefined): Promise<IndexExports> {
  let module: WebAssembly.Module;
  if (source === undefined) {
    defaultModule ??= compileWasm(kernelFileUrl("edgespec-rs.wasm"), "the Rust index module");
    try {
      module = await defaultModule;
    } catch (e) {
      defaultModule = undefined;
      throw e;
    }
  } else {
    module = await compileWasm(source, "the Rust index module");
  }
  let inst: WebAssembly.Instance;
  try {
    inst = await WebAssembly.instantiate(module, {});
  } catch (e) {
    throw new KernelLoadError(`could not instantiate the Rust index module: ${(e as Error).message}`);
  }
  const ex = inst.exports as unknown as IndexExports;
  for (const n of ["ix_alloc", "sp_search", "dn_search", "sp_load_end"] as const) {
    if (typeof ex[n] !== "function") throw new KernelLoadError(`the Rust module lacks "${n}"; rebuild kernels/rust and the runtime package`);
  }
  return ex;
}

/** Calls into one instance, with its allocations and typed views (always fresh: memory grows). */
export class Wasm {
  constructor(
    readonly ex: IndexExports,
    private readonly what: string,
  ) {}

  alloc(bytes: number): number {
    const p = this.ex.ix_alloc(Math.max(bytes, 1));
    if (p === 0) throw new OutOfRangeError(`${this.what}: out of wasm memory (asked for ${bytes} more bytes; wasm32 memory ends at 4 GiB)`);
    return p;
  }

  free(...ptrs: number[]): void {
    for (const p of ptrs) if (p) this.ex.ix_free(p);
  }

  u8(p: number, n: number): Uint8Array {
    return new Uint8Array(this.ex.memory.buffer, p, n);
  }

  u16(p: number, n: number): Uint16Array {
    return new Uint16Array(this.ex.memory.buffer, p, n);
  }

  u32(p: number, n: number): Uint32Array {
    return new Uint32Array(this.ex.memory.buffer, p, n);
  }

  f32(p: number, n: number): Float32Array {
    return new Float32Array(this.ex.memory.buffer, p, n);
  }

  f64(p: number, n: number): Float64Array {
    return new Float64Array(this.ex.memory.buffer, p, n);
  }

  /** Run a module call; a trap is a bug and is reported as one. */
  call<T>(name: string, f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) throw new KernelTrapError(`${this.what}: ${name} trapped (${e.message}); this is a bug, please report it`);
      throw e;
    }
  }

  /** Throw for the statuses every call shares. */
  check(status: number, name: string): number {
    if (status >= 0) return status;
    if (status === Status.NOMEM) throw new OutOfRangeError(`${this.what}: ${name}: out of wasm memory (wasm32 memory ends at 4 GiB)`);
    throw new KernelTrapError(`${this.what}: ${name} failed with status ${status}; this is a bug, please report it`);
  }
}
