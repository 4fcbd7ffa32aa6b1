/**
 * Constrained generation: token masks from a regex or a JSON Schema (a byte automaton walked
 * over the vocabulary trie, masks cached per state) and Adaptive Weighted Rejection Sampling,
 * which checks sampled tokens only and returns SMC importance weights.
 */
export { type ConstraintOptions, type ConstraintState, TokenConstraint } from "./constraint";
export { ByteDfa, compileRegex } from "./dfa";
export { type JsonSchemaOptions, jsonSchemaToRegex } from "./json-schema";
export { parseRegex, type RegexNode } from "./regex";
export { type AwrsOptions, awrsSample, type ConstrainedDraw, maskedSample } from "./sample";
export { Vocabulary } from "./vocabulary";
