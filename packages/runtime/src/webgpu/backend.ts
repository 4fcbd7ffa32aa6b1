/// <reference types="@webgpu/types" />
/**
 * The WebGPU backend: the same ops as the wasm backend, as WGSL compute shaders
 * (kernels/wgsl). Weights are uploaded once, activations and the KV cache stay on the
 * GPU, and only what is read (the logits) comes back.
 *
 * Ops are queued, not run: every call records a dispatch into one open compute pass, and
 * the queue is submitted when something is read (readAsync), written from the host, or the
 * parameter rings fill up. A GPU cannot be waited for synchronously, so read(), readF32(),
 * argmax() and topk() refuse with a clear error; readAsync() is the way out.
 *
 * Each root allocation is one GPUBuffer, or several when it is larger than the device's
 * maxStorageBufferBindingSize: a 2-D tensor is then split between buffers at row
 * boundaries (an lm_head of 151936 × 896 f32 is 544 MB), and matmul, getRows, dequantize,
 * read and write go chunk by chunk. Views address their root by byte offset, passed in
 * each dispatch's parameters, so no binding offset alignment applies.
 */
import { SHADERS } from "@edgespec/kernels-wgsl";
import { type AttentionMask, Backend, type BackendName, type RopeStyle, type TopK, typedView } from "../backend";
import { byteSize, type DType } from "../dtype";
import { BackendUnavailableError, DTypeError, EdgespecError, OutOfRangeError, ShapeError } from "../errors";
import { f32ArrayToF16 } from "../half";
import { quantizeQ4_0, quantizeQ8_0 } from "../reference/quant";
import { type GpuStorage, type Layout, Tensor } from "../tensor";

export interface WebGPUBackendOptions {
  /** the WebGPU entry point (default: navigator.gpu); in Node pass `create([])` from the `webgpu` package */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
  /**
   * Largest buffer one binding may cover (default: the adapter's maxStorageBufferBindingSize).
   * Tensors above it are split between buffers; tests set it low to exercise the split.
   */
  maxBindingBytes?: number;
}

export interface WebGPUAdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** software adapters (SwiftShader, lavapipe) say so */
  isFallbackAdapter: boolean;
  /** the adapter offers shader-f16 (our f16 kernels unpack halves in f32 and do not need it) */
  shaderF16: boolean;
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

/** A WebGPU validation or out-of-memory error raised by queued work. */
export class WebGPUError extends EdgespecError {}

/** One GPU buffer of a root: rows [row0, row0 + rows) of a split 2-D tensor, or the whole root. */
interface Chunk {
  buffer: GPUBuffer;
  id: number;
  byteStart: number;
  bytes: number;
  row0: number;
  rows: number;
}

interface Root {
  chunks: Chunk[];
  bytes: number;
  /** bytes per row when split (chunks hold whole rows), else 0 */
  rowBytes: number;
}

interface Storage extends GpuStorage {
  readonly rootRef: Root;
}

/** A tensor argument of a dispatch, or one of the backend's own buffers. */
type Arg = { name: string; buffer: GPUBuffer; id: number };

const PARAM_SLOT = 256;
const PARAM_RING = 1 << 20;
const DATA_RING = 4 << 20;
const MAX_DISPATCHES = 4096;

/** Why WebGPU cannot run here, or null when an adapter answered. */
export async function webgpuUnavailableReason(gpu?: GPU): Promise<string | null> {
  const g = gpu ?? defaultGpu();
  if (!g) return "this host has no navigator.gpu (WebGPU)";
  try {
    const a = await g.requestAdapter();
    return a ? null : "navigator.gpu.requestAdapter() found no adapter";
  } catch (e) {
    return `requestAdapter failed: ${(e as Error).message}`;
  }
}

function defaultGpu(): GPU | undefined {
  return (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
}

export class WebGPUBackend extends Backend {
  readonly name: BackendName = "webgpu";
  /** the reason the device was lost, once it was; every later op throws */
  lost: string | null = null;
  private firstError: string | null = null;
  private nextId = 1;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly layouts = new Map<number, { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout }>();
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly groupsOfBuffer = new Map<number, string[]>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private dispatches = 0;
  private readonly paramRing: GPUBuffer;
  private readonly params = new ArrayBuffer(PARAM_RING);
  private paramUsed = 0;
  private readonly dataRing: Arg;
  private readonly data = new Uint8Array(DATA_RING);
  private dataUsed = 0;
  private scores: Arg | null = null;
  private doomed: GPUBuffer[] = [];
  private lastRope: { invFreq: Float32Array; half: number; af: number; pos: Int32Array; tab: Float32Array } | null = null;

  private constructor(
    /**
     * Held for the device's lifetime: Node's dawn.node frees its instance when the object
     * `create()` returned is collected, and a device outliving it aborts the process.
     * destroy() lets go, so Node can exit.
     */
    private gpu: GPU | null,
    readonly device: GPUDevice,
    readonly adapter: WebGPUAdapterSummary,
    private readonly maxBinding: number,
  ) {
    super();
    device.lost.then((info) => {
      this.lost = `${info.reason}: ${info.message || "no message"}`;
    });
    device.addEventListener("uncapturederror", (e) => {
      this.firstError ??= (e as GPUUncapturedErrorEvent).error.message;
    });
    this.paramRing = device.createBuffer({ size: PARAM_RING, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: "params" });
    const ring = device.createBuffer({ size: DATA_RING, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, label: "data" });
    this.dataRing = { name: "aux", buffer: ring, id: this.nextId++ };
  }

  /** Asks for an adapter and a device with the adapter's largest buffer limits. */
  static async create(opts: WebGPUBackendOptions = {}): Promise<WebGPUBackend> {
    const gpu = opts.gpu ?? defaultGpu();
    if (!gpu) throw new BackendUnavailableError("webgpu: this host has no navigator.gpu (WebGPU); use the wasm backend");
    let adapter: GPUAdapter | null;
    try {
      adapter = await gpu.requestAdapter(opts.powerPreference ? { powerPreference: opts.powerPreference } : undefined);
    } catch (e) {
      throw new BackendUnavailableError(`webgpu: requestAdapter failed: ${(e as Error).message}`);
    }
    if (!adapter) throw new BackendUnavailableError("webgpu: navigator.gpu.requestAdapter() found no adapter");
    const lim = adapter.limits;
    let device: GPUDevice;
    try {
      device = await adapter.requestDevice({
        requiredLimits: {
          maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize,
          maxBufferSize: lim.maxBufferSize,
          maxStorageBuffersPerShaderStage: Math.min(lim.maxStorageBuffersPerShaderStage, 8),
        },
      });
    } catch (e) {
      throw new BackendUnavailableError(`webgpu: requestDevice failed: ${(e as Error).message}`);
    }
    const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info;
    const summary: WebGPUAdapterSummary = {
      vendor: info?.vendor ?? "",
      architecture: info?.architecture ?? "",
      device: info?.device ?? "",
      description: info?.description ?? "",
      isFallbackAdapter: (info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter ?? false,
      shaderF16: adapter.features.has("shader-f16"),
      maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
      maxBufferSize: device.limits.maxBufferSize,
    };
    const cap = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
    const maxBinding = Math.max(256, Math.min(cap, opts.maxBindingBytes ?? cap)) & ~3;
    return new WebGPUBackend(gpu, device, summary, maxBinding);
  }

  override get syncRead(): boolean {
    return false;
  }

  /** Frees every GPU buffer this backend made; the backend is unusable afterwards. */
  destroy(): void {
    if (this.lost) return;
    this.lost = "destroyed: the backend was destroyed";
    this.device.destroy();
    this.gpu = null;
  }

  // ------------------------------------------------------------------ reading

  override async readAsync(t: Tensor): Promise<Float32Array | Uint16Array | Uint8Array | Int32Array> {
    this.own(t, "readAsync");
    return typedView(t.dtype, await this.readBytes(t));
  }

  override async finish(): Promise<void> {
    this.alive("finish");
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.raise();
  }

  private async readBytes(t: Tensor): Promise<Uint8Array> {
    const s = this.storageOf(t);
    const out = new Uint8Array(t.byteLength);
    if (t.byteLength === 0) return out;
    this.flush();
    const enc = this.device.createCommandEncoder();
    const copies: { staging: GPUBuffer; skip: number; at: number; n: number }[] = [];
    for (const c of s.rootRef.chunks) {
      const from = Math.max(s.offset, c.byteStart);
      const to = Math.min(s.offset + t.byteLength, c.byteStart + c.bytes);
      if (from >= to) continue;
      const lo = (from - c.byteStart) & ~3;
      const hi = Math.min(c.buffer.size, (to - c.byteStart + 3) & ~3);
      const staging = this.device.createBuffer({ size: hi - lo, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      enc.copyBufferToBuffer(c.buffer, lo, staging, 0, hi - lo);
      copies.push({ staging, skip: from - c.byteStart - lo, at: from - s.offset, n: to - from });
    }
    this.device.queue.submit([enc.finish()]);
    try {
      for (const c of copies) {
        await c.staging.mapAsync(GPUMapMode.READ);
        out.set(new Uint8Array(c.staging.getMappedRange(), c.skip, c.n), c.at);
      }
    } catch (e) {
      this.alive("readAsync");
      throw new WebGPUError(`webgpu: reading ${t} failed: ${(e as Error).message}`);
    } finally {
      for (const c of copies) c.staging.destroy();
    }
    this.raise();
    return out;
  }

  /** Surfaces the first validation error that queued work raised (they arrive asynchronously). */
  private raise(): void {
    this.alive("webgpu");
    if (this.firstError) {
      const e = this.firstError;
      this.firstError = null;
      throw new WebGPUError(`webgpu: ${e}`);
    }
  }

  private alive(what: string): void {
    if (this.lost) throw new BackendUnavailableError(`webgpu: ${what}: the GPU device is gone (${this.lost}); reload the model on the wasm backend`);
  }

  // ------------------------------------------------------------------ storage

  protected overlaps(a: Tensor, b: Tensor): boolean {
    const sa = a.storage as Storage;
    const sb = b.storage as Storage;
    return sa.root === sb.root && sa.offset < sb.offset + b.byteLength && sb.offset < sa.offset + a.byteLength;
  }

  protected addressOf(t: Tensor): number {
    return (t.storage as Storage).offset;
  }

  protected kCreate(dtype: DType, shape: number[], bytes: number, data: Uint8Array | undefined, layout: Layout): Tensor {
    this.alive("tensor");
    const root = this.allocate(dtype, shape, bytes);
    const t = new Tensor(this, dtype, shape, bytes, { root: root.chunks[0].id, offset: 0, rootRef: root } as Storage, layout);
    if (data) this.upload(root, 0, data);
    return t;
  }

  private allocate(dtype: DType, shape: number[], bytes: number): Root {
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const make = (size: number, label: string) => {
      const buffer = this.device.createBuffer({ size: Math.max(4, (size + 3) & ~3), usage, label });
      return { buffer, id: this.nextId++ };
    };
    if (bytes <= this.maxBinding) {
      const b = make(bytes, `${dtype}[${shape.join(",")}]`);
      return { chunks: [{ ...b, byteStart: 0, bytes, row0: 0, rows: shape[0] ?? 1 }], bytes, rowBytes: 0 };
    }
    if (shape.length !== 2) {
      throw new OutOfRangeError(
        `webgpu: a ${dtype} [${shape.join(", ")}] tensor of ${bytes} bytes exceeds this device's ${this.maxBinding}-byte storage binding; only 2-D tensors are split`,
      );
    }
    const rowBytes = byteSize(dtype, [1, shape[1]]);
    const per = Math.floor(this.maxBinding / rowBytes);
    if (per < 1) throw new OutOfRangeError(`webgpu: one row of ${rowBytes} bytes exceeds this device's ${this.maxBinding}-byte storage binding`);
    const chunks: Chunk[] = [];
    for (let r = 0; r < shape[0]; r += per) {
      const rows = Math.min(per, shape[0] - r);
      chunks.push({
        ...make(rows * rowBytes, `${dtype}[${shape.join(",")}] rows ${r}+${rows}`),
        byteStart: r * rowBytes,
        bytes: rows * rowBytes,
        row0: r,
        rows,
      });
    }
    return { chunks, bytes, rowBytes };
  }

  /** Host bytes into the root at byteOffset. Queued ops run first, so they see the old contents. */
  private upload(root: Root, byteOffset: number, data: Uint8Array): void {
    this.flush();
    for (const c of root.chunks) {
      const from = Math.max(byteOffset, c.byteStart) - c.byteStart;
      const to = Math.min(byteOffset + data.byteLength, c.byteStart + c.bytes) - c.byteStart;
      if (from >= to) continue;
      const src = (at: number) => at + c.byteStart - byteOffset;
      // writeBuffer takes whole words; the bytes of partly covered words go through the copy shader
      const a = Math.min(to, (from + 3) & ~3);
      const b = Math.max(a, to & ~3);
      // (bytes in a SharedArrayBuffer, a threaded wasm memory, are copied out first)
      if (b > a) this.device.queue.writeBuffer(c.buffer, a, plain(data.subarray(src(a), src(b))));
      if (a > from) this.patchBytes(c, from, data.subarray(src(from), src(a)));
      if (to > b) this.patchBytes(c, b, data.subarray(src(b), src(to)));
    }
  }

  /** A few unaligned bytes: staged in the data ring and placed by the copy shader. */
  private patchBytes(c: Chunk, at: number, bytes: Uint8Array): void {
    const src = this.stage(bytes);
    this.copyBytes({ name: "dst", buffer: c.buffer, id: c.id }, at, this.asArg("src", this.dataRing), src, bytes.byteLength);
    this.flush();
  }

  protected kView(parent: Tensor, byteOffset: number, dtype: DType, shape: number[], bytes: number): Tensor {
    const s = parent.storage as Storage;
    const offset = s.offset + byteOffset;
    if (s.rootRef.chunks.length > 1) {
      const c = s.rootRef.chunks.find((k) => offset >= k.byteStart && offset + bytes <= k.byteStart + k.bytes);
      if (!c) throw new OutOfRangeError(`webgpu: a view of bytes [${offset}, ${offset + bytes}) crosses the buffers a split tensor is stored in`);
    }
    return new Tensor(this, dtype, shape, bytes, { root: s.root, offset, rootRef: s.rootRef } as Storage, "rows", parent.parent ?? parent);
  }

  protected kRead(_t: Tensor): Uint8Array {
    throw new BackendUnavailableError("webgpu: read() cannot wait for the GPU; use `await backend.readAsync(t)` (or readF32Async)");
  }

  protected kWrite(t: Tensor, data: Uint8Array): void {
    this.alive("write");
    const s = this.storageOf(t);
    this.upload(s.rootRef, s.offset, data);
  }

  protected kFree(t: Tensor): void {
    const s = t.storage as Storage;
    for (const c of s.rootRef.chunks) this.retire(c.buffer, c.id);
  }

  /** Destroys a buffer once the queued work that may use it has been submitted. */
  private retire(buffer: GPUBuffer, id: number): void {
    for (const key of this.groupsOfBuffer.get(id) ?? []) this.bindGroups.delete(key);
    this.groupsOfBuffer.delete(id);
    if (this.encoder) this.doomed.push(buffer);
    else buffer.destroy();
  }

  private storageOf(t: Tensor): Storage {
    return t.storage as Storage;
  }

  /** The single buffer a tensor lies in (views of a split tensor lie within one chunk). */
  private argOf(name: string, t: Tensor): { arg: Arg; base: number } {
    const s = this.storageOf(t);
    const c = s.rootRef.chunks.find((k) => s.offset >= k.byteStart && s.offset < k.byteStart + Math.max(k.bytes, 1)) ?? s.rootRef.chunks[0];
    if (s.rootRef.chunks.length > 1 && s.offset + t.byteLength > c.byteStart + c.bytes) {
      throw new OutOfRangeError(`webgpu: ${t} is split between GPU buffers; this op needs it in one (only matmul weights and getRows tables may be split)`);
    }
    return { arg: { name, buffer: c.buffer, id: c.id }, base: s.offset - c.byteStart };
  }

  private asArg(name: string, a: Arg): Arg {
    return { name, buffer: a.buffer, id: a.id };
  }

  // ------------------------------------------------------------------ queueing

  /** Copies bytes into the data ring for the next submit; returns their offset there. */
  private stage(bytes: Uint8Array): number {
    const size = (bytes.byteLength + 15) & ~15;
    if (size > DATA_RING) throw new OutOfRangeError(`webgpu: ${bytes.byteLength} bytes of per-call data exceed the ${DATA_RING}-byte staging ring`);
    if (this.dataUsed + size > DATA_RING) this.flush();
    const at = this.dataUsed;
    this.data.set(bytes, at);
    this.dataUsed += size;
    return at;
  }

  private stageF32(values: Float32Array): number {
    return this.stage(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  }

  /**
   * Records one dispatch of `shader` over `groups` workgroups. params: the shader's Params
   * fields in order (u32, or f32 where marked with f()).
   */
  private dispatch(shader: keyof typeof SHADERS, args: Arg[], params: (number | F32)[], groups: number): void {
    this.alive(shader);
    if (groups === 0) return;
    if (this.paramUsed + PARAM_SLOT > PARAM_RING || this.dispatches >= MAX_DISPATCHES) this.flush();
    // one binding per distinct buffer: WebGPU refuses two writable bindings of one buffer
    const distinct: Arg[] = [];
    const slotOf = args.map((a) => {
      let i = distinct.findIndex((d) => d.id === a.id);
      if (i < 0) i = distinct.push(a) - 1;
      return i;
    });
    const pipeline = this.pipeline(shader, args, slotOf, distinct.length);
    const key = `${shader}|${slotOf.join(",")}|${distinct.map((d) => d.id).join(",")}`;
    let group = this.bindGroups.get(key);
    if (!group) {
      group = this.device.createBindGroup({
        layout: this.layout(distinct.length).group,
        entries: [
          { binding: 0, resource: { buffer: this.paramRing, size: PARAM_SLOT } },
          ...distinct.map((d, i) => ({ binding: i + 1, resource: { buffer: d.buffer } })),
        ],
      });
      this.bindGroups.set(key, group);
      for (const d of distinct) {
        const keys = this.groupsOfBuffer.get(d.id) ?? [];
        keys.push(key);
        this.groupsOfBuffer.set(d.id, keys);
      }
    }
    const at = this.paramUsed;
    const u32 = new Uint32Array(this.params, at, params.length);
    const f32 = new Float32Array(this.params, at, params.length);
    params.forEach((v, i) => {
      if (typeof v === "number") u32[i] = v;
      else f32[i] = v.f;
    });
    this.paramUsed += PARAM_SLOT;
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    if (!this.pass) this.pass = this.encoder.beginComputePass();
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, group, [at]);
    // more than 65535 workgroups: a second grid dimension (the shaders linearise it)
    const x = Math.min(groups, 65535);
    this.pass.dispatchWorkgroups(x, Math.ceil(groups / x));
    this.dispatches++;
  }

  /** Submits everything queued, with the parameter and data rings it uses. */
  private flush(): void {
    if (!this.encoder) return;
    this.pass?.end();
    this.pass = null;
    const q = this.device.queue;
    if (this.paramUsed) q.writeBuffer(this.paramRing, 0, this.params, 0, this.paramUsed);
    if (this.dataUsed) q.writeBuffer(this.dataRing.buffer, 0, this.data, 0, this.dataUsed);
    q.submit([this.encoder.finish()]);
    this.encoder = null;
    this.paramUsed = 0;
    this.dataUsed = 0;
    this.dispatches = 0;
    for (const b of this.doomed) b.destroy();
    this.doomed = [];
  }

  private layout(n: number): { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout } {
    let l = this.layouts.get(n);
    if (!l) {
      const group = this.device.createBindGroupLayout({
        entries: [
          { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: "uniform", hasDynamicOffset: true } },
          ...Array.from({ length: n }, (_, i) => ({ binding: i + 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: "storage" as const } })),
        ],
      });
      l = { group, pipeline: this.device.createPipelineLayout({ bindGroupLayouts: [group] }) };
      this.layouts.set(n, l);
    }
    return l;
  }

  /** The shader with its bindings and per-tensor accessors written in front (kernels/wgsl/README.md). */
  private pipeline(shader: keyof typeof SHADERS, args: Arg[], slotOf: number[], n: number): GPUComputePipeline {
    const key = `${shader}|${args.map((a, i) => `${a.name}=${slotOf[i]}`).join(",")}`;
    let p = this.pipelines.get(key);
    if (p) return p;
    const lines: string[] = [];
    for (let i = 0; i < n; i++) lines.push(`@group(0) @binding(${i + 1}) var<storage, read_write> b${i}: array<u32>;`);
    args.forEach((a, i) => {
      const b = `b${slotOf[i]}`;
      lines.push(
        `fn ${a.name}_u(i: u32) -> u32 { return ${b}[i]; }`,
        `fn ${a.name}_f(i: u32) -> f32 { return bitcast<f32>(${b}[i]); }`,
        `fn ${a.name}_set(i: u32, v: f32) { ${b}[i] = bitcast<u32>(v); }`,
        `fn ${a.name}_setu(i: u32, v: u32) { ${b}[i] = v; }`,
        `fn ${a.name}_h(byte: u32) -> f32 { let w = ${b}[byte >> 2u]; return half_to_f32(select(w, w >> 16u, (byte & 2u) != 0u)); }`,
        `fn ${a.name}_w2(byte: u32) -> u32 { let i = byte >> 2u; if ((byte & 2u) == 0u) { return ${b}[i]; } return (${b}[i] >> 16u) | (${b}[i + 1u] << 16u); }`,
        `fn ${a.name}_b(byte: u32) -> u32 { return (${b}[byte >> 2u] >> ((byte & 3u) * 8u)) & 0xffu; }`,
      );
    });
    const body = SHADERS[shader];
    const code = `${body.replace(/^(struct Params \{[^}]*\})/m, `$1\n@group(0) @binding(0) var<uniform> p: Params;\n${lines.join("\n")}`)}`;
    if (code === body) throw new Error(`webgpu: shader ${shader} has no Params struct`);
    p = this.device.createComputePipeline({
      layout: this.layout(n).pipeline,
      compute: { module: this.device.createShaderModule({ code, label: key }), entryPoint: "main" },
    });
    this.pipelines.set(key, p);
    return p;
  }

  private copyBytes(dst: Arg, dstBase: number, src: Arg, srcBase: number, len: number): void {
    if (len === 0) return;
    const first = Math.floor(dstBase / 4);
    const words = Math.ceil((dstBase + len) / 4) - first;
    this.dispatch("copy", [dst, src], [words, first, dstBase, srcBase, len], Math.ceil(words / 256));
  }

  // ------------------------------------------------------------------ ops

  protected kCopy(dst: Tensor, src: Tensor): void {
    const d = this.argOf("dst", dst);
    const s = this.argOf("src", src);
    if (d.arg.id === s.arg.id && this.overlaps(dst, src)) {
      // overlapping ranges of one buffer: through a temporary, as memmove would
      const tmp = this.kCreate("u8", [src.byteLength], src.byteLength, undefined, "rows");
      try {
        const t = this.argOf("dst", tmp);
        this.copyBytes(t.arg, 0, s.arg, s.base, src.byteLength);
        this.copyBytes(d.arg, d.base, this.asArg("src", t.arg), 0, src.byteLength);
      } finally {
        this.kFree(tmp);
      }
      return;
    }
    this.copyBytes(d.arg, d.base, s.arg, s.base, src.byteLength);
  }

  protected kMatmul(y: Tensor, w: Tensor, x: Tensor, _rows: number, cols: number, n: number): void {
    const ys = this.argOf("y", y);
    const xs = this.argOf("x", x);
    const ws = this.storageOf(w);
    const shader = `matmul_${w.dtype}` as keyof typeof SHADERS;
    const totalRows = w.shape[0];
    for (const c of ws.rootRef.chunks) {
      // a view of a split weight lies in one chunk; the whole tensor spans them all
      const start = Math.max(ws.offset, c.byteStart);
      const end = Math.min(ws.offset + w.byteLength, c.byteStart + c.bytes);
      if (start >= end) continue;
      const rowBytes = w.byteLength / totalRows;
      const rows = (end - start) / rowBytes;
      const row0 = (start - ws.offset) / rowBytes;
      this.dispatch(
        shader,
        [{ name: "w", buffer: c.buffer, id: c.id }, xs.arg, ys.arg],
        [rows, cols, n, start - c.byteStart, xs.base, ys.base, totalRows, row0],
        rows,
      );
    }
  }

  protected kRmsnorm(y: Tensor, x: Tensor, w: Tensor | null, n: number, dim: number, eps: number): void {
    const xs = this.argOf("x", x);
    const ys = this.argOf("y", y);
    const ws = w ? this.argOf("w", w) : { arg: this.asArg("w", xs.arg), base: 0 };
    this.dispatch("rmsnorm", [xs.arg, ys.arg, ws.arg], [n, dim, xs.base, ys.base, ws.base, w ? 1 : 0, f(eps)], n);
  }

  protected kLayernorm(y: Tensor, x: Tensor, w: Tensor | null, b: Tensor | null, n: number, dim: number, eps: number): void {
    const xs = this.argOf("x", x);
    const ys = this.argOf("y", y);
    const ws = w ? this.argOf("w", w) : { arg: this.asArg("w", xs.arg), base: 0 };
    const bs = b ? this.argOf("b", b) : { arg: this.asArg("b", xs.arg), base: 0 };
    this.dispatch("layernorm", [xs.arg, ys.arg, ws.arg, bs.arg], [n, dim, xs.base, ys.base, ws.base, bs.base, w ? 1 : 0, b ? 1 : 0, f(eps)], n);
  }

  protected kSoftmax(y: Tensor, x: Tensor, n: number, dim: number): void {
    const xs = this.argOf("x", x);
    const ys = this.argOf("y", y);
    this.dispatch("softmax", [xs.arg, ys.arg], [n, dim, xs.base, ys.base], n);
  }

  private eltwise(op: number, y: Tensor, a: Tensor, b: Tensor | null, s = 0): void {
    const as = this.argOf("a", a);
    const ys = this.argOf("y", y);
    const bs = b ? this.argOf("b", b) : { arg: this.asArg("b", as.arg), base: 0 };
    const n = a.numel;
    this.dispatch("eltwise", [as.arg, bs.arg, ys.arg], [op, n, as.base, bs.base, ys.base, b ? b.numel : 1, f(s)], Math.ceil(n / 256));
  }

  protected kUnary(kind: "silu" | "gelu" | "gelu_tanh", y: Tensor, x: Tensor): void {
    this.eltwise(kind === "silu" ? 3 : kind === "gelu" ? 4 : 5, y, x, null);
  }

  protected kSwiglu(y: Tensor, g: Tensor, u: Tensor): void {
    this.eltwise(6, y, g, u);
  }

  protected kBinary(op: "add" | "mul", y: Tensor, a: Tensor, b: Tensor): void {
    this.eltwise(op === "add" ? 0 : 1, y, a, b);
  }

  protected kScale(y: Tensor, x: Tensor, s: number): void {
    this.eltwise(2, y, x, null, s);
  }

  protected kRope(x: Tensor, pos: Int32Array, invFreq: Float32Array, ropeDim: number, style: RopeStyle, af: number): void {
    const [nTok, nHeads, headDim] = x.shape;
    const half = ropeDim / 2;
    const tab = this.ropeTable(pos, invFreq, half, af);
    const xs = this.argOf("x", x);
    const at = this.stageF32(tab);
    this.dispatch(
      "rope",
      [xs.arg, this.dataRing],
      [nTok, nHeads, headDim, half, style === "neox" ? 1 : 0, xs.base, at],
      Math.ceil((nTok * nHeads * half) / 256),
    );
  }

  /**
   * cos/sin per (token, pair) with the reference's rounding: angle = f32(pos * invFreq), then
   * f32(f32(cos) * f32(af)). A step ropes q and k of every layer at the same positions, so
   * the last table is kept and reused.
   */
  private ropeTable(pos: Int32Array, invFreq: Float32Array, half: number, af: number): Float32Array {
    const last = this.lastRope;
    const same = (a: ArrayLike<number>, b: ArrayLike<number>) => a.length === b.length && Array.prototype.every.call(a, (v: number, i: number) => v === b[i]);
    if (last && last.half === half && last.af === af && same(last.pos, pos) && same(last.invFreq, invFreq)) return last.tab;
    const tab = new Float32Array(pos.length * half * 2);
    const af32 = Math.fround(af);
    for (let t = 0; t < pos.length; t++) {
      for (let i = 0; i < half; i++) {
        const theta = Math.fround(pos[t] * invFreq[i]);
        tab[(t * half + i) * 2] = Math.fround(Math.cos(theta)) * af32;
        tab[(t * half + i) * 2 + 1] = Math.fround(Math.sin(theta)) * af32;
      }
    }
    this.lastRope = { invFreq: invFreq.slice(), half, af, pos: pos.slice(), tab };
    return tab;
  }

  protected kAttention(out: Tensor, q: Tensor, k: Tensor, v: Tensor, kvLen: number, mask: AttentionMask, scale: number): void {
    const [nQ, nHeads, d] = q.shape;
    const [nKv, cap] = k.shape;
    if (v.dtype !== k.dtype) throw new DTypeError(`webgpu: attention: k is ${k.dtype} but v is ${v.dtype}`);
    const qs = this.argOf("x", q);
    const os = this.argOf("y", out);
    const ks = this.argOf("k", k);
    const vs = this.argOf("v", v);
    const scores = this.scoreBuffer(nQ * nHeads * kvLen * 4);
    let kind = 0;
    let m = 0;
    if (mask === "causal") kind = 1;
    else if (mask instanceof Uint8Array) {
      kind = 2;
      m = this.stage(mask);
    }
    this.dispatch(
      "attention",
      [qs.arg, ks.arg, vs.arg, os.arg, scores, this.dataRing],
      [nQ, nHeads, d, nKv, cap, kvLen, kind, k.dtype === "f16" ? 1 : 0, qs.base, os.base, ks.base, vs.base, 0, m, f(scale)],
      nQ * nHeads,
    );
  }

  /** The attention scores scratch, grown (never shrunk) to the largest call. */
  private scoreBuffer(bytes: number): Arg {
    if (bytes > this.maxBinding) throw new OutOfRangeError(`webgpu: attention scores of ${bytes} bytes exceed this device's ${this.maxBinding}-byte binding`);
    if (!this.scores || this.scores.buffer.size < bytes) {
      if (this.scores) this.retire(this.scores.buffer, this.scores.id);
      const size = Math.max(1 << 16, 2 ** Math.ceil(Math.log2(bytes)));
      this.scores = {
        name: "s",
        buffer: this.device.createBuffer({ size: Math.min(size, this.maxBinding), usage: GPUBufferUsage.STORAGE, label: "scores" }),
        id: this.nextId++,
      };
    }
    return this.scores;
  }

  protected kArgmax(_x: Tensor, _n: number, _dim: number): Int32Array {
    throw new BackendUnavailableError("webgpu: argmax() answers synchronously; read the logits with `await backend.readAsync(t)` and take the argmax there");
  }

  protected kTopk(_x: Tensor, _n: number, _dim: number, _k: number): TopK {
    throw new BackendUnavailableError("webgpu: topk() answers synchronously; read the logits with `await backend.readAsync(t)` and select there");
  }

  /**
   * Host f32 values to f16 or a block format are converted on the host (the block formats'
   * NaN check must answer now, and a split tensor takes host bytes chunk by chunk), then uploaded.
   */
  override fromF32(dtype: DType, shape: readonly number[], values: Float32Array | number[], opts: { layout?: Layout } = {}): Tensor {
    if (dtype !== "f16" && dtype !== "q8_0" && dtype !== "q4_0") return super.fromF32(dtype, shape, values, opts);
    const dims = [...shape];
    const src = values instanceof Float32Array ? values : Float32Array.from(values);
    if (src.length !== dims.reduce((a, b) => a * b, 1)) throw new ShapeError(`fromF32: ${src.length} values for [${dims.join(", ")}]`);
    if (dtype === "f16") return this.tensor(dtype, dims, f32ArrayToF16(src), opts);
    const bytes = new Uint8Array(byteSize(dtype, dims));
    // the tensor() call below checks the block count and scales, and names NaN/Inf
    (dtype === "q8_0" ? quantizeQ8_0 : quantizeQ4_0)(src, bytes);
    return this.tensor(dtype, dims, bytes, opts);
  }

  protected kQuantize(dst: Tensor, src: Tensor): number {
    const d = this.argOf("dst", dst);
    const s = this.argOf("src", src);
    if (dst.dtype === "f32") {
      this.copyBytes(d.arg, d.base, s.arg, s.base, src.byteLength);
      return 0;
    }
    if (dst.dtype === "f16") {
      const first = Math.floor(d.base / 4);
      const words = Math.ceil((d.base + dst.byteLength) / 4) - first;
      this.dispatch("to_f16", [d.arg, s.arg], [words, first, d.base, s.base, src.numel], Math.ceil(words / 256));
      return 0;
    }
    throw new DTypeError(
      `webgpu: quantizing a GPU tensor to ${dst.dtype} is not supported (its NaN check would have to wait for the GPU); quantize host values with fromF32`,
    );
  }

  protected kDequantize(dst: Tensor, src: Tensor): void {
    const d = this.argOf("dst", dst);
    const s = this.storageOf(src);
    const shader = `dequant_${src.dtype}` as keyof typeof SHADERS;
    const elemsPerByte = src.numel / src.byteLength;
    for (const c of s.rootRef.chunks) {
      const start = Math.max(s.offset, c.byteStart);
      const end = Math.min(s.offset + src.byteLength, c.byteStart + c.bytes);
      if (start >= end) continue;
      const n = Math.round((end - start) * elemsPerByte);
      const skip = Math.round((start - s.offset) * elemsPerByte);
      this.dispatch(
        shader,
        [{ name: "src", buffer: c.buffer, id: c.id }, d.arg, this.dataRing],
        [n, n, start - c.byteStart, d.base + skip * 4, 0, 0],
        Math.ceil(n / 256),
      );
    }
  }

  protected kGetRows(dst: Tensor, table: Tensor, ids: Int32Array): void {
    const d = this.argOf("dst", dst);
    const s = this.storageOf(table);
    const [rows, cols] = table.shape;
    const rowBytes = table.byteLength / rows;
    const shader = `dequant_${table.dtype}` as keyof typeof SHADERS;
    for (const c of s.rootRef.chunks) {
      const firstRow = (Math.max(s.offset, c.byteStart) - s.offset) / rowBytes;
      const endRow = (Math.min(s.offset + table.byteLength, c.byteStart + c.bytes) - s.offset) / rowBytes;
      // (source row within this chunk's part of the table, output row) for the ids that fall here
      const pairs: number[] = [];
      ids.forEach((id, i) => {
        if (id >= firstRow && id < endRow) pairs.push(id - firstRow, i);
      });
      if (!pairs.length) continue;
      const at = this.stage(new Uint8Array(Uint32Array.from(pairs).buffer));
      const n = (pairs.length / 2) * cols;
      const base = s.offset + firstRow * rowBytes - c.byteStart;
      this.dispatch(shader, [{ name: "src", buffer: c.buffer, id: c.id }, d.arg, this.dataRing], [n, cols, base, d.base, 1, at], Math.ceil(n / 256));
    }
  }
}

function plain(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : bytes.slice();
}

/** An f32 field of a shader's Params (the rest are u32). */
interface F32 {
  f: number;
}

function f(v: number): F32 {
  return { f: v };
}
