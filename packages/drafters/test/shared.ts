/** Copied from packages/decoding/test/shared.ts: the shared fixtures and the TinyStories loader. */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type LoadedModel, loadCausalLM } from "@edgespec/models";
import { resolveModelSource } from "@edgespec/models/node";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** ../shared (or $EDGESPEC_FIXTURES); a missing folder is an error, never a skip. */
export function sharedDir(...parts: string[]): string {
  const root = process.env.EDGESPEC_FIXTURES ?? resolve(repoRoot, "../shared");
  const p = join(root, ...parts);
  if (!existsSync(p)) throw new Error(`fixture ${p} is missing: these tests need the shared model files (set EDGESPEC_FIXTURES or put them at ../shared)`);
  return p;
}

/** TinyStories-656K (HF folder, 2048-token SPM-style BPE vocabulary), the default model. */
export async function loadTinyStories(): Promise<LoadedModel> {
  return loadCausalLM(await resolveModelSource(sharedDir("models", "tinystories-656k")));
}
