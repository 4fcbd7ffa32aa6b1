/**
 * --backend on the built CLI: a bad name is a usage error; webgpu where Node has none (no
 * `webgpu` package, or no adapter) is a clear error naming why; auto falls back to wasm, says
 * why under --stats, and prints what wasm prints.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fixturesRoot } from "../../../packages/models/test/http-server";
import { cli } from "./run-cli";

const TINY = join(fixturesRoot(), "models/tinystories-656k");
const GENERATE = ["generate", "--model", TINY, "--prompt", "Once upon a time", "--max-tokens", "8"];
// the `webgpu` package is a devDependency here: Dawn must find no adapter, so the Vulkan loader is pointed at no driver
const NO_GPU = { VK_ICD_FILENAMES: "/nonexistent/icd.json" };

describe("edgespec --backend", () => {
  it("rejects a name it does not know, for generate and chat", async () => {
    const g = await cli([...GENERATE, "--backend", "bogus"]);
    expect(g.code).toBe(2);
    expect(g.stderr).toMatch(/^edgespec: --backend must be one of auto, wasm, webgpu, got "bogus"/);
    const c = await cli(["chat", "--model", TINY, "--backend", "cuda"], {}, "hi\n");
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/^edgespec: --backend must be one of auto, wasm, webgpu, got "cuda"/);
  });

  it("webgpu without a GPU fails with the reason, before loading", async () => {
    const r = await cli([...GENERATE, "--backend", "webgpu"], NO_GPU);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    // no `webgpu` package: how to install it; with it (this workspace): why there is no adapter
    // (Dawn, where installed, prints its own Vulkan loader warnings first: m)
    expect(r.stderr).toMatch(/^edgespec: (--backend webgpu: Node has no WebGPU of its own .*npm install webgpu|.*adapter)/m);
    expect(r.stderr).not.toMatch(/internal error|at \S+:\d+/);
  });

  it("auto falls back to wasm, says why with --stats, and prints the same text as wasm", async () => {
    const plain = await cli(GENERATE);
    expect(plain.code).toBe(0);
    const auto = await cli([...GENERATE, "--backend", "auto", "--stats"], NO_GPU);
    expect(auto.code).toBe(0);
    expect(auto.stdout).toBe(plain.stdout);
    expect(auto.stderr).toMatch(/^\[backend wasm: (no WebGPU here|WebGPU is unavailable: )/m);
  });

  it("--json reports the backend and why when --backend is given", async () => {
    const r = await cli([...GENERATE, "--backend", "wasm", "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.stats.backend).toEqual({ name: "wasm", reason: "asked for" });
    expect(out.tokens).toEqual([313, 598, 303, 1049, 1468, 267, 628, 333]);
  });

  it("webgpu on a software adapter (SwiftShader) gives wasm's greedy tokens and says which adapter ran", async () => {
    const icd = "/usr/lib/chromium/vk_swiftshader_icd.json";
    const r = await cli([...GENERATE, "--backend", "webgpu", "--json"], { VK_ICD_FILENAMES: icd });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.stats.backend).toEqual({ name: "webgpu", reason: expect.stringMatching(/SwiftShader/) });
    expect(out.tokens).toEqual([313, 598, 303, 1049, 1468, 267, 628, 333]);
  });
});
