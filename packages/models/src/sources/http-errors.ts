/** Turns failed HTTP responses into errors that tell the user what to do next. */
import { ModelAccessError, ModelNotFoundError, ModelSourceError } from "./errors";

export interface HttpErrorContext {
  /** The request went to the Hugging Face hub, so gated/private repos and HF_TOKEN are the likely story. */
  hub: boolean;
  /** Extra sentence for 404s, e.g. why the reference was taken as a repo id. */
  notFoundHint?: string;
}

export function httpStatusError(status: number, statusText: string, url: string, context: HttpErrorContext): ModelSourceError {
  if (status === 404) return new ModelNotFoundError(`not found: ${url}` + (context.notFoundHint ? ` (${context.notFoundHint})` : ""));
  if (status === 401 || status === 403) {
    const advice = context.hub
      ? "the repo may be gated or private: accept its terms on the hub and set HF_TOKEN to an access token that can read it"
      : "the server refused access (HF_TOKEN is only sent to the Hugging Face endpoint)";
    return new ModelAccessError(`access denied (HTTP ${status}): ${url}; ${advice}`);
  }
  return new ModelSourceError(`HTTP ${status}${statusText ? ` ${statusText}` : ""}: ${url}`);
}

/** Server-side and rate-limit failures are worth retrying; client errors are not. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}
