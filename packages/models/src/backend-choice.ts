/// <reference types="@webgpu/types" />
/**
 * Which backend runs a model: the caller's, one asked for by name, or "auto".
 *
 *   "auto":  no WebGPU entry point (navigator.gpu / the `gpu` option), no adapter, or only
 *            a software one (isFallbackAdapter) -> wasm
 *            else: time one decode-shaped step (every layer's matmuls + norms, the LM head,
 *            one read at the end, as decoding does) on both backends with random weights in
 *            the load dtype, take the faster, and remember the decision per adapter, shape
 *            and dtype (in memory, and in localStorage where there is one)
 *
 * Decode steps are GEMVs: memory-bound on a CPU, and on a GPU paid for in dispatches and one
 * readback per token, so a small model can be faster in wasm even with a GPU present. Only a
 * measurement on the actual shapes tells. workerd has no navigator.gpu: "auto" is wasm there.
 */
import {
  type Backend,
  type BackendName,
  BackendUnavailableError,
  createBackend,
  OutOfRangeError,
  splitmix32,
  type Tensor,
  WebGPUBackend,
} from "@edgespec/runtime";
import type { LlamaConfig } from "./llama/config";
import type { WeightDType } from "./weights";

/** A backend, or how to get one. */
export type BackendRequest = Backend | "auto" | "wasm" | "webgpu";

export interface BackendChoice {
  /** the backend that runs the model */
  backend: BackendName;
  /** why it was picked (the caller's, asked for, WebGPU unavailable and why, or the timings) */
  reason: string;
  /** one decode-shaped step on each backend, median ms (when "auto" measured, or remembered) */
  wasmMs?: number;
  webgpuMs?: number;
  /** the decision was remembered from an earlier measurement */
  cached?: boolean;
}

/** The matmul shapes of one decode step, and the weights' dtype. */
export interface StepShape {
  hidden: number;
  /** numHeads × headDim (q_proj rows, o_proj columns) */
  qDim: number;
  /** numKvHeads × headDim */
  kvDim: number;
  intermediate: number;
  vocab: number;
  layers: number;
  dtype: WeightDType;
}

export function stepShape(c: LlamaConfig, dtype: WeightDType): StepShape {
  return {
    hidden: c.hiddenSize,
    qDim: c.numHeads * c.headDim,
    kvDim: c.numKvHeads * c.headDim,
    intermediate: c.intermediateSize,
    vocab: c.vocabSize,
    layers: c.numLayers,
    dtype,
  };
}

/** What the chooser uses of a WebGPUBackend (tests bring stand-ins). */
export interface WebGPULike extends Backend {
  readonly adapter: { description: string; vendor: string; architecture?: string; device?: string; isFallbackAdapter: boolean };
  destroy(): void;
}

export interface ChooseOptions {
  /** the WebGPU entry point; default navigator.gpu (in Node: `create([])` of the `webgpu` package) */
  gpu?: GPU;
  /** threads of a wasm backend made here */
  threads?: number | "auto";
  /** tests: stand-ins for the backends, the timing and the persistent store */
  hooks?: Partial<ChooserHooks>;
}

export interface ChooserHooks {
  createWasm(threads?: number | "auto"): Promise<Backend>;
  createWebGPU(gpu: GPU): Promise<WebGPULike>;
  /** median ms of one decode-shaped step; may stop early once a step takes more than `loseAboveMs` */
  timeStep(backend: Backend, shape: StepShape, loseAboveMs?: number): Promise<number>;
  /** where decisions outlive the page (localStorage); null for none */
  storage: Pick<Storage, "getItem" | "setItem"> | null;
}

interface Remembered {
  backend: "wasm" | "webgpu";
  wasmMs: number;
  webgpuMs: number;
}

const remembered = new Map<string, Remembered>();
const STORAGE_PREFIX = "edgespec.backendChoice:";

/** Forget every remembered "auto" decision of this process (tests; a changed driver). */
export function clearBackendChoices(): void {
  remembered.clear();
}

/** The backend for a model of this shape, and why it was chosen. */
export async function chooseBackend(
  request: BackendRequest | undefined,
  shape: StepShape,
  opts: ChooseOptions = {},
): Promise<{ backend: Backend; choice: BackendChoice }> {
  const hooks: ChooserHooks = { ...defaultHooks(), ...opts.hooks };
  if (request === undefined || request === "wasm") {
    const backend = await hooks.createWasm(opts.threads);
    return { backend, choice: { backend: "wasm", reason: request === undefined ? "the default" : "asked for" } };
  }
  if (typeof request === "object" && request !== null && typeof (request as Backend).matmul === "function") {
    return { backend: request, choice: { backend: request.name, reason: "the caller's backend" } };
  }
  if (request !== "auto" && request !== "webgpu")
    throw new OutOfRangeError(`backend must be a Backend, "auto", "wasm" or "webgpu", got ${JSON.stringify(request)}`);

  const gpu = opts.gpu ?? (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (request === "webgpu") {
    if (!gpu)
      throw new BackendUnavailableError("WebGPU is not available: this host has no navigator.gpu (in Node, pass `gpu`: create([]) from the `webgpu` package)");
    const backend = await hooks.createWebGPU(gpu);
    return { backend, choice: { backend: "webgpu", reason: `asked for (${adapterName(backend)})` } };
  }

  const wasm = async (reason: string, times: Partial<Remembered> = {}, cached?: boolean) => ({
    backend: await hooks.createWasm(opts.threads),
    choice: { backend: "wasm" as const, reason, wasmMs: times.wasmMs, webgpuMs: times.webgpuMs, ...(cached ? { cached } : {}) },
  });
  if (!gpu) return wasm("no WebGPU here (no navigator.gpu, no gpu option)");
  let gpuBackend: WebGPULike;
  try {
    gpuBackend = await hooks.createWebGPU(gpu);
  } catch (e) {
    if (e instanceof BackendUnavailableError) return wasm(`WebGPU is unavailable: ${e.message}`);
    throw e;
  }
  // a software adapter (SwiftShader, lavapipe) runs on the CPU the wasm kernels already use well,
  // and slowly: a step of a 135M model takes SwiftShader tens of seconds, too long even to time
  if (gpuBackend.adapter.isFallbackAdapter) {
    const name = adapterName(gpuBackend);
    gpuBackend.destroy();
    return wasm(`the WebGPU adapter (${name}) is a software fallback`);
  }

  const key = `${adapterName(gpuBackend)}|${shape.hidden},${shape.qDim},${shape.kvDim},${shape.intermediate},${shape.vocab},${shape.layers}|${shape.dtype}`;
  const known = recall(key, hooks.storage);
  if (known) {
    if (known.backend === "webgpu") return { backend: gpuBackend, choice: { ...known, reason: timingReason(known), cached: true } };
    gpuBackend.destroy();
    return wasm(timingReason(known), known, true);
  }

  const wasmBackend = await hooks.createWasm(opts.threads);
  const wasmMs = await hooks.timeStep(wasmBackend, shape);
  let webgpuMs: number;
  try {
    // a GPU step slower than twice wasm's has lost: no need to time it more than once
    webgpuMs = await hooks.timeStep(gpuBackend, shape, 2 * wasmMs);
  } catch (e) {
    // "auto" never fails because of the GPU; a failure is not remembered (it may pass next time)
    gpuBackend.destroy();
    return { backend: wasmBackend, choice: { backend: "wasm", reason: `WebGPU failed the benchmark: ${(e as Error).message}`, wasmMs } };
  }
  const decided: Remembered = { backend: webgpuMs < wasmMs ? "webgpu" : "wasm", wasmMs, webgpuMs };
  remember(key, decided, hooks.storage);
  const choice: BackendChoice = { backend: decided.backend, reason: timingReason(decided), wasmMs, webgpuMs };
  if (decided.backend === "webgpu") {
    (wasmBackend as { close?: () => void }).close?.();
    return { backend: gpuBackend, choice };
  }
  gpuBackend.destroy();
  return { backend: wasmBackend, choice };
}

function adapterName(b: WebGPULike): string {
  const a = b.adapter;
  return a.description || [a.vendor, a.architecture, a.device].filter(Boolean).join(" ") || "unknown adapter";
}

function timingReason(r: Remembered): string {
  const ms = (x: number) => `${x.toFixed(2)} ms`;
  return `a decode step took ${ms(r.webgpuMs)} on webgpu, ${ms(r.wasmMs)} on wasm`;
}

function recall(key: string, storage: ChooserHooks["storage"]): Remembered | null {
  const hit = remembered.get(key);
  if (hit) return hit;
  try {
    const raw = storage?.getItem(STORAGE_PREFIX + key);
    if (!raw) return null;
    const r = JSON.parse(raw) as Remembered;
    if ((r.backend !== "wasm" && r.backend !== "webgpu") || !Number.isFinite(r.wasmMs) || !Number.isFinite(r.webgpuMs)) return null;
    remembered.set(key, r);
    return r;
  } catch {
    // a full, blocked or corrupt store only costs a new measurement
    return null;
  }
}

function remember(key: string, r: Remembered, storage: ChooserHooks["storage"]): void {
  remembered.set(key, r);
  try {
    storage?.setItem(STORAGE_PREFIX + key, JSON.stringify(r));
  } catch {
    // as above
  }
}

function defaultHooks(): ChooserHooks {
  let storage: ChooserHooks["storage"] = null;
  try {
    const ls = (globalThis as { localStorage?: Storage }).localStorage;
    if (ls && typeof ls.getItem === "function") storage = ls;
  } catch {
    // some hosts throw on the mere access (opaque origins, blocked storage)
  }
  return { createWasm: (threads) => createBackend("wasm", { threads }), createWebGPU, timeStep: timeDecodeStep, storage };
}

function createWebGPU(gpu: GPU): Promise<WebGPULike> {
  return WebGPUBackend.create({ gpu });
}

/** Each benchmark matrix holds at most this many weights: the timing ratio, not the model's memory, is what matters. */
const MAX_WEIGHTS = 1 << 22;

/**
 * Median ms of one decode-shaped step on `be` (after one untimed step; stopping once a step
 * takes more than `loseAboveMs`): per layer rmsnorm, q/k/v/o, add, rmsnorm, gate/up, swiglu,
 * down, add (attention and RoPE left out: they depend on the context), then the head, and one
 * read at the end as decoding does. Weights are random in the load dtype;
 * one matrix per shape is shared by all layers, rows capped at MAX_WEIGHTS per matrix.
 */
export async function timeDecodeStep(be: Backend, shape: StepShape, loseAboveMs = Number.POSITIVE_INFINITY, reps = 5): Promise<number> {
  const made: Tensor[] = [];
  const keep = (t: Tensor) => {
    made.push(t);
    return t;
  };
  const pattern = randomPattern();
  const values = (n: number) => {
    const v = new Float32Array(n);
    for (let i = 0; i < n; i += pattern.length) v.set(pattern.subarray(0, Math.min(pattern.length, n - i)), i);
    return v;
  };
  const vector = (n: number) => keep(be.tensor("f32", [1, n], values(n)));
  const matmul = (rows: number, cols: number) => {
    const r = Math.max(1, Math.min(rows, Math.floor(MAX_WEIGHTS / cols)));
    // block formats need rows a multiple of 32 wide, as uploadWeight does
    const dtype = shape.dtype === "f32" || cols % 32 === 0 ? shape.dtype : "f32";
    const w = keep(be.fromF32(dtype, [r, cols], values(r * cols)));
    const x = vector(cols);
    const y = keep(be.empty("f32", [1, r]));
    return () => be.matmul(y, w, x);
  };
  try {
    const { hidden: H, intermediate: I } = shape;
    const norm = keep(be.tensor("f32", [H], values(H)));
    const h = vector(H);
    const x = vector(H);
    const g = vector(I);
    const u = vector(I);
    const act = keep(be.empty("f32", [1, I]));
    const layer = [matmul(shape.qDim, H), matmul(shape.kvDim, H), matmul(shape.kvDim, H), matmul(H, shape.qDim), matmul(I, H), matmul(I, H), matmul(H, I)];
    const rows = Math.max(1, Math.min(shape.vocab, Math.floor(MAX_WEIGHTS / H)));
    const head = keep(be.fromF32(shape.dtype === "f32" || H % 32 === 0 ? shape.dtype : "f32", [rows, H], values(rows * H)));
    const logits = keep(be.empty("f32", [1, rows]));
    const step = async () => {
      for (let l = 0; l < shape.layers; l++) {
        be.rmsnorm(h, x, norm, 1e-5);
        for (const [i, mm] of layer.entries()) {
          mm();
          if (i === 3) be.add(h, h, x);
        }
        be.rmsnorm(h, x, norm, 1e-5);
        be.swiglu(act, g, u);
        be.add(h, h, x);
      }
      be.matmul(logits, head, h);
      await be.readAsync(logits);
    };
    await be.finish();
    // the first step compiles pipelines / tiers up the kernels
    await step();
    const times: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t = performance.now();
      await step();
      times.push(performance.now() - t);
      if (times[r] > loseAboveMs) break;
    }
    return times.sort((a, b) => a - b)[times.length >> 1];
  } finally {
    for (const t of made) t.free();
  }
}

/** 4099 (prime, so rows do not repeat it in step) values in [-1, 1): no zeros or denormals to skew the timing. */
function randomPattern(): Float32Array {
  const rand = splitmix32(4099);
  return Float32Array.from({ length: 4099 }, () => rand() * 2 - 1);
}
