// workerd has no navigator.gpu: the WebGPU paths must say so and fall back, under
// @cloudflare/vitest-pool-workers against the conformance Worker (dist/worker.js), which
// loads TinyStories-656K through the FIXTURES service binding.
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import type { FallbackReport } from "../src/webgpu-fallback";

const worker = (env as unknown as { CONFORMANCE: { fetch(url: string): Promise<Response> } }).CONFORMANCE;

it("workerd: no WebGPU; createBackend/loadLlama 'webgpu' throw BackendUnavailableError, 'auto' loads and decodes on wasm", async () => {
  const res = await worker.fetch("http://conformance/webgpu-fallback");
  if (res.status !== 200) throw new Error(`GET /webgpu-fallback: HTTP ${res.status}: ${await res.text()}`);
  const r = (await res.json()) as FallbackReport;
  expect(r.hasNavigatorGpu).toBe(false);
  expect(r.unavailableReason).toMatch(/navigator\.gpu/);
  expect(r.createBackendWebgpu).toMatchObject({ name: "BackendUnavailableError", unavailable: true });
  expect((r.createBackendWebgpu as { message: string }).message).toMatch(/no navigator\.gpu/);
  expect(r.loadWebgpu).toMatchObject({ name: "BackendUnavailableError", unavailable: true });
  expect((r.loadWebgpu as { message: string }).message).toMatch(/WebGPU is not available.*navigator\.gpu/);
  expect(r.autoBackend).toBe("wasm");
  expect(r.autoReason).toMatch(/no WebGPU/);
  expect(r.autoTokens).toEqual(r.goldenTokens);
  expect(r.autoTokens.length).toBe(24);
});
