/** Validation of file names inside a source; they become URL paths and cache paths, so they must not escape the root. */
import { ModelSourceError } from "./errors";

/** Throws unless `file` is a plain relative path with "/" separators and no "." or ".." segments. */
export function assertRelativeFile(file: string): void {
  const bad =
    file.length === 0 ||
    file.startsWith("/") ||
    file.includes("\\") ||
    file.includes("\0") ||
    /^[A-Za-z]:/.test(file) ||
    file.split("/").some((segment) => segment === "" || segment === "." || segment === "..");
  if (bad) throw new ModelSourceError(`invalid file name ${JSON.stringify(file)}: expected a relative path like "config.json" or "onnx/model.onnx"`);
}

/** Percent-encodes each segment of a relative file path for use in a URL, keeping the "/" separators. */
export function encodeFilePath(file: string): string {
  return file.split("/").map(encodeURIComponent).join("/");
}
