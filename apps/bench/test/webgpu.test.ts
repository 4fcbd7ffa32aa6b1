/**
 * `bench webgpu` end to end on a CPU adapter: Dawn (the `webgpu` package) on SwiftShader
 * (Chromium's Vulkan ICD), at the TinyStories-656K shape so it ends quickly. The JSON must
 * carry the adapter, positive rates on both backends with their ratios, and a passing
 * greedy check (WebGPU tokens = wasm tokens = the reference's). The bench runs in a child
 * process: Dawn's device threads stay out of the test runner.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import type { WebgpuBenchResult } from "../src/webgpu";

const here = dirname(fileURLToPath(import.meta.url));
const SWIFTSHADER_ICD = "/usr/lib/chromium/vk_swiftshader_icd.json";

it("bench webgpu on SwiftShader: rates for both backends, greedy tokens equal", () => {
  if (!existsSync(SWIFTSHADER_ICD))
    throw new Error(`no Vulkan driver for the WebGPU bench: ${SWIFTSHADER_ICD} is missing (apt-get install chromium libvulkan1)`);
  const entry = join(here, "..", "dist", "webgpu.js");
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run pnpm build`);
  const script = `import { benchWebgpu } from ${JSON.stringify(entry)}; process.exit(await benchWebgpu(process.argv.slice(1)));`;
  const args = ["--shape", "tinystories-656k", "--dtype", "q4_0", "--rounds", "1", "--decode-tokens", "4", "--prefill-tokens", "8", "--json"];
  const p = spawnSync(process.execPath, ["--input-type=module", "-e", script, "--", ...args], {
    encoding: "utf8",
    timeout: 280_000,
    env: { ...process.env, VK_ICD_FILENAMES: SWIFTSHADER_ICD },
  });
  if (p.status !== 0) throw new Error(`bench webgpu exited with ${p.status ?? p.signal}:\n${p.stderr}\n${p.stdout}`);
  const r = JSON.parse(p.stdout.trim().split("\n").pop() ?? "") as WebgpuBenchResult;
  expect(r.adapter.description).toMatch(/swiftshader/i);
  expect(r.adapter.isFallbackAdapter).toBe(true);
  expect(r.results).toHaveLength(1);
  const [q4] = r.results;
  expect(q4.dtype).toBe("q4_0");
  for (const be of [q4.wasm, q4.webgpu]) {
    expect(be.decode_tok_s).toBeGreaterThan(0);
    expect(be.prefill_tok_s).toBeGreaterThan(0);
    expect(be.decode_runs).toHaveLength(1);
  }
  expect(q4.decode_ratio).toBeCloseTo(q4.webgpu.decode_tok_s / q4.wasm.decode_tok_s, 2);
  expect(r.greedy?.runs.map((g) => [g.name, g.equal, g.golden_equal])).toEqual([
    ["BOS", true, true],
    ['"Once upon a time"', true, true],
  ]);
  expect(r.greedy?.runs[0].webgpu).toHaveLength(64);
  expect(r.ok).toBe(true);
});
