/**
 * @edgespec/decoding: turn a model into text. Streaming generate() with composable logits
 * processors and a seeded generator; beam, diverse beam, momentum and first-finish search;
 * exact span extraction; steering vectors; regex / JSON-Schema constraints with full masks
 * or Adaptive Weighted Rejection Sampling.
 */
export { type BeamHypothesis, type BeamSearchOptions, type BeamSearchResult, beamSearch } from "./beam";
export {
  type AwrsOptions,
  awrsSample,
  ByteDfa,
  type ConstrainedDraw,
  type ConstraintOptions,
  type ConstraintState,
  compileRegex,
  type JsonSchemaOptions,
  jsonSchemaToRegex,
  maskedSample,
  parseRegex,
  type RegexNode,
  TokenConstraint,
  Vocabulary,
} from "./constrained/index";
export { ConstraintError, DecodingOptionsError } from "./errors";
export { type ExactExtractOptions, type ExtractedSpan, exactExtract, exactExtractText } from "./exact-extract";
export { type FirstFinishOptions, type FirstFinishResult, type FirstFinishSample, firstFinishSearch, sampleRng } from "./first-finish";
export {
  type FinishReason,
  type GeneratedToken,
  type GenerateOptions,
  type GenerateResult,
  type GenerateStats,
  Generation,
  generate,
} from "./generate";
export {
  type BatchedCausalLM,
  type CausalLM,
  canVerifyTrees,
  type ForwardOutput,
  type Forwards,
  forwardsOf,
  isBatched,
  type ModelSequence,
  requireSyncRead,
  type TreeVerifyingLM,
} from "./model";
export {
  type MomentumCandidate,
  type MomentumFinishReason,
  type MomentumOptions,
  type MomentumResult,
  momentumCandidates,
  momentumDecode,
  PAPER_RESISTANCE,
} from "./momentum";
export * from "./processors";
export { encodePrompt, type PromptInput } from "./prompt";
export { type Rng, seededRng } from "./rng";
export { argmax, gumbelSample, keyedUniform, logSoftmax, logSumExp, sampleLogits, sampleProbs, softmax } from "./sampling";
export { acceptChild } from "./speculative/acceptance";
export { budgetFromCurve, type CostPoint, draftBudget, verifyCostCurve, verifyCostCurveAsync } from "./speculative/budget";
export type { DraftContext, Drafter, DraftMode, DraftTree, VerifiedStep } from "./speculative/drafter";
export { type Produced, SpeculativeEngine, type SpeculativeStats, type StepStats } from "./speculative/engine";
export { optimalSteeringStrength, steeringProcessor, steeringVectorFromDistributions } from "./steering";
export { StopStrings } from "./stop-strings";
export { topIndices } from "./top-candidates";
