/**
 * The TypeScript fixture generator against the numpy one (tools/reference/fixtures.py): per-tensor
 * checksums and the sha256 of the checkpoint files, as recorded in the goldens by
 * tools/reference/llama_ref.py.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fixtureSpecs, fixtureTensors, writeFixture } from "./fixtures/generate";

interface Checksum {
  dtype: string;
  shape: number[];
  sum: number;
  first4: number[];
}

const golden = (name: string) => JSON.parse(readFileSync(new URL(`./golden/${name}.json`, import.meta.url), "utf8"));

describe("random-weight fixtures: TypeScript generator == numpy generator", () => {
  const specs = fixtureSpecs().filter((s) => s.golden);

  it("every golden fixture has its golden file", () => {
    expect(specs.map((s) => s.name).sort()).toEqual(["llama-gqa3", "llama2-mha", "llama3-gqa8", "mistral-gqa2", "qwen2-bias"]);
    for (const s of specs) expect(existsSync(new URL(`./golden/${s.name}.json`, import.meta.url))).toBe(true);
  });

  for (const spec of specs) {
    it(`${spec.name}: per-tensor checksums`, () => {
      const want: Record<string, Checksum> = golden(spec.name).weights;
      const got = fixtureTensors(spec.name);
      expect([...got.keys()]).toEqual(Object.keys(want));
      for (const [name, t] of got) {
        const w = want[name];
        expect(w.dtype, name).toBe(spec.dtype);
        expect(t.shape, name).toEqual(w.shape);
        let sum = 0;
        for (let i = 0; i < t.data.length; i++) sum += t.data[i]; // sequential float64, as recorded
        expect(sum, name).toBe(w.sum);
        expect(Array.from(t.data.subarray(0, 4)), name).toEqual(w.first4);
      }
    });

    it(`${spec.name}: checkpoint files byte-identical to the numpy writer's`, async () => {
      const want: Record<string, string> = golden(spec.name).checkpoint_sha256;
      const dir = mkdtempSync(join(tmpdir(), `edgespec-${spec.name}-`));
      try {
        await writeFixture(spec.name, dir);
        const files = readdirSync(dir).sort();
        const st = files.filter((f) => f.endsWith(".safetensors"));
        expect(st).toEqual(Object.keys(want).sort());
        const sha256 = (f: string) =>
          createHash("sha256")
            .update(readFileSync(join(dir, f)))
            .digest("hex");
        for (const f of st) expect(sha256(f), f).toBe(want[f]);
        expect(JSON.parse(readFileSync(join(dir, "config.json"), "utf8"))).toEqual(spec.config);
        const gen = JSON.parse(readFileSync(join(dir, "generation_config.json"), "utf8"));
        expect(gen).toEqual({ bos_token_id: spec.config.bos_token_id, eos_token_id: spec.config.eos_token_id });
        if (spec.shards > 1) {
          const index = JSON.parse(readFileSync(join(dir, "model.safetensors.index.json"), "utf8"));
          expect(Object.keys(index.weight_map)).toEqual([...fixtureTensors(spec.name).keys()]);
          expect(new Set(Object.values(index.weight_map))).toEqual(new Set(st));
          expect(st.length).toBe(spec.shards);
        } else {
          expect(files).toEqual(["config.json", "generation_config.json", "model.safetensors"]);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
