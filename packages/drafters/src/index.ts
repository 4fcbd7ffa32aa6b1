export { AdedDrafter, type AdedOptions } from "./aded";
export {
  type DraftLanguageModel,
  DraftModelBase,
  DraftModelDrafter,
  type DraftModelDrafterOptions,
  type DraftModelOptions,
  DraftRunner,
  type EarlyExitOptions,
  earlyExitDrafter,
} from "./draft-model";
export { DySpecDrafter, type DySpecOptions } from "./dyspec";
export { createDrafter, DRAFTER_SPECS, DRAFTER_SYNTAX, type DrafterTarget } from "./factory";
export { PromptLookupDrafter, type PromptLookupOptions } from "./lookup";
export { type NgramKey, NgramTable, ngramKey } from "./ngram-table";
export { perturbedChildren, RsdDrafter, type RsdMethod, type RsdOptions } from "./rsd";
export { gumbelTopK, StandDrafter, type StandOptions } from "./stand";
export { TokenRecyclingDrafter, type TokenRecyclingOptions } from "./token-recycling";
export { softmaxTopK, topKRow, topKShares } from "./topk";
export { emptyTree, TreeBuilder } from "./tree-builder";
export {
  buildTemplate,
  compileTemplate,
  DEFAULT_RANK_PRIOR,
  priorityOrder,
  priorScores,
  rankPrior,
  type TemplatePath,
  TOKEN_RECYCLING_TREE,
  type TreeTemplate,
} from "./tree-template";
export { draftTreeProblem } from "./validate";
export { type TopTokensOptions, topTokensByFrequency, type VocabTrimOptions, vocabCoverage, vocabTrimDrafter } from "./vocab-trim";
