import { type LoadedModel, loadCausalLM } from "@edgespec/models";
import { resolveModelSource } from "@edgespec/models/node";
import { sharedDir } from "../../models/test/shared";

export { repoRoot, sharedDir } from "../../models/test/shared";

/** TinyStories-656K (HF folder, 2048-token SPM-style BPE vocabulary), the default model. */
export async function loadTinyStories(): Promise<LoadedModel> {
  return loadCausalLM(await resolveModelSource(sharedDir("models", "tinystories-656k")));
}
