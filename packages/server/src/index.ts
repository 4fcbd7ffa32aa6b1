/**
 * @edgespec/server: the OpenAI-compatible HTTP API as a portable fetch handler (Workers, Deno,
 * Node). `@edgespec/server/node` adds a Node http listener.
 */
export { completions } from "./completions";
export { errorResponse, HttpError } from "./errors";
export { createHandler, type Handler, type ServerOptions } from "./handler";
export { ConcurrencyGate, DEFAULT_LIMITS, type Limits, readJsonBody } from "./limits";
export { type IndexMemoryHolder, type MemoryEntry, type MemoryHolder, type MemoryPart, type MemoryReport, memoryReport, snapshot } from "./memory";
export { type ModelEntry, ModelRegistry, type ServedModel } from "./registry";
export { embeddings, type RetrievalOptions, type SearchCorpus, search } from "./retrieval";
export { type FieldSpec, type Schema, validate } from "./schema";
export { type DrafterChoice, defaultDraftBudget, FALLBACK_DRAFT_BUDGET, MAX_DRAFT_BUDGET, parseDrafter, SERVED_DRAFTERS } from "./speculative";
