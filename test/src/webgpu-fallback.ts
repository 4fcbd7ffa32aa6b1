/**
 * What the WebGPU paths do in a host without WebGPU (workerd: no navigator.gpu). The
 * runtime must say why WebGPU is unavailable, `createBackend("webgpu")` and a model load
 * with `backend: "webgpu"` must fail with BackendUnavailableError, and `backend: "auto"`
 * must load on wasm and decode there (TinyStories-656K greedy = the numpy reference's tokens).
 */
import { BackendUnavailableError, createBackend, webgpuUnavailableReason } from "@edgespec/runtime";
import { loadLlama } from "../../packages/models/src/load";
import golden from "../../packages/models/test/golden/tinystories-656k.json";
import { MemoryModelSource, TINYSTORIES_FILES } from "./memory-source";

export interface FixtureFetcher {
  fetch(url: string): Promise<Response>;
}

export interface FallbackError {
  name: string;
  message: string;
  /** an instance of the runtime's BackendUnavailableError */
  unavailable: boolean;
}

export interface FallbackReport {
  hasNavigatorGpu: boolean;
  unavailableReason: string | null;
  createBackendWebgpu: FallbackError | "succeeded";
  autoBackend: string;
  autoReason: string;
  /** greedy tokens from BOS on the "auto" model, and the reference's */
  autoTokens: number[];
  goldenTokens: number[];
  loadWebgpu: FallbackError | "succeeded";
}

function describe(e: unknown): FallbackError {
  const err = e as Error;
  return { name: err?.name ?? typeof e, message: String(err?.message ?? e), unavailable: e instanceof BackendUnavailableError };
}

export async function webgpuFallback(fixtures: FixtureFetcher): Promise<FallbackReport> {
  const files: Record<string, Uint8Array> = {};
  for (const f of TINYSTORIES_FILES) {
    const r = await fixtures.fetch(`http://fixtures/models/tinystories-656k/${f}`);
    if (!r.ok) throw new Error(`fixture ${f}: HTTP ${r.status}`);
    files[f] = new Uint8Array(await r.arrayBuffer());
  }
  const source = new MemoryModelSource("tinystories-656k", files);
  const report: Partial<FallbackReport> = {
    hasNavigatorGpu: !!(globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu,
    unavailableReason: await webgpuUnavailableReason(),
  };
  try {
    await (createBackend as (name: string) => Promise<unknown>)("webgpu");
    report.createBackendWebgpu = "succeeded";
  } catch (e) {
    report.createBackendWebgpu = describe(e);
  }
  const auto = await loadLlama(source, { backend: "auto" });
  report.autoBackend = auto.model.backend.name;
  report.autoReason = auto.backendChoice.reason;
  const n = 24;
  let logits = auto.model.prefill(golden.bos_greedy.prompt).logits;
  const tokens: number[] = [];
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
    tokens.push(best);
    if (i + 1 < n) logits = auto.model.step(best);
  }
  auto.model.free();
  report.autoTokens = tokens;
  report.goldenTokens = golden.bos_greedy.tokens.slice(0, n);
  try {
    const m = await loadLlama(source, { backend: "webgpu" });
    m.model.free();
    report.loadWebgpu = "succeeded";
  } catch (e) {
    report.loadWebgpu = describe(e);
  }
  return report as FallbackReport;
}
