import { EdgespecError } from "@edgespec/runtime";

/**
 * A model file is malformed or inconsistent: truncated, a header field out of range, an
 * unknown dtype, bytes that do not match a shape, a tensor missing. The message always
 * names the file, and the tensor when one is involved.
 */
export class ModelFormatError extends EdgespecError {
  constructor(
    readonly file: string,
    message: string,
    readonly tensor?: string,
  ) {
    super(`${file}${tensor !== undefined ? `: tensor "${tensor}"` : ""}: ${message}`);
  }
}

/** A config asks for something we do not implement (architecture, activation, rope type...). */
export class UnsupportedModelError extends EdgespecError {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
  }
}

/** Text could not be tokenized or ids could not be decoded. */
export class TokenizerError extends EdgespecError {}
