/**
 * `edgespec convert` as users run it: the built CLI as a child process, a Hugging Face folder
 * in, a GGUF file out that `edgespec generate` runs like the folder itself.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixturesRoot } from "../../../packages/models/test/http-server";
import { cli } from "./run-cli";

const TINY = join(fixturesRoot(), "models/tinystories-656k");

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "edgespec-cli-convert-"));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("edgespec convert", () => {
  it("writes a GGUF (progress on stderr) that generate runs with the folder's greedy text", async () => {
    const out = join(tmp, "tiny.q8_0.gguf");
    const r = await cli(["convert", TINY, "--to", "gguf", "--dtype", "q8_0", "-o", out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^wrote .*tiny\.q8_0\.gguf: llama GGUF, q8_0, 20 tensors, 0\.7 MB/);
    expect(r.stderr).toMatch(/converting to .*tiny\.q8_0\.gguf: 20\/20 tensors, 100%/);
    expect(readFileSync(out).subarray(0, 4).toString()).toBe("GGUF");
    const prompt = ["--prompt", "Once upon a time", "--max-tokens", "24"];
    const fromGguf = await cli(["generate", "--model", out, ...prompt]);
    const fromFolder = await cli(["generate", "--model", TINY, "--dtype", "q8_0", ...prompt]);
    expect(fromGguf.code, fromGguf.stderr).toBe(0);
    expect(fromGguf.stdout.length).toBeGreaterThan(20);
    expect(fromGguf.stdout).toBe(fromFolder.stdout);
  });

  it("--json prints a summary; an existing output needs --force; an input is never overwritten", async () => {
    const out = join(tmp, "tiny.f16.gguf");
    const first = await cli(["convert", TINY, "--dtype", "f16", "-o", out, "--json"]);
    expect(first.code, first.stderr).toBe(0);
    const summary = JSON.parse(first.stdout);
    expect(summary).toMatchObject({ out, dtype: "f16", architecture: "llama", tensors: 20 });
    expect(summary.bytes).toBe(readFileSync(out).length);

    const again = await cli(["convert", TINY, "--dtype", "f16", "-o", out]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/tiny\.f16\.gguf exists; pass --force to replace it/);
    expect((await cli(["convert", TINY, "--dtype", "q4_0", "-o", out, "--force"])).code).toBe(0);
    expect(readFileSync(out).length).toBeLessThan(summary.bytes);

    // a GGUF read for its vocabulary is an input too
    const before = readFileSync(out);
    const self = await cli(["convert", TINY, "--dtype", "f32", "--vocab", out, "-o", out, "--force"]);
    expect(self.code).toBe(1);
    expect(self.stderr).toMatch(/is an input of this conversion/);
    expect(readFileSync(out).equals(before)).toBe(true);
    expect(readdirSync(tmp).filter((f) => f.includes(".partial-"))).toEqual([]);
  });

  it("bad command lines exit 2 with the usage; bad inputs exit 1 naming the path", async () => {
    for (const args of [
      ["convert"],
      ["convert", TINY, "-o", join(tmp, "a.gguf")],
      ["convert", TINY, "--dtype", "q5_k", "-o", join(tmp, "a.gguf")],
      ["convert", TINY, "--to", "onnx", "--dtype", "f32", "-o", join(tmp, "a.gguf")],
      ["convert", TINY, "--dtype", "f32"],
      ["convert", TINY, "--dtype", "f32", "-o", join(tmp, "a.bin")],
      ["convert", TINY, "--dtype", "f32", "-o", join(tmp, "a.gguf"), "--bogus"],
    ]) {
      const r = await cli(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/usage:/);
    }
    const missing = await cli(["convert", join(tmp, "nowhere"), "--dtype", "f32", "-o", join(tmp, "a.gguf")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nowhere does not exist/);
    const file = await cli(["convert", join(TINY, "config.json"), "--dtype", "f32", "-o", join(tmp, "a.gguf")]);
    expect(file.code).toBe(1);
    expect(file.stderr).toMatch(/config\.json is not a folder/);
    const broken = join(tmp, "broken");
    rmSync(broken, { recursive: true, force: true });
    mkdirSync(broken);
    writeFileSync(join(broken, "config.json"), "{ not json");
    const bad = await cli(["convert", broken, "--dtype", "f32", "-o", join(tmp, "b.gguf")]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/config\.json: is not valid JSON/);
    expect(bad.stderr).not.toMatch(/internal error/);
    expect(readdirSync(tmp).filter((f) => f === "a.gguf" || f === "b.gguf")).toEqual([]);
  });
});
