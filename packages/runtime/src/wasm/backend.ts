/**
 * The wasm backend: tensors live in one WebAssembly.Memory shared by the AssemblyScript
 * kernels and the JS arena; each op is one kernel call on validated offsets.
 */
import { type AttentionMask, Backend, type BackendName, type RopeStyle, type SharedMatmul, type TopK } from "../backend";
import { type DType, isQuantized } from "../dtype";
import { KernelLoadError, KernelTrapError, OutOfRangeError } from "../errors";
import { compileWasm, hostSupportsRelaxedSimd, hostSupportsSimd, kernelFileUrl, type WasmSource } from "../kernel-files";
import { type Layout, Tensor } from "../tensor";
import { type ArenaStats, TensorArena } from "./arena";
import { KERNEL_NAMES, type KernelExports } from "./kernels";
import { MAX_CHUNKS, threadsUnavailable, WorkerPool } from "./pool";

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
  /**
   * Threads for matmul rows and attention heads (default 1). "auto": the host's core count,
   * at most 8. Where threads are unavailable (Cloudflare Workers, pages that are not
   * cross-origin isolated) the backend runs on one thread and `threadsNote` says why.
   * Results are the same bits for any count.
   */
  threads?: number | "auto";
  /**
   * Smallest matmul or attention (in multiply-adds) that is split between threads
   * (default 65536: below it the hand-off costs more than it saves). Tests set 0.
   */
  minParallelWork?: number;
  /** where the shared-memory simd128 kernels come from (default: the packaged kernels-mt.wasm) */
  threadedModule?: WasmSource;
  /** where the shared-memory relaxed-SIMD kernels come from (default: kernels-relaxed-mt.wasm) */
  relaxedThreadedModule?: WasmSource;
}

const PAGE = 65536;
const MAX_PAGES = 65535;
const MAX_THREADS = 8;

/** The kernels the pool runs, in the order its calls name them. */
const POOL_KERNELS = [
  "matmul_f32",
  "matmul_f16",
  "matmul_q8_0",
  "matmul_q8_0x4",
  "matmul_q4_0",
  "matmul_q4_0x4",
  "attention",
  "attention_f16",
  "stream_sum",
] as const;
type PoolKernel = (typeof POOL_KERNELS)[number];
type MatmulKernel = Extract<PoolKernel, `matmul_${string}`>;
const fnIndex = (name: PoolKernel) => POOL_KERNELS.indexOf(name);

/**
 * Below this many multiply-adds a matmul stays on the calling thread: handing it out and
 * joining costs a microsecond or two, more than the work saves.
 */
const MIN_PARALLEL_MACS = 1 << 16;
/**
 * Work is cut into this many chunks per thread, claimed as threads come free, so a thread
 * the OS has parked does not hold up the others.
 */
const CHUNKS_PER_THREAD = 4;
/**
 * A matmul goes out as one contiguous share of rows per thread. Shares are still claimed,
 * so a thread that finishes first takes a late thread's share. Four shares per thread made
 * 2-thread decode slower: SmolLM2-135M q8_0 120-144 against 159-162 tok/s, q4_0 131-141
 * against 163-181 (bench decode --quick, back to back, 2026-11-27; single matmuls timed alone
 * showed no difference, and the pool's hand-off counts were the same). On a machine with
 * another busy process both splits ran at about half speed.
 */
const MATMUL_CHUNKS_PER_THREAD = 1;
/**
 * Attention's multiply-adds weigh this many matmul ones in the split threshold: at decode
 * (one query, f32 cache, softmax between its two products) it runs at about 3.4 G/s on
 * one thread against 17.6 G/s for a q8_0 matmul (SmolLM2-135M, 2026-11-27), and a
 * SmolLM2 step's 30 attention calls (17 us each at 50 cached tokens) stayed on one thread.
 */
const ATTENTION_MAC_COST = 8;
/** Heads of one KV group that the attention kernel computes together (GROUP_BATCH in kernels/as/assembly/attention.ts). */
const ATTENTION_GROUP_BATCH = 8;
/** Rows go to threads in multiples of 8, the widest row tile of the kernels, so every row takes the same path as on one thread. */
const ROW_ALIGN = 8;

interface Ptr {
  ptr: number;
}

export class WasmBackend extends Backend {
  readonly name: BackendName = "wasm";
  readonly arena: TensorArena;
  readonly packWeights: boolean;
  private readonly minParallel: number;

  private pool: WorkerPool | null;

  private constructor(
    readonly memory: WebAssembly.Memory,
    /** raw kernel exports, for benchmarks and advanced use; prefer the checked ops */
    readonly kernels: KernelExports,
    readonly variant: SimdVariant,
    opts: WasmBackendOptions,
    pool: WorkerPool | null,
    /** why fewer threads run than were asked for, if so */
    readonly threadsNote: string | null,
  ) {
    super();
    this.arena = new TensorArena(memory, kernels.heap_base(), { canaries: opts.canaries });
    this.packWeights = opts.packWeights ?? true;
    this.minParallel = opts.minParallelWork ?? MIN_PARALLEL_MACS;
    this.pool = pool;
  }

  /** Threads that run kernels (1 when single-threaded or after close()). */
  get threads(): number {
    return this.pool?.size ?? 1;
  }

  /**
   * Read `bytes` at `p` once with every thread (the memory-bandwidth probe of the
   * benchmarks' roofline): the bandwidth a decode step on this many threads can reach.
   */
  streamRead(p: number, bytes: number): void {
    const pool = this.pool;
    if (!pool) {
      this.kernels.stream_sum(p, bytes);
      return;
    }
    const chunks = splitRange(bytes, pool.size * CHUNKS_PER_THREAD, 1 << 16).map(([a, b]) => [p + a, b - a]);
    pool.run("stream_sum", fnIndex("stream_sum"), chunks);
  }

  /** Stop the worker threads, if any; the backend goes on working on the calling thread. */
  close(): void {
    this.pool?.close();
    this.pool = null;
  }

  static async create(opts: WasmBackendOptions = {}): Promise<WasmBackend> {
    if (!hostSupportsSimd()) throw new KernelLoadError("this host has no WebAssembly SIMD (simd128); edgespec needs it");
    const want = opts.simd ?? "baseline";
    if (!["baseline", "relaxed", "auto"].includes(want)) throw new KernelLoadError(`simd must be "baseline", "relaxed" or "auto", got ${JSON.stringify(want)}`);
    const relaxedOk = hostSupportsRelaxedSimd();
    if (want === "relaxed" && !relaxedOk) throw new KernelLoadError("relaxed SIMD was requested but this host does not support it");
    const variant: SimdVariant = want === "baseline" ? "baseline" : relaxedOk ? "relaxed" : "baseline";
    const { threads, note } = resolveThreads(opts.threads);
    const shared = threads > 1;
    const source = shared
      ? variant === "relaxed"
        ? (opts.relaxedThreadedModule ?? kernelFileUrl("kernels-relaxed-mt.wasm"))
        : (opts.threadedModule ?? kernelFileUrl("kernels-mt.wasm"))
      : variant === "relaxed"
        ? (opts.relaxedModule ?? kernelFileUrl("kernels-relaxed.wasm"))
        : (opts.module ?? kernelFileUrl("kernels.wasm"));
    const module = await compileWasm(source, `the ${variant}${shared ? " shared-memory" : ""} kernels`);
    const initial = pages(opts.initialMemoryBytes ?? 16 << 20);
    // a shared memory must declare its maximum, which the -mt kernels fix at the wasm32 limit
    const maximum = shared ? MAX_PAGES : Math.min(MAX_PAGES, pages(opts.maximumMemoryBytes ?? MAX_PAGES * PAGE));
    if (initial > maximum) throw new OutOfRangeError(`initialMemoryBytes exceeds maximumMemoryBytes`);
    let memory: WebAssembly.Memory;
    try {
      memory = new WebAssembly.Memory({ initial, maximum, shared });
    } catch (e) {
      throw new KernelLoadError(`could not create ${initial * PAGE} bytes of ${shared ? "shared " : ""}wasm memory: ${(e as Error).message}`);
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
    const pool = shared
      ? await WorkerPool.start(
          threads,
          module,
          memory,
          POOL_KERNELS,
          POOL_KERNELS.map((n) => ex[n] as (...a: number[]) => unknown),
        )
      : null;
    return new WasmBackend(memory, ex, variant, opts, pool, note);
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
    this.kMatmulShared([{ y, w, rows }], x, cols, n);
  }

  /**
   * Products that share x and a kernel: x is quantized once (q8_0/q4_0), and with threads
   * every product's row chunks go out in one dispatch. Products whose weights need
   * different kernels run as separate groups.
   */
  protected override kMatmulShared(jobs: readonly SharedMatmul[], x: Tensor, cols: number, n: number): void {
    const name = matmulKernel(jobs[0].w);
    if (jobs.some((j) => matmulKernel(j.w) !== name)) {
      for (const j of jobs) this.kMatmulShared([j], x, cols, n);
      return;
    }
    const k = this.kernels;
    let input = ptr(x);
    if (jobs[0].w.dtype === "q8_0" || jobs[0].w.dtype === "q4_0") {
      // the quantized-activation buffer is kept between calls: decoding calls matmul per layer per token
      input = this.actScratch(k.act_row_bytes(cols) * n);
      this.run("matmul", () => k.quantize_act(ptr(x), input, cols, n, jobs[0].w.dtype === "q4_0" ? 1 : 0));
    }
    const pool = this.pool;
    const chunks: number[][] = [];
    for (const { y, w, rows } of jobs) {
      if (!pool || rows * cols * n < this.minParallel || rows <= ROW_ALIGN) {
        this.run("matmul", () => k[name](ptr(w), input, ptr(y), rows, cols, n, rows));
        continue;
      }
      // x4 groups of 4 rows are 4 rows' bytes, so a row offset works for both layouts
      const rowBytes = w.byteLength / rows;
      for (const [r0, r1] of splitRange(rows, pool.size * MATMUL_CHUNKS_PER_THREAD, ROW_ALIGN))
        chunks.push([ptr(w) + r0 * rowBytes, input, ptr(y) + r0 * 4, r1 - r0, cols, n, rows]);
    }
    if (pool && chunks.length > 0) {
      // one dispatch holds at most MAX_CHUNKS chunks
      for (let c = 0; c < chunks.length; c += MAX_CHUNKS) pool.run("matmul", fnIndex(name), chunks.slice(c, c + MAX_CHUNKS));
    }
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
    const table = this.ropeAngles(pos, invFreq, af);
    this.run("rope", () => this.kernels.rope(ptr(x), nTok, nHeads, headDim, table, ropeDim, style === "neox" ? 0 : 1));
  }

  private ropeCache = { ptr: 0, bytes: 0, valid: false, positions: new Int32Array(0), invFreqBits: new Uint32Array(0), af: 0 };

  /**
   * The arena address of the cos/sin table for these positions and frequencies. The last
   * table is kept: a step rotates q and k of every layer at the same positions, so only its
   * first call computes angles. Frequencies are compared bit for bit (a caller may reuse
   * its array with new values).
   */
  private ropeAngles(pos: Int32Array, invFreq: Float32Array, af: number): number {
    const c = this.ropeCache;
    const bits = new Uint32Array(invFreq.buffer, invFreq.byteOffset, invFreq.length);
    if (c.valid && Object.is(c.af, af) && sameWords(c.positions, pos) && sameWords(c.invFreqBits, bits)) return c.ptr;
    const half = invFreq.length;
    const bytes = Math.max(pos.length * half * 8, 16);
    if (bytes > c.bytes) {
      const size = Math.max(bytes, 2 * c.bytes);
      if (c.ptr) this.arena.release(c.ptr);
      c.ptr = 0;
      c.bytes = 0;
      c.ptr = this.arena.alloc(size, 16);
      c.bytes = size;
    }
    c.valid = false;
    const table = c.ptr;
    this.withScratch(pos.byteLength + invFreq.byteLength, (s) => {
      const mem = this.arena.bytes;
      mem.set(new Uint8Array(pos.buffer, pos.byteOffset, pos.byteLength), s);
      const fp = s + pos.byteLength;
      mem.set(new Uint8Array(invFreq.buffer, invFreq.byteOffset, invFreq.byteLength), fp);
      this.run("rope", () => this.kernels.rope_table(s, pos.length, fp, half, af, table));
    });
    c.positions = pos.slice();
    c.invFreqBits = bits.slice();
    c.af = af;
    c.valid = true;
    return table;
  }

  protected kAttention(out: Tensor, q: Tensor, k: Tensor, v: Tensor, kvLen: number, mask: AttentionMask, scale: number): void {
    const [nQ, nHeads, headDim] = q.shape;
    const [nKv, cap] = k.shape;
    const maskBytes = mask instanceof Uint8Array ? mask.length : 0;
    const name = k.dtype === "f16" ? "attention_f16" : "attention";
    const pool = this.pool;
    const parallel = pool !== null && nHeads >= 2 && nQ * nHeads * kvLen * headDim * ATTENTION_MAC_COST >= this.minParallel;
    // the kernel takes the heads of a KV group together, up to ATTENTION_GROUP_BATCH at a time
    // (streaming the cache once for all of them): each thread needs a scores row per head of a
    // batch, 16-byte aligned, plus 16 bytes per head
    const group = nHeads / nKv;
    const batch = Math.min(group, ATTENTION_GROUP_BATCH);
    const scoreBytes = (batch * (((kvLen + 3) & ~3) * 4 + 16) + 63) & ~63;
    const threads = parallel ? pool.size : 1;
    this.withScratch(scoreBytes * threads + maskBytes, (s) => {
      const mp = s + scoreBytes * threads;
      if (mask instanceof Uint8Array) this.arena.bytes.set(mask, mp);
      const kind = mask === "none" ? 0 : mask === "causal" ? 1 : 2;
      const args = (scores: number, h0: number, h1: number) => [
        ptr(q),
        ptr(k),
        ptr(v),
        ptr(out),
        scores,
        nQ,
        nHeads,
        nKv,
        headDim,
        kvLen,
        cap,
        kind,
        mp,
        scale,
        h0,
        h1,
      ];
      if (!parallel) {
        this.run("attention", () => this.kernels[name](...(args(s, 0, nHeads) as Parameters<KernelExports["attention"]>)));
        return;
      }
      // whole KV groups per chunk where they divide evenly between the threads, else one
      // even run of heads per thread (a group cut in two streams its cache rows twice, but
      // 3 groups on 2 threads would leave one thread idle a third of the time); any split
      // gives the same bits: heads are independent
      const ranges = nKv % threads === 0 ? splitRange(nHeads, Math.min(nKv, threads * CHUNKS_PER_THREAD), group) : splitRange(nHeads, threads, 1);
      const chunks = ranges.map(([h0, h1]) => args(s, h0, h1));
      pool.run("attention", fnIndex(name), chunks, { slot: 4, base: s, stride: scoreBytes });
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

/** Non-empty [start, end) shares of `total` in at most `parts` pieces, in multiples of `align` but the last. */
function matmulKernel(w: Tensor): MatmulKernel {
  if (w.dtype === "f32") return "matmul_f32";
  if (w.dtype === "f16") return "matmul_f16";
  const q4 = w.dtype === "q4_0";
  return w.layout === "x4" ? (q4 ? "matmul_q4_0x4" : "matmul_q8_0x4") : q4 ? "matmul_q4_0" : "matmul_q8_0";
}

function sameWords(a: Int32Array | Uint32Array, b: Int32Array | Uint32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function splitRange(total: number, parts: number, align: number): [number, number][] {
  const units = Math.ceil(total / align);
  const n = Math.min(parts, units, MAX_CHUNKS);
  const out: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const a = Math.min(total, Math.floor((units * i) / n) * align);
    const b = Math.min(total, Math.floor((units * (i + 1)) / n) * align);
    if (b > a) out.push([a, b]);
  }
  return out;
}

/** The thread count to start, and why it is fewer than asked for. */
function resolveThreads(want: number | "auto" | undefined): { threads: number; note: string | null } {
  if (want === undefined || want === 1) return { threads: 1, note: null };
  let n: number;
  if (want === "auto") {
    const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
    const os = (globalThis as { process?: { getBuiltinModule?(id: string): unknown } }).process?.getBuiltinModule?.("node:os") as
      | { availableParallelism?(): number }
      | undefined;
    n = Math.min(MAX_THREADS, Math.max(1, os?.availableParallelism?.() ?? nav?.hardwareConcurrency ?? 1));
  } else {
    if (!Number.isInteger(want) || want < 1 || want > MAX_THREADS)
      throw new OutOfRangeError(`threads must be "auto" or an integer 1..${MAX_THREADS}, got ${JSON.stringify(want)}`);
    n = want;
  }
  if (n === 1) return { threads: 1, note: null };
  const why = threadsUnavailable();
  return why ? { threads: 1, note: why } : { threads: n, note: null };
}

function ptr(t: Tensor | Ptr): number {
  return (t instanceof Tensor ? t.storage : t.ptr) as number;
}

function pages(bytes: number): number {
  if (!Number.isFinite(bytes) || bytes <= 0) throw new OutOfRangeError(`memory size must be a positive number of bytes, got ${bytes}`);
  return Math.ceil(bytes / PAGE);
}
