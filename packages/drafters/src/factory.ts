/**
 * Drafters by name, as the CLI and the benchmark spell them:
 *
 *   none | lookup | recycling | aded | stand | early-exit:N | model:PATH
 *   | rsd[:DRAFT] | dyspec[:DRAFT]        DRAFT = early-exit:N (default early-exit:1) | model:PATH
 *
 * A draft model named by PATH is loaded through `target.loadModel` (hosts differ in how
 * they read files); it must share the target's tokenizer.
 */
import { DecodingOptionsError, type Drafter } from "@edgespec/decoding";
import type { LlamaModel, Tokenizer } from "@edgespec/models";
import { AdedDrafter } from "./aded";
import { type DraftLanguageModel, DraftModelDrafter, earlyExitDrafter } from "./draft-model";
import { DySpecDrafter } from "./dyspec";
import { PromptLookupDrafter } from "./lookup";
import { RsdDrafter } from "./rsd";
import { StandDrafter } from "./stand";
import { TokenRecyclingDrafter } from "./token-recycling";

export interface DrafterTarget {
  model: LlamaModel;
  tokenizer?: Tokenizer;
  /** loads the draft model of "model:PATH" */
  loadModel?: (path: string) => Promise<LlamaModel>;
}

/** The drafters the benchmark runs by default (draft models from files are added per model). */
export const DRAFTER_SPECS: readonly string[] = ["lookup", "recycling", "aded", "stand", "early-exit:1", "rsd", "dyspec"];

export const DRAFTER_SYNTAX = "none|lookup|recycling|aded|stand|early-exit:N|model:PATH|rsd[:DRAFT]|dyspec[:DRAFT]";

export async function createDrafter(spec: string, target: DrafterTarget): Promise<Drafter | null> {
  const vocabSize = target.model.config.vocabSize;
  const [kind, ...rest] = spec.split(":");
  const arg = rest.join(":");
  const bad = (why: string): never => {
    throw new DecodingOptionsError(`--drafter ${JSON.stringify(spec)}: ${why} (expected ${DRAFTER_SYNTAX})`);
  };
  switch (kind) {
    case "none":
      return null;
    case "lookup":
      return new PromptLookupDrafter({ vocabSize });
    case "recycling":
      return new TokenRecyclingDrafter({ vocabSize });
    case "aded":
      return new AdedDrafter({ vocabSize });
    case "stand":
      return new StandDrafter({ vocabSize });
    case "early-exit":
      return earlyExitDrafter(target.model, layersOf(arg, bad));
    case "model": {
      const model = await loadDraft(arg, target, bad);
      return new DraftModelDrafter({ model, targetVocabSize: vocabSize, ownsModel: true, name: `model:${arg}` });
    }
    case "rsd":
    case "dyspec": {
      const draft = arg || "early-exit:1";
      const [dk, ...dr] = draft.split(":");
      const da = dr.join(":");
      let model: DraftLanguageModel;
      if (dk === "early-exit") model = target.model.derive({ layers: layersOf(da, bad) });
      else if (dk === "model") model = await loadDraft(da, target, bad);
      else return bad(`the draft model of ${kind} is early-exit:N or model:PATH`);
      const name = `${kind}:${draft}`;
      try {
        return kind === "rsd"
          ? new RsdDrafter({ model, targetVocabSize: vocabSize, ownsModel: true, name })
          : new DySpecDrafter({ model, targetVocabSize: vocabSize, ownsModel: true, name });
      } catch (e) {
        (model as LlamaModel).free?.();
        throw e;
      }
    }
    default:
      return bad(`unknown drafter ${JSON.stringify(kind)}`);
  }
}

function layersOf(arg: string, bad: (why: string) => never): number {
  const n = Number(arg);
  if (!arg || !Number.isInteger(n) || n < 1) bad("early-exit needs a layer count, e.g. early-exit:1");
  return n;
}

async function loadDraft(path: string, target: DrafterTarget, bad: (why: string) => never): Promise<LlamaModel> {
  if (!path) bad("model needs a path, e.g. model:./draft");
  if (!target.loadModel) bad("this host cannot load a draft model from a path");
  return (target.loadModel as (p: string) => Promise<LlamaModel>)(path);
}
