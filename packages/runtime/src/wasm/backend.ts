/**
 * The wasm backend: tensors live in one WebAssembly.Memory shared by the AssemblyScript
 * kernels and the JS arena; each op is one kernel call on validated offsets.
 */
import { type AttentionMask, Backend, type BackendName, type RopeStyle, type TopK } from "../backend";
import { type DType, isQuantized } from "../dtype";
import { KernelLoadError, KernelTrapError, OutOfRangeError } from "../errors";
import { compileWasm, hostSupportsRelaxedSimd, hostSupportsSimd, kernelFileUrl, type WasmSource } from "../kernel-files";
import { type Layout, Tensor } from "../tensor";
import { type ArenaStats, TensorArena } from "./arena";
import { KERNEL_NAMES, type KernelExports } from "./kernels";

export type SimdVariant = "baseline" | "relaxed";

export interface WasmBackendOptions {
  /**
   * "baseline" (default): the simd128 build, bit-identical on every host.
   * "auto": the relaxed-SIMD build where the host validates it, else baseline.
   * "relaxed": require the relaxed-SIMD build (KernelLoadError where unsupported).
   */
  simd?: "baseline" | "relaxed" | "auto";
  /** where the simd128 kernels come from (default: the packaged kernels.wasm) */
  module?: WasmSource;
  /** where the relaxed-SIMD kernels come from (default: the packaged kernels-relaxed.wasm) */
  relaxedModule?: WasmSource;
  /** fence every allocation with guard bytes; checkCanaries() verifies them */
  canaries?: boolean;
  /** initial wasm memory (default 16 MiB) */
  initialMemoryBytes?: number;
  /** most the memory may grow to (default 4 GiB - 64 KiB, the wasm32 limit) */
  maximumMemoryBytes?: number;
  /** store 2-D q8_0/q4_0 tensors with rows % 4 == 0 in the faster x4 layout (default true) */
  packWeights?: boolean;
}

const PAGE = 65536;
const MAX_PAGES = 65535;

interface Ptr {
  ptr: number;
}

export class WasmBackend extends Backend {
  readonly name: BackendName = "wasm";
  readonly arena: TensorArena;
  readonly packWeights: boolean;

  private constructor(
    readonly memory: WebAssembly.Memory,
    /** raw kernel exports, for benchmarks and advanced use; prefer the checked ops */
    readonly kernels: KernelExports,
    readonly variant: SimdVariant,
    opts: WasmBackendOptions,
  ) {
    super();
    this.arena = new TensorArena(memory, kernels.heap_base(), { canaries: opts.canaries });
    this.packWeights = opts.packWeights ?? true;
  }

  static async create(opts: WasmBackendOptions = {}): Promise<WasmBackend> {
    if (!hostSupportsSimd()) throw new KernelLoadError("this host has no WebAssembly SIMD (simd128); edgespec needs it");
    const want = opts.simd ?? "baseline";
    if (!["baseline", "relaxed", "auto"].includes(want)) throw new KernelLoadError(`simd must be "baseline", "relaxed" or "auto", got ${JSON.stringify(want)}`);
    const relaxedOk = hostSupportsRelaxedSimd();
    if (want === "relaxed" && !relaxedOk) throw new KernelLoadError("relaxed SIMD was requested but this host does not support it");
    const variant: SimdVariant = want === "baseline" ? "baseline" : relaxedOk ? "relaxed" : "baseline";
    const source = variant === "relaxed" ? (opts.relaxedModule ?? kernelFileUrl("kernels-relaxed.wasm")) : (opts.module ?? kernelFileUrl("kernels.wasm"));
    const module = await compileWasm(source, `the ${variant} kernels`);
    const initial = pages(opts.initialMemoryBytes ?? 16 << 20);
    const maximum = Math.min(MAX_PAGES, pages(opts.maximumMemoryBytes ?? MAX_PAGES * PAGE));
    if (initial > maximum) throw new OutOfRangeError(`initialMemoryBytes exceeds maximumMemoryBytes`);
    let memory: WebAssembly.Memory;
    try {
      memory = new WebAssembly.Memory({ initial, maximum });
    } catch (e) {
      throw new KernelLoadError(`could not create ${initial * PAGE} bytes of wasm memory: ${(e as Error).message}`);
    }
    let instance: WebAssembly.Instance;
    try {
      instance = await WebAssembly.instantiate(module, { env: { memory } });
    } catch (e) {
      throw new KernelLoadError(`could not instantiate the ${variant} kernels: ${(e as Error).message}`);
    }
    const ex = instance.exports as unknown as KernelExports;
    for (const n of KERNEL_NAMES) {
      if (typeof ex[n] !== "function") throw new KernelLoadError(`the kernels module lacks "${n}": it is not edgespec's kernels.wasm or is outdated`);
    }
    return new WasmBackend(memory, ex, variant, opts);
  }

  /** Verify the guard bytes around every live allocation (needs { canaries: true }). */
  checkCanaries(): void {
    this.arena.check();
  }

  memoryStats(): ArenaStats {
    return this.arena.stats();
  }

  /** The x4 (fast matmul) copy of a 2-D q8_0/q4_0 tensor in "rows" layout, or the tensor itself. */
  pack(t: Tensor): Tensor {
    this.own(t, "pack");
    if (t.layout === "x4" || !this.canPack(t.dtype, t.shape)) return t;
    const out = new Tensor(this, t.dtype, t.shape, t.byteLength, this.arena.alloc(t.byteLength), "x4");
    this.run("pack", () => this.kernels.pack_x4(ptr(t), ptr(out), t.shape[0], t.shape[1] / 32, t.dtype === "q8_0" ? 34 : 18));
    return out;
  }

  // ------------------------------------------------------------------ storage

  protected override preferredLayout(dtype: DType, shape: readonly number[]): Layout {
    return this.packWeights && this.canPack(dtype, shape) ? "x4" : "rows";
  }

  private canPack(dtype: DType, shape: readonly number[]): boolean {
    return isQuantized(dtype) && shape.length === 2 && shape[0] % 4 === 0 && shape[0] > 0;
  }

  protected overlaps(a: Tensor, b: Tensor): boolean {
    const pa = ptr(a);
    const pb = ptr(b);
    return pa < pb + b.byteLength && pb < pa + a.byteLength && a.byteLength > 0 && b.byteLength > 0;
  }

  protected addressOf(t: Tensor): number {
    return ptr(t);
  }

  protected kCreate(dtype: DType, shape: number[], bytes: number, data: Uint8Array | undefined, layout: Layout): Tensor {
    const p = this.arena.alloc(bytes);
    const t = new Tensor(this, dtype, shape, bytes, p, layout);
    if (data) this.kWrite(t, data);
    else this.arena.bytes.fill(0, p, p + bytes);
    return t;
  }

  protected kView(parent: Tensor, byteOffset: number, dtype: DType, shape: number[], bytes: number): Tensor {
    return new Tensor(this, dtype, shape, bytes, ptr(parent) + byteOffset, "rows", parent.parent ?? parent);
  }

  protected kRead(t: Tensor): Uint8Array {
    if (t.layout === "x4")
      return this.withScratch(t.byteLength, (tmp) => {
        this.unpackTo(t, tmp);
        return this.arena.bytes.slice(tmp, tmp + t.byteLength);
      });
    return this.arena.bytes.slice(ptr(t), ptr(t) + t.byteLength);
  }

  protected kWrite(t: Tensor, data: Uint8Array): void {
    if (t.layout === "x4") {
      this.withScratch(t.byteLength, (tmp) => {
        this.arena.bytes.set(data, tmp);
        this.run("pack", () => this.kernels.pack_x4(tmp, ptr(t), t.shape[0], t.shape[1] / 32, t.dtype === "q8_0" ? 34 : 18));
      });
      return;
    }
    this.arena.bytes.set(data, ptr(t));
  }

  protected kCopy(dst: Tensor, src: Tensor): void {
    this.arena.bytes.copyWithin(ptr(dst), ptr(src), ptr(src) + src.byteLength);
  }

  protected kFree(t: Tensor): void {
    this.arena.release(ptr(t));
  }

  private unpackTo(t: Tensor, dst: number): void {
    this.run("unpack", () => this.kernels.unpack_x4(ptr(t), dst, t.shape[0], t.shape[1] / 32, t.dtype === "q8_0" ? 34 : 18));
  }

  // ------------------------------------------------------------------ ops

  protected kMatmul(y: Tensor, w: Tensor, x: Tensor, rows: number, cols: number, n: number): void {
    const k = this.kernels;
    if (w.dtype === "f32" || w.dtype === "f16") {
      const f = w.dtype === "f32" ? k.matmul_f32 : k.matmul_f16;
      this.run("matmul", () => f(ptr(w), ptr(x), ptr(y), rows, cols, n));
      return;
    }
    const q4 = w.dtype === "q4_0";
    // the quantized-activation buffer is kept between calls: decoding calls matmul per layer per token
    const act = this.actScratch(k.act_row_bytes(cols) * n);
    this.run("matmul", () => {
      k.quantize_act(ptr(x), act, cols, n, q4 ? 1 : 0);
      const f = w.layout === "x4" ? (q4 ? k.matmul_q4_0x4 : k.matmul_q8_0x4) : q4 ? k.matmul_q4_0 : k.matmul_q8_0;
      f(ptr(w), act, ptr(y), rows, cols, n);
    });
  }

  private act = { ptr: 0, bytes: 0 };

  private actScratch(bytes: number): number {
    if (bytes > this.act.bytes) {
      // grow geometrically so a prefill of growing length does not reallocate every call
      const size = Math.max(bytes, 2 * this.act.bytes, 4096);
      if (this.act.ptr) this.arena.release(this.act.ptr);
      this.act = { ptr: 0, bytes: 0 };
      this.act = { ptr: this.arena.alloc(size, 16), bytes: size };
    }
    return this.act.ptr;
  }

  protected kRmsnorm(y: Tensor, x: Tensor, w: Tensor | null, n: number, dim: number, eps: number): void {
    this.run("rmsnorm", () => this.kernels.rmsnorm(ptr(x), w ? ptr(w) : 0, ptr(y), n, dim, eps));
  }

  protected kLayernorm(y: Tensor, x: Tensor, w: Tensor | null, b: Tensor | null, n: number, dim: number, eps: number): void {
    this.run("layernorm", () => this.kernels.layernorm(ptr(x), w ? ptr(w) : 0, b ? ptr(b) : 0, ptr(y), n, dim, eps));
  }

  protected kSoftmax(y: Tensor, x: Tensor, n: number, dim: number): void {
    this.run("softmax", () => this.kernels.softmax(ptr(x), ptr(y), n, dim));
  }

  protected kUnary(kind: "silu" | "gelu" | "gelu_tanh", y: Tensor, x: Tensor): void {
    this.run(kind, () => this.kernels[kind](ptr(x), ptr(y), x.numel));
  }

  protected kSwiglu(y: Tensor, g: Tensor, u: Tensor): void {
    this.run("swiglu", () => this.kernels.swiglu(ptr(g), ptr(u), ptr(y), g.numel));
  }

  protected kBinary(op: "add" | "mul", y: Tensor, a: Tensor, b: Tensor): void {
    this.run(op, () => this.kernels[op](ptr(a), ptr(b), ptr(y), a.numel, b.numel));
  }

  protected kScale(y: Tensor, x: Tensor, s: number): void {
    this.run("scale", () => this.kernels.scale(ptr(x), ptr(y), x.numel, s));
  }

  protected kRope(x: Tensor, pos: Int32Array, invFreq: Float32Array, ropeDim: number, style: RopeStyle, af: number): void {
    const [nTok, nHeads, headDim] = x.shape;
    this.withScratch(pos.byteLength + invFreq.byteLength, (s) => {
      const mem = this.arena.bytes;
      mem.set(new Uint8Array(pos.buffer, pos.byteOffset, pos.byteLength), s);
      const fp = s + pos.byteLength;
      mem.set(new Uint8Array(invFreq.buffer, invFreq.byteOffset, invFreq.byteLength), fp);
      this.run("rope", () => this.kernels.rope(ptr(x), nTok, nHeads, headDim, s, fp, ropeDim, style === "neox" ? 0 : 1, af));
    });
  }

  protected kAttention(out: Tensor, q: Tensor, k: Tensor, v: Tensor, kvLen: number, mask: AttentionMask, scale: number): void {
    const [nQ, nHeads, headDim] = q.shape;
    const [nKv, cap] = k.shape;
    const maskBytes = mask instanceof Uint8Array ? mask.length : 0;
    this.withScratch(kvLen * 4 + maskBytes, (s) => {
      const mp = s + kvLen * 4;
      if (mask instanceof Uint8Array) this.arena.bytes.set(mask, mp);
      const kind = mask === "none" ? 0 : mask === "causal" ? 1 : 2;
      this.run("attention", () => this.kernels.attention(ptr(q), ptr(k), ptr(v), ptr(out), s, nQ, nHeads, nKv, headDim, kvLen, cap, kind, mp, scale));
    });
  }

  protected kArgmax(x: Tensor, n: number, dim: number): Int32Array {
    return this.withScratch(n * 4, (s) => {
      this.run("argmax", () => this.kernels.argmax(ptr(x), n, dim, s));
      return new Int32Array(this.arena.bytes.slice(s, s + n * 4).buffer);
    });
  }

  protected kTopk(x: Tensor, n: number, dim: number, k: number): TopK {
    return this.withScratch(n * k * 8, (s) => {
      const vp = s + n * k * 4;
      this.run("topk", () => this.kernels.topk(ptr(x), n, dim, k, s, vp));
      const mem = this.arena.bytes;
      return { indices: new Int32Array(mem.slice(s, vp).buffer), values: new Float32Array(mem.slice(vp, vp + n * k * 4).buffer) };
    });
  }

  protected kQuantize(dst: Tensor, src: Tensor): number {
    const k = this.kernels;
    const n = src.numel;
    if (dst.dtype === "f32") {
      this.arena.bytes.copyWithin(ptr(dst), ptr(src), ptr(src) + src.byteLength);
      return 0;
    }
    if (dst.dtype === "f16") return this.run("quantize", () => k.quantize_f16(ptr(src), ptr(dst), n));
    const q = dst.dtype === "q8_0" ? k.quantize_q8_0 : k.quantize_q4_0;
    if (dst.layout !== "x4") return this.run("quantize", () => q(ptr(src), ptr(dst), n));
    return this.withScratch(dst.byteLength, (tmp) =>
      this.run("quantize", () => {
        const bad = q(ptr(src), tmp, n);
        k.pack_x4(tmp, ptr(dst), dst.shape[0], dst.shape[1] / 32, dst.dtype === "q8_0" ? 34 : 18);
        return bad;
      }),
    );
  }

  protected kDequantize(dst: Tensor, src: Tensor): void {
    const k = this.kernels;
    const n = src.numel;
    if (src.dtype === "f32") {
      this.arena.bytes.copyWithin(ptr(dst), ptr(src), ptr(src) + src.byteLength);
      return;
    }
    if (src.dtype === "f16") {
      this.run("dequantize", () => k.dequantize_f16(ptr(src), ptr(dst), n));
      return;
    }
    const dq = src.dtype === "q8_0" ? k.dequantize_q8_0 : k.dequantize_q4_0;
    if (src.layout !== "x4") {
      this.run("dequantize", () => dq(ptr(src), ptr(dst), n));
      return;
    }
    this.withScratch(src.byteLength, (tmp) => {
      this.unpackTo(src, tmp);
      this.run("dequantize", () => dq(tmp, ptr(dst), n));
    });
  }

  protected kGetRows(dst: Tensor, table: Tensor, ids: Int32Array): void {
    const kinds: Record<string, number> = { f32: 0, f16: 1, q8_0: 2, q4_0: 3 };
    let kind = kinds[table.dtype];
    if (table.layout === "x4") kind = table.dtype === "q8_0" ? 4 : 5;
    this.withScratch(ids.byteLength, (s) => {
      this.arena.bytes.set(new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength), s);
      this.run("getRows", () => this.kernels.get_rows(ptr(table), kind, table.shape[1], s, ids.length, ptr(dst)));
    });
  }

  // ------------------------------------------------------------------ plumbing

  private withScratch<T>(bytes: number, f: (p: number) => T): T {
    const p = this.arena.alloc(Math.max(bytes, 16), 16);
    try {
      return f(p);
    } finally {
      this.arena.release(p);
    }
  }

  private run<T>(op: string, f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) throw new KernelTrapError(`${op}: kernel trapped (${e.message}); this is a bug, please report it`);
      throw e;
    }
  }
}

function ptr(t: Tensor | Ptr): number {
  return (t instanceof Tensor ? t.storage : t.ptr) as number;
}

function pages(bytes: number): number {
  if (!Number.isFinite(bytes) || bytes <= 0) throw new OutOfRangeError(`memory size must be a positive number of bytes, got ${bytes}`);
  return Math.ceil(bytes / PAGE);
}
