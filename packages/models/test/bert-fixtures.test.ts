/**
 * The TypeScript BERT checkpoint generator (test/fixtures/bert.ts) must write exactly the
 * weights bert_ref.py computed its goldens on: test/fixtures/bert.check.ts compares every
 * tensor's checksum and the safetensors sha256 recorded in the goldens, and exits non-zero
 * on any difference.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { expect, it } from "vitest";
import { repoRoot } from "./shared";

it("the TS BERT generator reproduces bert_ref.py's weights bit for bit", () => {
  const tsx = join(repoRoot, "node_modules", ".bin", "tsx");
  const r = spawnSync(tsx, [join(__dirname, "fixtures", "bert.check.ts")], { encoding: "utf8", cwd: join(__dirname, "..") });
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  expect(r.stdout).toMatch(/ok\s+bert-mlm/);
  expect(r.stdout).not.toMatch(/FAIL/);
});
