/**
 * Errors of the indexes beyond the runtime's (ShapeError, OutOfRangeError, NonFiniteError).
 */
import { EdgespecError } from "@edgespec/runtime";

export type IndexFormatProblem = "magic" | "kind" | "version" | "truncated" | "trailing" | "checksum" | "layout";

/** A saved index could not be read: `problem` says what is wrong, `section` where. */
export class IndexFormatError extends EdgespecError {
  constructor(
    readonly problem: IndexFormatProblem,
    message: string,
    readonly section?: string,
  ) {
    super(message);
  }
}

/** A document id that is already in the index was added again. */
export class DuplicateDocumentError extends EdgespecError {
  constructor(readonly docId: number) {
    super(`document ${docId} is already in the index (delete it first to replace it)`);
  }
}
