/**
 * Cross-host conformance. The same op vectors (src/harness.ts) run on the same kernel
 * bytes in Node, Deno (npm `deno`), headless Chromium (Debian chromium + playwright-core)
 * and workerd (@cloudflare/vitest-pool-workers). Every host must pass the in-host NMSE
 * checks against the reference backend, and the simd128 builds must agree byte for byte.
 * The relaxed-SIMD build runs wherever the host supports it (Node with its flag, Deno,
 * Chromium) and is checked against the reference only: fused multiply-add may round
 * differently on other hardware.
 * Reports land in test/.conformance/ (one JSON per host, plus summary.json).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConformanceReport, compareReports } from "./src/harness";
import { serve } from "./static-server";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const out = join(here, ".conformance");
const CHROMIUM = process.env.EDGESPEC_CHROMIUM ?? "/usr/bin/chromium";
const DENO = join(here, "node_modules", ".bin", "deno");
const reports: Record<string, ConformanceReport> = {};

function save(name: string, r: ConformanceReport): ConformanceReport {
  reports[name] = r;
  writeFileSync(join(out, `${name}.json`), JSON.stringify(r, null, 1));
  return r;
}

function failures(r: ConformanceReport): string[] {
  return r.cases.filter((c) => !c.ok).map((c) => `${c.name}: ${c.sha256.startsWith("error") ? c.sha256 : `nmse ${c.nmse} > ${c.bound}`}`);
}

function runJson(cmd: string, args: string[], what: string): ConformanceReport {
  const p = spawnSync(cmd, args, { cwd: here, encoding: "utf8", timeout: 300_000, maxBuffer: 64 << 20 });
  if (p.status !== 0) throw new Error(`${what} exited with ${p.status}: ${p.stderr || p.error}`);
  return JSON.parse(p.stdout.trim().split("\n").pop() ?? "");
}

beforeAll(() => {
  if (!existsSync(join(here, "dist", "harness.js")) || !existsSync(join(here, "dist", "worker.js"))) {
    throw new Error("test/dist is missing: run `pnpm build` first");
  }
  mkdirSync(out, { recursive: true });
  // the baseline, written before any other host runs (workerd's test imports it)
  save("node", runJson(process.execPath, ["node-run.mjs", "baseline"], "node"));
});

afterAll(() => {
  const summary = Object.fromEntries(Object.entries(reports).map(([k, r]) => [k, { host: r.host, simd: r.simd, ok: r.ok, cases: r.cases.length, ms: r.ms }]));
  if (existsSync(out)) writeFileSync(join(out, "summary.json"), JSON.stringify(summary, null, 1));
});

describe("conformance across hosts", () => {
  it("node: every case within bounds of the reference", () => {
    expect(failures(reports.node)).toEqual([]);
    expect(reports.node.cases.length).toBeGreaterThan(40);
  });

  it("node with relaxed SIMD (--experimental-wasm-relaxed-simd): within bounds", () => {
    const r = save("node-relaxed", runJson(process.execPath, ["--experimental-wasm-relaxed-simd", "node-run.mjs", "relaxed"], "node relaxed"));
    expect(r.simd).toBe("relaxed");
    expect(failures(r)).toEqual([]);
  });

  it("deno: within bounds and byte-identical to node", () => {
    if (!existsSync(DENO)) throw new Error(`deno binary missing at ${DENO}: run pnpm install`);
    const r = save("deno", runJson(DENO, ["run", "--allow-read", "--allow-env", "deno/run.js", "baseline"], "deno"));
    expect(failures(r)).toEqual([]);
    expect(compareReports(reports.node, r)).toEqual([]);
    const rr = save("deno-relaxed", runJson(DENO, ["run", "--allow-read", "--allow-env", "deno/run.js", "relaxed"], "deno relaxed"));
    expect(rr.simd).toBe("relaxed");
    expect(failures(rr)).toEqual([]);
  });

  it("chromium: within bounds and byte-identical to node", async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium (or set EDGESPEC_CHROMIUM)`);
    const server = await serve(root, ["test/browser", "test/dist", "packages/runtime/dist", "packages/runtime/kernels"]);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      for (const simd of ["baseline", "relaxed"] as const) {
        await page.goto(`${server.url}/test/browser/index.html?simd=${simd}`);
        await page.waitForFunction(() => (window as unknown as { __report?: unknown }).__report !== undefined, undefined, { timeout: 120_000 });
        const r = await page.evaluate(() => (window as unknown as { __report: ConformanceReport & { error?: string } }).__report);
        if ((r as { error?: string }).error) throw new Error(`chromium: ${(r as { error?: string }).error}`);
        save(simd === "baseline" ? "chromium" : "chromium-relaxed", r);
        expect(failures(r)).toEqual([]);
        if (simd === "baseline") expect(compareReports(reports.node, r)).toEqual([]);
        else expect(r.simd).toBe("relaxed");
      }
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      await server.close();
    }
  });

  it("workerd: within bounds and byte-identical to node (vitest-pool-workers)", () => {
    const vitest = join(here, "node_modules", "vitest", "vitest.mjs");
    const bin = existsSync(vitest) ? vitest : join(root, "node_modules", "vitest", "vitest.mjs");
    const p = spawnSync(process.execPath, [bin, "run", "--config", "vitest.workers.config.ts"], { cwd: here, encoding: "utf8", timeout: 300_000 });
    if (p.status !== 0) throw new Error(`workerd conformance failed:\n${p.stdout}\n${p.stderr}`);
    // the conformance bytes, no run-time wasm compilation, and the WebGPU fallback (webgpu-fallback.test.ts)
    expect(p.stdout).toMatch(/(^|\D)3 passed/);
  });
});
