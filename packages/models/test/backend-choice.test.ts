/**
 * Backend choice: names, the caller's backend, "auto" falling back to wasm with the reason
 * (no navigator.gpu, no adapter, a failing benchmark), picking the faster of measured steps,
 * and remembering the decision per adapter + shape + dtype in memory and in a storage.
 * The backends and timings are stand-ins here; the real timing runs once on wasm.
 */
import { type Backend, BackendUnavailableError, createBackend, OutOfRangeError, type WasmBackend } from "@edgespec/runtime";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type ChooserHooks, chooseBackend, clearBackendChoices, type StepShape, timeDecodeStep, type WebGPULike } from "../src/backend-choice";
import { loadLlama } from "../src/load";
import { resolveModelSource } from "../src/sources/node";
import { asyncOnly } from "./async-only";
import { sharedDir } from "./shared";

const SHAPE: StepShape = { hidden: 64, qDim: 64, kvDim: 32, intermediate: 172, vocab: 512, layers: 5, dtype: "q8_0" };

/** A GPU entry point with no adapter: what a WebGPU backend sees on a machine without a usable GPU. */
const NO_ADAPTER_GPU = { requestAdapter: async () => null } as unknown as GPU;
/** Any non-null GPU: the fake createWebGPU below does not look at it. */
const SOME_GPU = {} as GPU;

let wasm: Backend;
beforeAll(async () => {
  wasm = await createBackend("wasm");
});
afterEach(() => clearBackendChoices());

function fakeGpuBackend(description = "Fake GPU 9000", isFallbackAdapter = false): WebGPULike & { destroyed: boolean } {
  const be = {
    name: "webgpu",
    adapter: { description, vendor: "fake", isFallbackAdapter },
    destroyed: false,
    destroy() {
      be.destroyed = true;
    },
  };
  return be as unknown as WebGPULike & { destroyed: boolean };
}

/** Hooks whose steps take `ms[backend name]`; counts what they were asked. */
function fakeHooks(ms: { wasm: number; webgpu: number }, gpuBackend = fakeGpuBackend(), storage: ChooserHooks["storage"] = null) {
  const calls = { createWebGPU: 0, timeStep: 0, loseAbove: [] as (number | undefined)[] };
  const hooks: Partial<ChooserHooks> = {
    createWasm: async () => wasm,
    createWebGPU: async () => {
      calls.createWebGPU++;
      return gpuBackend;
    },
    timeStep: async (be, _shape, loseAboveMs) => {
      calls.timeStep++;
      calls.loseAbove.push(loseAboveMs);
      return ms[be.name as "wasm" | "webgpu"];
    },
    storage,
  };
  return { hooks, calls, gpuBackend };
}

function memoryStorage(): NonNullable<ChooserHooks["storage"]> & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return { data, getItem: (k) => data.get(k) ?? null, setItem: (k, v) => void data.set(k, v) };
}

describe("chooseBackend", () => {
  it("makes wasm by default and by name, and passes the caller's backend through", async () => {
    const { hooks } = fakeHooks({ wasm: 1, webgpu: 1 });
    expect((await chooseBackend(undefined, SHAPE, { hooks })).choice).toEqual({ backend: "wasm", reason: "the default" });
    expect((await chooseBackend("wasm", SHAPE, { hooks })).choice).toEqual({ backend: "wasm", reason: "asked for" });
    const ref = await createBackend("reference");
    const given = await chooseBackend(ref, SHAPE, { hooks });
    expect(given.backend).toBe(ref);
    expect(given.choice).toEqual({ backend: "reference", reason: "the caller's backend" });
  });

  it("rejects an unknown name", async () => {
    await expect(chooseBackend("cuda" as never, SHAPE)).rejects.toThrow(OutOfRangeError);
    await expect(chooseBackend("cuda" as never, SHAPE)).rejects.toThrow(/"auto", "wasm" or "webgpu", got "cuda"/);
  });

  it('"auto" without navigator.gpu (Node, workerd) is wasm, says why, and never tries WebGPU', async () => {
    expect((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu).toBeUndefined();
    const { hooks, calls } = fakeHooks({ wasm: 10, webgpu: 1 });
    const r = await chooseBackend("auto", SHAPE, { hooks });
    expect(r.backend).toBe(wasm);
    expect(r.choice.backend).toBe("wasm");
    expect(r.choice.reason).toMatch(/no navigator\.gpu/);
    expect(calls.createWebGPU).toBe(0);
    expect(calls.timeStep).toBe(0);
  });

  it('"auto" with a GPU entry point but no adapter is wasm with the backend\'s reason', async () => {
    const r = await chooseBackend("auto", SHAPE, {
      gpu: SOME_GPU,
      hooks: {
        createWasm: async () => wasm,
        createWebGPU: async () => {
          throw new BackendUnavailableError("requestAdapter() found no adapter");
        },
      },
    });
    expect(r.choice).toEqual({ backend: "wasm", reason: "WebGPU is unavailable: requestAdapter() found no adapter" });
  });

  it('"auto" does not time a software adapter: wasm', async () => {
    const { hooks, calls, gpuBackend } = fakeHooks({ wasm: 10, webgpu: 1 }, fakeGpuBackend("SwiftShader driver 5.0.0", true));
    const r = await chooseBackend("auto", SHAPE, { gpu: SOME_GPU, hooks });
    expect(r.choice).toEqual({ backend: "wasm", reason: "the WebGPU adapter (SwiftShader driver 5.0.0) is a software fallback" });
    expect(calls.timeStep).toBe(0);
    expect(gpuBackend.destroyed).toBe(true);
  });

  it('"auto" and "webgpu" through the real runtime with a GPU that has no adapter: wasm / BackendUnavailableError', async () => {
    const auto = await chooseBackend("auto", SHAPE, { gpu: NO_ADAPTER_GPU });
    expect(auto.choice.backend).toBe("wasm");
    expect(auto.choice.reason).toMatch(/^WebGPU is unavailable: /);
    await expect(chooseBackend("webgpu", SHAPE, { gpu: NO_ADAPTER_GPU })).rejects.toThrow(BackendUnavailableError);
  });

  it('"webgpu" without a GPU entry point is a BackendUnavailableError that says how to get one in Node', async () => {
    await expect(chooseBackend("webgpu", SHAPE)).rejects.toThrow(BackendUnavailableError);
    await expect(chooseBackend("webgpu", SHAPE)).rejects.toThrow(/no navigator\.gpu.*`webgpu` package/);
    const { hooks, gpuBackend } = fakeHooks({ wasm: 1, webgpu: 100 });
    const r = await chooseBackend("webgpu", SHAPE, { gpu: SOME_GPU, hooks });
    // asked for by name: no benchmark, even though it would lose
    expect(r.backend).toBe(gpuBackend);
    expect(r.choice).toEqual({ backend: "webgpu", reason: "asked for (Fake GPU 9000)" });
  });

  it('"auto" picks the faster backend, frees the other, and remembers per adapter, shape and dtype', async () => {
    const fast = fakeHooks({ wasm: 8, webgpu: 2 });
    const a = await chooseBackend("auto", SHAPE, { gpu: SOME_GPU, hooks: fast.hooks });
    expect(a.backend).toBe(fast.gpuBackend);
    expect(a.choice).toEqual({ backend: "webgpu", reason: "a decode step took 2.00 ms on webgpu, 8.00 ms on wasm", wasmMs: 8, webgpuMs: 2 });
    expect(fast.calls.timeStep).toBe(2);
    // wasm is timed in full, the GPU only until it is clearly slower
    expect(fast.calls.loseAbove).toEqual([undefined, 16]);
    expect(fast.gpuBackend.destroyed).toBe(false);

    // same adapter, shape and dtype: remembered, not measured again (the fake timings now say otherwise)
    const again = fakeHooks({ wasm: 1, webgpu: 50 });
    const b = await chooseBackend("auto", SHAPE, { gpu: SOME_GPU, hooks: again.hooks });
    expect(b.choice).toMatchObject({ backend: "webgpu", cached: true, wasmMs: 8, webgpuMs: 2 });
    expect(again.calls.timeStep).toBe(0);

    // another dtype, another shape or another adapter: measured
    for (const [shape, adapter] of [
      [{ ...SHAPE, dtype: "f32" }, "Fake GPU 9000"],
      [{ ...SHAPE, layers: 6 }, "Fake GPU 9000"],
      [SHAPE, "Other GPU"],
    ] as const) {
      const slow = fakeHooks({ wasm: 1, webgpu: 50 }, fakeGpuBackend(adapter));
      const c = await chooseBackend("auto", shape, { gpu: SOME_GPU, hooks: slow.hooks });
      expect(c.backend).toBe(wasm);
      expect(c.choice).toEqual({ backend: "wasm", reason: "a decode step took 50.00 ms on webgpu, 1.00 ms on wasm", wasmMs: 1, webgpuMs: 50 });
      expect(slow.calls.timeStep).toBe(2);
      expect(slow.gpuBackend.destroyed).toBe(true);
    }
  });

  it("remembers across processes through the storage, and ignores a corrupt entry", async () => {
    const storage = memoryStorage();
    const first = fakeHooks({ wasm: 3, webgpu: 9 }, fakeGpuBackend(), storage);
    expect((await chooseBackend("auto", SHAPE, { gpu: SOME_GPU, hooks: first.hooks })).choice.backend).toBe("wasm");
    expect([...storage.data.keys()]).toEqual(["edgespec.backendChoice:Fake GPU 9000|64,64,32,172,512,5|q8_0"]);
    clearBackendChoices(); // a new page / process: only the storage remembers
    const second = fakeHooks({ wasm: 9, webgpu: 3 }, fakeGpuBackend(), storage);
    const r = await chooseBackend("auto", SHAPE, { gpu: SOME_GPU, hooks: second.hooks });
    expect(r.choice).toMatchObject({ backend: "wasm", cached: true, wasmMs: 3, webgpuMs: 9 });
    expect(second.calls.timeStep).toBe(0);
    expect(second.gpuBackend.destroyed).toBe(true);

    clearBackendChoices();
    for (const k of storage.data.keys()) storage.data.set(k, "{not json");
    const third = fakeHooks({ wasm: 9, webgpu: 3 }, fakeGpuBackend(), storage);
    expect((await chooseBackend("auto", SHAPE, { gpu: SOME_GPU, hooks: third.hooks })).choice.backend).toBe("webgpu");
    expect(third.calls.timeStep).toBe(2);
  });

  it("a WebGPU failure during the benchmark falls back to wasm and is not remembered", async () => {
    const gpuBackend = fakeGpuBackend();
    const hooks: Partial<ChooserHooks> = {
      createWasm: async () => wasm,
      createWebGPU: async () => gpuBackend,
      timeStep: async (be) => {
        if (be.name === "webgpu") throw new BackendUnavailableError("the device was lost");
        return 5;
      },
    };
    const r = await chooseBackend("auto", SHAPE, { gpu: SOME_GPU, hooks });
    expect(r.choice).toEqual({ backend: "wasm", reason: "WebGPU failed the benchmark: the device was lost", wasmMs: 5 });
    expect((gpuBackend as unknown as { destroyed: boolean }).destroyed).toBe(true);
    const next = fakeHooks({ wasm: 5, webgpu: 1 });
    expect((await chooseBackend("auto", SHAPE, { gpu: SOME_GPU, hooks: next.hooks })).choice.backend).toBe("webgpu");
  });
});

describe("timeDecodeStep", () => {
  it("measures a step on wasm, with sync reads and with async reads only (as on WebGPU)", async () => {
    const ms = await timeDecodeStep(wasm, SHAPE, Number.POSITIVE_INFINITY, 3);
    expect(Number.isFinite(ms) && ms > 0).toBe(true);
    const used = (wasm as WasmBackend).memoryStats().used;
    expect(await timeDecodeStep(asyncOnly(wasm), { ...SHAPE, dtype: "q4_0" }, Number.POSITIVE_INFINITY, 3)).toBeGreaterThan(0);
    // every benchmark tensor is freed again
    expect((wasm as WasmBackend).memoryStats().used).toBe(used);
  });

  it("stops timing a backend once a step is slower than loseAboveMs", async () => {
    let reads = 0;
    const slow = new Proxy(wasm, {
      get(target, prop, receiver) {
        if (prop === "readAsync")
          return async (t: never) => {
            reads++;
            await new Promise((r) => setTimeout(r, 20));
            return target.read.call(receiver, t);
          };
        return Reflect.get(target, prop, receiver);
      },
    });
    expect(await timeDecodeStep(slow, SHAPE, 5)).toBeGreaterThan(5);
    // one untimed step, then one timed step that lost
    expect(reads).toBe(2);
    reads = 0;
    await timeDecodeStep(slow, SHAPE);
    expect(reads).toBe(6);
  });

  it("caps huge matrices (a 128k-token head is not allocated whole)", async () => {
    const spy = vi.spyOn(wasm, "fromF32");
    await timeDecodeStep(
      wasm,
      { ...SHAPE, hidden: 2048, qDim: 2048, kvDim: 512, intermediate: 64, vocab: 128256, layers: 1, dtype: "q8_0" },
      Number.POSITIVE_INFINITY,
      1,
    );
    for (const [, shape] of spy.mock.calls) expect(shape[0] * shape[1]).toBeLessThanOrEqual(1 << 22);
    spy.mockRestore();
  });
});

describe("loadLlama with a backend request", () => {
  const model = () => resolveModelSource(sharedDir("models/stories260K/stories260K.bin"));

  it('"auto" in Node without a gpu loads on wasm and reports why', async () => {
    const { model: m, backendChoice } = await loadLlama(await model(), { backend: "auto" });
    expect(backendChoice.backend).toBe("wasm");
    expect(backendChoice.reason).toMatch(/no navigator\.gpu/);
    expect(m.backend.name).toBe("wasm");
    expect(m.prefill([1, 403]).rows).toBe(1);
    m.free();
  });

  it('"webgpu" without a GPU fails with BackendUnavailableError before any weight is uploaded; a bogus name is refused', async () => {
    await expect(loadLlama(await model(), { backend: "webgpu" })).rejects.toThrow(BackendUnavailableError);
    await expect(loadLlama(await model(), { backend: "gpu" as never })).rejects.toThrow(/backend must be a Backend, "auto", "wasm" or "webgpu"/);
  });

  it("the caller's backend and the default are reported as such", async () => {
    const given = await loadLlama(await model(), { backend: wasm });
    expect(given.backendChoice).toEqual({ backend: "wasm", reason: "the caller's backend" });
    expect(given.model.backend).toBe(wasm);
    given.model.free();
    const plain = await loadLlama(await model());
    expect(plain.backendChoice).toEqual({ backend: "wasm", reason: "the default" });
    plain.model.free();
  });
});
