/** Errors of model sources; all extend the runtime's EdgespecError so one catch covers the library. */
import { EdgespecError } from "@edgespec/runtime";

/** A model reference could not be resolved or a file could not be fetched. */
export class ModelSourceError extends EdgespecError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message);
    if (options && "cause" in options) this.cause = options.cause;
  }
}

/** The file or repo does not exist (HTTP 404 or a missing local file). */
export class ModelNotFoundError extends ModelSourceError {}

/** The server refused access (HTTP 401/403): a gated or private repo, or a missing/invalid token. */
export class ModelAccessError extends ModelSourceError {}

/** Bytes do not match the expected size or sha256. A download that fails this check is discarded. */
export class IntegrityError extends ModelSourceError {}
