import { EdgespecError } from "@edgespec/runtime";

/** Options that contradict each other or are out of range; thrown before any decoding starts. */
export class DecodingOptionsError extends EdgespecError {}

/** A regex or JSON Schema that cannot be compiled, or that no text (or no token sequence) can satisfy. */
export class ConstraintError extends EdgespecError {}
