/**
 * WebGPU conformance on CPU adapters. The op cases and the TinyStories-656K greedy check of
 * src/webgpu.ts run on `createBackend("webgpu")` in three hosts, each on a software Vulkan
 * driver, and must match the reference and the wasm backend within BOUNDS:
 *   - Node + the `webgpu` package (Dawn) on SwiftShader (Chromium's vk_swiftshader_icd.json): no shader-f16;
 *   - Deno (wgpu) on Mesa lavapipe (mesa-vulkan-drivers): shader-f16;
 *   - headless Chromium with --enable-unsafe-webgpu: its own SwiftShader, no shader-f16.
 * A host without an adapter fails here with the reason; nothing is skipped. Reports land in
 * test/.conformance/webgpu-<host>.json and webgpu-summary.json (adapter, f16, worst NMSE per op).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WebGPUReport } from "./src/webgpu";
import { serve } from "./static-server";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const out = join(here, ".conformance");
const fixtures = resolve(process.env.EDGESPEC_FIXTURES ?? join(root, "..", "shared"));
const CHROMIUM = process.env.EDGESPEC_CHROMIUM ?? "/usr/bin/chromium";
const DENO = join(here, "node_modules", ".bin", "deno");
/** Vulkan drivers: Chromium's SwiftShader ICD for Dawn in Node, Mesa's lavapipe for Deno */
const SWIFTSHADER_ICD = process.env.EDGESPEC_SWIFTSHADER_ICD ?? "/usr/lib/chromium/vk_swiftshader_icd.json";
const LAVAPIPE_ICD = process.env.EDGESPEC_LAVAPIPE_ICD ?? "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json";
/** the flags of the wasm conformance run, plus WebGPU (unsafe: SwiftShader is not on Chromium's allow list) */
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--enable-unsafe-webgpu",
  // adapter.info.description and device are empty without it
  "--enable-webgpu-developer-features",
];
const reports: Record<string, WebGPUReport> = {};

// the module's own failure list, loaded from the built bundle like every host does
let webgpuFailures: (r: WebGPUReport) => string[];

beforeAll(async () => {
  if (!existsSync(join(here, "dist", "webgpu.js"))) throw new Error("test/dist/webgpu.js is missing: run `pnpm build` first");
  if (!existsSync(join(fixtures, "models", "tinystories-656k", "model.safetensors"))) {
    throw new Error(`TinyStories-656K is missing under ${fixtures}/models (set EDGESPEC_FIXTURES to the shared fixture folder)`);
  }
  mkdirSync(out, { recursive: true });
  ({ webgpuFailures } = await import(join(here, "dist", "webgpu.js")));
});

afterAll(() => {
  const summary = Object.fromEntries(
    Object.entries(reports).map(([k, r]) => {
      // worst NMSE per op (null: a case of that op failed to run; a report's Infinity comes back as null)
      const worst: Record<string, { ref: number; wasm: number; failed: number }> = {};
      for (const c of r.cases) {
        const w = (worst[c.op] ??= { ref: 0, wasm: 0, failed: 0 });
        w.ref = Math.max(w.ref, c.nmseRef ?? Number.POSITIVE_INFINITY);
        w.wasm = Math.max(w.wasm, c.nmseWasm ?? Number.POSITIVE_INFINITY);
        if (!c.ok) w.failed++;
      }
      return [
        k,
        {
          host: r.host,
          adapter: r.adapter?.description || r.adapter?.architecture || null,
          vendor: r.adapter?.vendor,
          shaderF16: r.adapter?.shaderF16,
          ok: r.ok,
          error: r.error,
          cases: r.cases.length,
          casesOk: r.cases.filter((c) => c.ok).length,
          greedy: r.generation.map((g) => `${g.ok ? "ok" : "FAIL"} ${g.name}`),
          worstNmse: worst,
          ms: r.ms,
        },
      ];
    }),
  );
  if (existsSync(out)) writeFileSync(join(out, "webgpu-summary.json"), JSON.stringify(summary, null, 1));
});

function save(name: string, r: WebGPUReport): WebGPUReport {
  reports[name] = r;
  writeFileSync(join(out, `webgpu-${name}.json`), JSON.stringify(r, null, 1));
  const a = r.adapter;
  process.stdout.write(
    `webgpu ${name}: ${r.host} | adapter ${a ? `${a.vendor} ${a.architecture} "${a.description}" fallback=${a.isFallbackAdapter} shader-f16=${a.shaderF16}` : "none"} | ${r.cases.filter((c) => c.ok).length}/${r.cases.length} cases, greedy ${r.generation.filter((g) => g.ok).length}/${r.generation.length}, ${r.ms} ms\n`,
  );
  return r;
}

function runJson(cmd: string, args: string[], env: Record<string, string>, what: string): WebGPUReport {
  const p = spawnSync(cmd, args, { cwd: here, encoding: "utf8", timeout: 600_000, maxBuffer: 64 << 20, env: { ...process.env, ...env } });
  const last = p.stdout?.trim().split("\n").pop() ?? "";
  if (p.status !== 0 || !last.startsWith("{"))
    throw new Error(`${what} exited with ${p.status ?? p.signal}: ${p.stderr || p.error}\n${p.stdout?.slice(-2000)}`);
  return JSON.parse(last);
}

function need(path: string, what: string): void {
  if (!existsSync(path)) throw new Error(`${what} not found at ${path}`);
}

describe("WebGPU backend against the reference and wasm, on CPU adapters", () => {
  it("node + webgpu (Dawn) on SwiftShader: every op within bounds, greedy = wasm", () => {
    need(SWIFTSHADER_ICD, "SwiftShader's Vulkan ICD (apt-get install chromium; or set EDGESPEC_SWIFTSHADER_ICD)");
    const r = save("node", runJson(process.execPath, ["node-webgpu.mjs"], { VK_ICD_FILENAMES: SWIFTSHADER_ICD, EDGESPEC_FIXTURES: fixtures }, "node webgpu"));
    expect(webgpuFailures(r)).toEqual([]);
    expect(r.adapter?.description).toMatch(/swiftshader/i);
    expect(r.adapter?.shaderF16).toBe(false);
    expect(r.cases.length).toBeGreaterThan(80);
    expect(r.generation.length).toBe(5);
  }, 600_000);

  it("deno (wgpu) on Mesa lavapipe: every op within bounds, greedy = wasm, shader-f16 available", () => {
    need(DENO, "the npm deno binary (pnpm install)");
    need(LAVAPIPE_ICD, "Mesa's lavapipe Vulkan ICD (apt-get install mesa-vulkan-drivers libvulkan1; or set EDGESPEC_LAVAPIPE_ICD)");
    const r = save(
      "deno",
      runJson(DENO, ["run", "--allow-read", "--allow-env", "deno/webgpu.js"], { VK_ICD_FILENAMES: LAVAPIPE_ICD, EDGESPEC_FIXTURES: fixtures }, "deno webgpu"),
    );
    expect(webgpuFailures(r)).toEqual([]);
    expect(r.adapter?.description).toMatch(/llvmpipe/i);
    expect(r.adapter?.shaderF16).toBe(true);
    expect(r.cases.length).toBe(reports.node?.cases.length ?? r.cases.length);
    expect(r.generation.length).toBe(5);
  }, 600_000);

  it("chromium --enable-unsafe-webgpu on SwiftShader: every op within bounds, greedy = wasm", async () => {
    need(CHROMIUM, "Chromium (apt-get install chromium; or set EDGESPEC_CHROMIUM)");
    const server = await serve(root, ["test/browser", "test/dist", "packages/runtime/dist", "packages/runtime/kernels"], { fixtures });
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      // 127.0.0.1 is a secure context: navigator.gpu is there
      await page.goto(`${server.url}/test/browser/webgpu.html`);
      await page.waitForFunction(() => (window as unknown as { __report?: unknown }).__report !== undefined, undefined, { timeout: 600_000 });
      const r = await page.evaluate(() => (window as unknown as { __report: WebGPUReport | { error: string } }).__report);
      if (!("cases" in r)) throw new Error(`chromium: ${r.error}`);
      save("chromium", r);
      expect(webgpuFailures(r)).toEqual([]);
      expect(r.adapter?.architecture).toMatch(/swiftshader/i);
      expect(r.adapter?.shaderF16).toBe(false);
      expect(r.cases.length).toBe(reports.node?.cases.length ?? r.cases.length);
      expect(r.generation.length).toBe(5);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      await server.close();
    }
  }, 600_000);
});
