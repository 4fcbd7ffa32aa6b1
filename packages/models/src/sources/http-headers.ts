/** Reading and writing the HTTP headers that downloads depend on. */

import { normalizeSha256 } from "./digest";
import { readEnv } from "./env";

/** Authorization for the hub: the explicit token, else env HF_TOKEN. Never sent to other hosts. */
export function hubAuthHeaders(token: string | undefined): Record<string, string> {
  const value = token ?? readEnv("HF_TOKEN");
  return value ? { authorization: `Bearer ${value}` } : {};
}

/**
 * The sha256 a server vouches for. The hub puts an LFS file's sha256 in X-Linked-Etag (on the
 * redirect) and often in ETag; other servers' ETags are opaque, so only a 64-hex value counts.
 */
export function sha256FromEtag(etag: string | null | undefined): string | undefined {
  if (!etag) return undefined;
  const bare = etag.replace(/^W\//, "").replace(/^"|"$/g, "");
  return /^[0-9a-fA-F]{64}$/.test(bare) ? normalizeSha256(bare) : undefined;
}

/**
 * The sha256 a response's headers vouch for. A plain ETag only counts when the answer came from
 * the origin that was asked: a CDN's 64-hex ETag may be some other hash (Xet content ids are).
 */
export function sha256FromHeaders(headers: Headers, crossOrigin = false): string | undefined {
  return sha256FromEtag(headers.get("x-linked-etag")) ?? (crossOrigin ? undefined : sha256FromEtag(headers.get("etag")));
}

function parseSize(value: string | null): number | undefined {
  if (value === null || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value.trim());
}

/** Body length in bytes, or undefined when unknown or when a content encoding makes the header count compressed bytes. */
export function bodyLength(headers: Headers): number | undefined {
  const encoding = headers.get("content-encoding");
  if (encoding && encoding.toLowerCase() !== "identity") return undefined;
  return parseSize(headers.get("content-length"));
}

export function linkedSize(headers: Headers): number | undefined {
  return parseSize(headers.get("x-linked-size"));
}

export interface ContentRange {
  /** Undefined for the "bytes *\/total" form a 416 carries. */
  start: number | undefined;
  end: number | undefined;
  total: number | undefined;
}

/** Parses "bytes start-end/total", "bytes start-end/*" and "bytes *\/total". */
export function parseContentRange(value: string | null): ContentRange | undefined {
  const m = value ? /^bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)$/i.exec(value.trim()) : null;
  if (!m) return undefined;
  const num = (s: string | undefined) => (s === undefined || s === "*" ? undefined : Number(s));
  return { start: num(m[1]), end: num(m[2]), total: num(m[3]) };
}
