/** sha256 helpers that run on every host (WebCrypto), for verifying whole files held in memory. */
import { IntegrityError, ModelSourceError } from "./errors";

export function normalizeSha256(hex: string): string {
  const lower = hex.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(lower)) throw new ModelSourceError(`invalid sha256 ${JSON.stringify(hex)}: expected 64 hex digits`);
  return lower;
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) throw new ModelSourceError("sha256 verification needs WebCrypto (crypto.subtle), which this host does not provide");
  const digest = new Uint8Array(await subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function sha256MismatchError(url: string, expected: string, actual: string): IntegrityError {
  return new IntegrityError(`sha256 mismatch for ${url}: expected ${expected}, got ${actual}; the download was discarded`);
}
